"""Deployments read from Prometheus: diagnoses per replica and across them, tables, `check`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.facts.origin import Origin
from piqc_advisor.facts.workload import Workload
from piqc_advisor.findings import Finding, OutcomeKind, RuleOutcome
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.rules.runtime import RuntimeResult, diagnose
from piqc_advisor.rules.runtime_fleet import FleetResult, diagnose_fleet
from piqc_advisor.runtime.checks import RuntimeCheck, served_names, settings_for
from piqc_advisor.runtime.probe import FetchError, ProbeOptions
from piqc_advisor.runtime.prometheus_source import (
    QUANTITIES,
    FleetValues,
    SelectorError,
    fleet_facts,
    parse_selector,
    read_fleet,
    replica_facts,
)
from piqc_advisor.runtime.promql import QUERY_PATH
from piqc_advisor.terminal import TextTable

_OUTCOMES: dict[str, OutcomeKind] = {
    "diagnosed": "failed",
    "passed": "passed",
    "unknown": "unknown",
    "not_applicable": "not_applicable",
    "error": "error",
}
# Which outcome of one rule across the replicas speaks for the fleet: the worst.
_RANK = {"diagnosed": 0, "error": 1, "unknown": 2, "passed": 3, "not_applicable": 4}


@dataclass(frozen=True)
class FleetAnalysis:
    """Values of a deployment's replicas, the per-server diagnoses of each, the fleet's."""

    values: FleetValues
    replicas: tuple[tuple[str, RuntimeResult], ...]
    fleet: tuple[FleetResult, ...]

    @property
    def diagnosed(self) -> bool:
        return any(r.outcome == "diagnosed" for _, r in self.replicas) or any(
            r.outcome == "diagnosed" for r in self.fleet
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.values.to_json(),
            "diagnoses": [
                *({"scope": "fleet", **r.to_json()} for r in self.fleet),
                *({"scope": replica, **r.to_json()} for replica, r in self.replicas),
            ],
        }


def analyse_fleet(
    values: FleetValues, configured: Mapping[str, Any] | None = None
) -> FleetAnalysis:
    """Every per-server runtime rule on each replica, and the fleet rules across them."""
    per = tuple(
        (replica, result)
        for replica in values.replicas
        for result in diagnose(replica_facts(values, replica, configured))
    )
    return FleetAnalysis(values, per, tuple(diagnose_fleet(fleet_facts(values))))


# -------------------------------------------------------------------------------- tables


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


def fleet_table(analysis: FleetAnalysis) -> TextTable:
    values = analysis.values
    rows = []
    for quantity in QUANTITIES:
        result = values.results[quantity.key]
        known = [v.value for v in result.replicas.values() if v.value is not None]
        spread = f"{_num(min(known))} .. {_num(max(known))}" if known else "-"
        fleet = result.fleet
        shown = _num(fleet.value) if fleet.value is not None else f"unknown: {fleet.reason}"
        rows.append((quantity.key, quantity.unit, shown, spread, result.fleet_how))
    title = (
        f"{values.subject}: {len(values.replicas)} replica(s) by {values.replica_label}, "
        f"{values.duration} window"
    )
    footer = (*values.notes, "The PromQL of every value: --format json (quantities[].query).")
    return TextTable(
        ("quantity", "unit", "fleet", "replicas (min .. max)", "fleet value is"),
        tuple(rows),
        title=title,
        footer=footer,
    )


_REPLICA_COLUMNS = (
    ("requests/s", "requests_per_s"),
    ("gen tok/s", "generation_tokens_per_s"),
    ("running", "running_mean"),
    ("waiting", "waiting_mean"),
    ("KV usage", "kv_usage_mean"),
    ("e2e p95 s", "e2e_p95"),
    ("failures", "failure_share"),
)


def replica_table(analysis: FleetAnalysis) -> TextTable:
    values = analysis.values
    rows = tuple(
        (replica, *(_num(values.value(key, replica)) for _, key in _REPLICA_COLUMNS))
        for replica in values.replicas
    )
    return TextTable(
        (values.replica_label, *(name for name, _ in _REPLICA_COLUMNS)),
        rows,
        title=f"Replicas (means over {values.duration}; ? = no data, see --format json)",
    )


def _scope(replicas: Sequence[str], total: int) -> str:
    if len(replicas) == total and total > 1:
        return f"all {total} replicas"
    shown = ", ".join(replicas[:3])
    return shown + (f" (+{len(replicas) - 3})" if len(replicas) > 3 else "")


def diagnosis_table(analysis: FleetAnalysis) -> TextTable:
    """Fleet rules first, then each per-server rule with replicas of one outcome grouped."""
    rows: list[tuple[str, ...]] = []
    for f in analysis.fleet:
        rows.append(("fleet", f.outcome, f.rule.name, f.rule.item, f.rule.playbook, f.message))
    grouped: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    rules: dict[str, RuntimeResult] = {}
    for replica, r in analysis.replicas:
        grouped[(r.rule.name, r.outcome, r.message)].append(replica)
        rules[r.rule.name] = r
    total = len(analysis.values.replicas)
    for (name, outcome, message), replicas in grouped.items():
        rule = rules[name].rule
        rows.append((_scope(replicas, total), outcome, name, rule.item, rule.playbook, message))
    return TextTable(
        ("scope", "outcome", "rule", "item", "playbook", "message"), tuple(rows), "Diagnoses"
    )


# ------------------------------------------------------------------------------- check


def link_fleet(values: FleetValues, workloads: Sequence[Workload]) -> str | None:
    """The one workload the selector's labels name, or that serves the replicas' models."""
    namespace = values.selector.equals("namespace")
    candidates = [
        w
        for w in workloads
        if w.engine is not None and (namespace is None or w.namespace in (None, namespace))
    ]
    name = values.selector.equals("deployment")
    if name is not None:
        candidates = [w for w in candidates if w.name == name]
        if len(candidates) == 1:
            return candidates[0].id
    served = {values.selector.equals("model_name") or ""} - {""} or set(values.models)
    if not served:
        return None
    matches = [w.id for w in candidates if served_names(w) & served]
    return matches[0] if len(matches) == 1 else None


def _fleet_outcome(results: Sequence[tuple[str, RuntimeResult]], label: str) -> tuple[str, str]:
    """The worst outcome of one rule over the replicas, and the message that goes with it."""
    worst = min(results, key=lambda item: _RANK.get(item[1].outcome, 2))[1].outcome
    same = [(replica, r) for replica, r in results if r.outcome == worst]
    replica, first = same[0]
    if worst == "passed":
        return worst, first.message
    more = f" (and {len(same) - 1} more replica(s))" if len(same) > 1 else ""
    return worst, f"{label} {replica}: {first.message}{more}"


def to_report_parts(
    analysis: FleetAnalysis, subject: str, catalog: Catalog
) -> tuple[list[Finding], list[RuleOutcome]]:
    """One outcome per rule for the deployment; one finding per rule that diagnosed."""
    values = analysis.values
    evidence = Origin(path=f"{values.prometheus}{QUERY_PATH}", line=1, col=1)
    where = f"Prometheus {values.prometheus} {values.selector.render()}"
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    by_rule: dict[str, list[tuple[str, RuntimeResult]]] = defaultdict(list)
    for replica, result in analysis.replicas:
        by_rule[result.rule.name].append((replica, result))
    summary: list[tuple[str, str, str, str, str]] = []
    for f in analysis.fleet:
        summary.append((f.rule.name, f.rule.item, f.rule.playbook, f.outcome, f.message))
    for name, results in by_rule.items():
        server_rule = results[0][1].rule
        outcome, message = _fleet_outcome(results, values.replica_label)
        summary.append((name, server_rule.item, server_rule.playbook, outcome, message))
    for name, item_id, playbook, outcome, message in summary:
        kind = _OUTCOMES.get(outcome, "unknown")
        outcomes.append(RuleOutcome(name, item_id, subject, kind, message or None))
        if kind != "failed":
            continue
        item = catalog.items[item_id]
        findings.append(
            Finding(
                item=item.id,
                rule=name,
                subject=subject,
                message=f"{message} [{where}; playbook {playbook}]",
                evidence=evidence,
                severity=item.severity,
                title=item.title,
                remediation=item.remediation,
                key=f"{values.prometheus} {values.selector.render()}",
            )
        )
    return findings, outcomes


def check_fleets(
    base: str,
    selectors: Sequence[str],
    workloads: Sequence[Workload],
    catalog: Catalog,
    options: ProbeOptions,
    window: float,
    replica_label: str,
    configured: Mapping[str, Any] | None = None,
) -> RuntimeCheck:
    """Read each selector's replicas from Prometheus; what cannot be read is an input error."""
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    problems: list[Problem] = []
    links: dict[str, str] = {}
    for text in selectors:
        source = f"{base} {text}"
        try:
            selector = parse_selector(text)
            values = read_fleet(base, selector, window, options, replica_label)
        except SelectorError as exc:
            problems.append(Problem(source, None, None, "error", "prometheus-selector", str(exc)))
            continue
        except FetchError as exc:
            problems.append(Problem(source, None, None, "error", "prometheus-failed", str(exc)))
            continue
        linked = link_fleet(values, workloads)
        if linked:
            links[values.subject] = linked
        workload = next((w for w in workloads if w.id == linked), None)
        settings = settings_for(workload, configured)
        analysis = analyse_fleet(values, settings)
        found, seen = to_report_parts(analysis, linked or values.subject, catalog)
        findings += found
        outcomes += seen
    return RuntimeCheck(tuple(findings), tuple(outcomes), tuple(problems), links)
