"""Run the selected rules over every workload; a crashing rule becomes an `error` outcome."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from piqc_advisor.facts.workload import Workload
from piqc_advisor.findings import Finding, RuleOutcome
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.rules.api import NotApplicable, Rule, Unknown, Violation


@dataclass(frozen=True)
class RunResult:
    findings: tuple[Finding, ...]
    outcomes: tuple[RuleOutcome, ...]


def run_rules(
    rules: Sequence[Rule],
    workloads: Iterable[Workload],
    catalog: Catalog,
    params: Mapping[str, Any] | None = None,
    severities: Mapping[str, str] | None = None,
) -> RunResult:
    """Every rule on every workload: findings plus one outcome per (rule, subject)."""
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    params = params or {}
    severities = severities or {}
    for workload in workloads:
        for rule in rules:
            item = catalog.items[rule.item]
            try:
                results = list(rule.run(workload, params.get(rule.name)))
            except Exception as exc:  # a broken rule must not stop the run
                outcomes.append(
                    RuleOutcome(
                        rule.name, rule.item, workload.id, "error", f"{type(exc).__name__}: {exc}"
                    )
                )
                continue
            violations = [r for r in results if isinstance(r, Violation)]
            unknown = [r for r in results if isinstance(r, Unknown)]
            skipped = [r for r in results if isinstance(r, NotApplicable)]
            for violation in violations:
                findings.append(
                    Finding(
                        item=item.id,
                        rule=rule.name,
                        subject=workload.id,
                        message=violation.message,
                        evidence=violation.evidence,
                        severity=severities.get(item.id, item.severity),
                        title=item.title,
                        remediation=item.remediation,
                        key=violation.key,
                    )
                )
            if violations:
                outcomes.append(RuleOutcome(rule.name, rule.item, workload.id, "failed"))
            elif unknown:
                outcomes.append(
                    RuleOutcome(rule.name, rule.item, workload.id, "unknown", unknown[0].reason)
                )
            elif skipped:
                outcomes.append(
                    RuleOutcome(
                        rule.name, rule.item, workload.id, "not_applicable", skipped[0].reason
                    )
                )
            else:
                outcomes.append(RuleOutcome(rule.name, rule.item, workload.id, "passed"))
    findings.sort(key=Finding.sort_key)
    return RunResult(tuple(findings), tuple(outcomes))
