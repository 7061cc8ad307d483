"""Running servers in `check`: probe each URL, link it to a workload, report its diagnoses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.facts.origin import Origin
from piqc_advisor.facts.workload import Workload
from piqc_advisor.findings import Finding, OutcomeKind, RuleOutcome
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.runtime.analysis import ServerAnalysis, analyse
from piqc_advisor.runtime.drift import config_drift
from piqc_advisor.runtime.probe import FetchError, ProbeOptions, probe
from piqc_advisor.runtime.snapshot import Snapshot

_OUTCOMES: dict[str, OutcomeKind] = {
    "diagnosed": "failed",
    "passed": "passed",
    "unknown": "unknown",
    "not_applicable": "not_applicable",
    "error": "error",
}


@dataclass(frozen=True)
class RuntimeCheck:
    findings: tuple[Finding, ...] = ()
    outcomes: tuple[RuleOutcome, ...] = ()
    problems: tuple[Problem, ...] = ()
    links: dict[str, str] = field(default_factory=dict)


def served_names(workload: Workload) -> set[str]:
    """Model names a server of this workload would list in /v1/models."""
    names: set[str] = set()
    served = workload.serving.get("served_model_name")
    if served is not None:
        values = served.value if isinstance(served.value, list) else [served.value]
        names.update(str(v) for v in values)
    model = workload.serving.get("model")
    if model is not None and not names:
        names.add(str(model.value))
    return names


def link_server(snapshots: Sequence[Snapshot], workloads: Sequence[Workload]) -> str | None:
    """The workload whose served model names match what the server lists, when exactly one."""
    served = {m.id for s in snapshots for m in s.models}
    if not served:
        return None
    matches = [w.id for w in workloads if w.engine is not None and served_names(w) & served]
    return matches[0] if len(matches) == 1 else None


def to_report_parts(
    url: str, result: ServerAnalysis, subject: str, catalog: Catalog
) -> tuple[list[Finding], list[RuleOutcome]]:
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    evidence = Origin(path=f"{url.rstrip('/')}/metrics", line=1, col=1)
    for diagnosis in result.diagnoses:
        rule = diagnosis.rule
        outcome = _OUTCOMES.get(diagnosis.outcome, "unknown")
        outcomes.append(
            RuleOutcome(rule.name, rule.item, subject, outcome, diagnosis.message or None)
        )
        if outcome != "failed":
            continue
        item = catalog.items[rule.item]
        findings.append(
            Finding(
                item=item.id,
                rule=rule.name,
                subject=subject,
                message=f"{diagnosis.message} [server {url}; playbook {rule.playbook}]",
                evidence=evidence,
                severity=item.severity,
                title=item.title,
                remediation=item.remediation,
                key=url,
            )
        )
    return findings, outcomes


def settings_for(workload: Workload | None, configured: Mapping[str, Any] | None) -> dict[str, Any]:
    """The server settings the diagnoses compare with: given ones, else the workload's."""
    settings = dict(configured or {})
    if workload is not None and "max_num_seqs" not in settings:
        limit = workload.effective.get("max_num_seqs")
        if isinstance(limit, int):
            settings["max_num_seqs"] = limit
    return settings


def check_servers(
    urls: Sequence[str],
    workloads: Sequence[Workload],
    catalog: Catalog,
    options: ProbeOptions,
    samples: int,
    window: float,
    configured: Mapping[str, Any] | None = None,
) -> RuntimeCheck:
    """Probe every URL; a server that cannot be read is an input problem, never a pass."""
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    problems: list[Problem] = []
    links: dict[str, str] = {}
    for url in urls:
        try:
            snapshots, fetch_problems = probe(url, options, samples, window)
        except FetchError as exc:
            problems.append(Problem(url, None, None, "error", "probe-failed", str(exc)))
            continue
        linked = link_server(snapshots, workloads)
        subject = linked or url
        if linked:
            links[url] = linked
        workload = next((w for w in workloads if w.id == linked), None)
        settings = settings_for(workload, configured)
        result = analyse(subject, snapshots, fetch_problems, settings)
        if result is None:
            trouble = [*(p for s in snapshots for p in s.problems), *fetch_problems]
            if not trouble:
                message = "no usable /metrics sample"
                trouble.append(Problem(url, None, None, "error", "probe-failed", message))
            problems += trouble
            continue
        found, seen = to_report_parts(url, result, subject, catalog)
        findings += found
        outcomes += seen
        drifted, compared = config_drift(url, snapshots, workload, catalog)
        findings += drifted
        outcomes += compared
    return RuntimeCheck(tuple(findings), tuple(outcomes), tuple(problems), links)
