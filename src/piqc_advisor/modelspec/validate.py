"""Validate ModelSpec documents: schema errors and semantic checks as findings with outcomes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from piqc_advisor import __version__
from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.facts.store import problem_json
from piqc_advisor.findings import SEVERITY_ORDER, Finding, RuleOutcome
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.modelspec.checks import CHECKS, SpecContext, repository_root
from piqc_advisor.modelspec.collect import SpecDocument, SpecInputs
from piqc_advisor.modelspec.schema import schema_errors
from piqc_advisor.rules.api import NotApplicable, Unknown, Violation

SCHEMA_CHECK = "modelspec-schema"
SCHEMA_ITEM = "REL-008"
SCHEMA_SEVERITY = "high"
"""A spec that breaks the schema is unusable, so its errors fail the default --fail-on."""


@dataclass(frozen=True)
class SpecReport:
    """Everything one `spec validate` run concluded."""

    inputs: tuple[str, ...]
    subjects: tuple[str, ...]
    findings: tuple[Finding, ...]
    outcomes: tuple[RuleOutcome, ...]
    problems: tuple[Problem, ...]
    fail_on: str = "high"

    @property
    def input_errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    def failing(self) -> tuple[Finding, ...]:
        limit = SEVERITY_ORDER.get(self.fail_on, 1)
        return tuple(f for f in self.findings if SEVERITY_ORDER.get(f.severity, 9) <= limit)

    def unknown(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome in ("unknown", "error"))

    def severity_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for finding in self.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "generator": f"piqc-advisor {__version__}",
            "inputs": list(self.inputs),
            "subjects": list(self.subjects),
            "summary": {
                "specs": len(self.subjects),
                "findings": len(self.findings),
                "by_severity": self.severity_counts(),
                "fail_on": self.fail_on,
                "failing": len(self.failing()),
                "unknown": len(self.unknown()),
                "problems": len(self.problems),
            },
            "findings": [f.to_json() for f in self.findings],
            "outcomes": [o.to_json() for o in self.outcomes],
            "problems": [problem_json(p) for p in self.problems],
        }


def _finding(
    catalog: Catalog,
    item_id: str,
    check: str,
    subject: str,
    violation: Violation,
    severity: str | None = None,
) -> Finding:
    item = catalog.items[item_id]
    return Finding(
        item=item_id,
        rule=check,
        subject=subject,
        message=violation.message,
        evidence=violation.evidence,
        severity=severity or item.severity,
        title=item.title,
        remediation=item.remediation,
        key=violation.key,
    )


def validate_document(
    document: SpecDocument, catalog: Catalog, context: SpecContext
) -> tuple[list[Finding], list[RuleOutcome]]:
    spec = document.spec
    subject = spec.subject
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    errors = schema_errors(document.document.data, spec.path, spec.document)
    for error in errors:
        violation = Violation(error.text, error.origin, f"{error.keyword}:{error.json_path}")
        findings.append(
            _finding(catalog, SCHEMA_ITEM, SCHEMA_CHECK, subject, violation, SCHEMA_SEVERITY)
        )
    outcomes.append(
        RuleOutcome(
            SCHEMA_CHECK,
            SCHEMA_ITEM,
            subject,
            "failed" if errors else "passed",
            f"{len(errors)} schema error(s)" if errors else None,
        )
    )
    for check in CHECKS:
        try:
            results = list(check.run(spec, context))
        except Exception as exc:
            reason = f"check crashed: {type(exc).__name__}: {exc}"
            outcomes.append(RuleOutcome(check.name, check.item, subject, "error", reason))
            continue
        violations = [r for r in results if isinstance(r, Violation)]
        unknown = [r for r in results if isinstance(r, Unknown)]
        not_applicable = [r for r in results if isinstance(r, NotApplicable)]
        findings.extend(_finding(catalog, check.item, check.name, subject, v) for v in violations)
        if violations:
            outcomes.append(RuleOutcome(check.name, check.item, subject, "failed"))
        elif unknown:
            outcomes.append(
                RuleOutcome(check.name, check.item, subject, "unknown", unknown[0].reason)
            )
        elif not_applicable:
            outcomes.append(
                RuleOutcome(
                    check.name, check.item, subject, "not_applicable", not_applicable[0].reason
                )
            )
        else:
            outcomes.append(RuleOutcome(check.name, check.item, subject, "passed"))
    return findings, outcomes


def validate_specs(
    specs: SpecInputs, catalog: Catalog, fail_on: str = "high", root: str | None = None
) -> SpecReport:
    """Validate every spec read; specRefs may not leave `root` (default: the repository root)."""
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    roots: dict[str, SpecContext] = {}
    for document in specs.documents:
        path = document.spec.path
        start = os.getcwd() if path == "<stdin>" else os.path.dirname(os.path.abspath(path))
        chosen = root or repository_root(start)
        context = roots.setdefault(chosen, SpecContext(chosen))
        more, results = validate_document(document, catalog, context)
        findings.extend(more)
        outcomes.extend(results)
    findings.sort(key=lambda f: (f.evidence.path, f.evidence.line, f.evidence.col, f.item, f.rule))
    return SpecReport(
        inputs=specs.inputs,
        subjects=tuple(d.spec.subject for d in specs.documents),
        findings=tuple(findings),
        outcomes=tuple(outcomes),
        problems=tuple(sorted(specs.problems, key=lambda p: (p.path, p.line or 0, p.col or 0))),
        fail_on=fail_on,
    )


def check_names() -> Sequence[tuple[str, str, str]]:
    """(check, item, summary) of every semantic check, the schema check first."""
    return [
        (SCHEMA_CHECK, SCHEMA_ITEM, "The document is valid against the ModelSpec schema."),
        *((c.name, c.item, c.summary) for c in CHECKS),
    ]
