"""Diagnoses over all replicas of a deployment at once (from Prometheus), like replica imbalance."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from piqc_advisor.rules.api import Unknown
from piqc_advisor.rules.runtime import (
    Diagnosis,
    DiagnosisRule,
    RuntimeOutcome,
    RuntimeResult,
    diagnosis_rule,
    run_diagnoses,
)


@dataclass(frozen=True)
class FleetFacts:
    """Per-replica load measures of one deployment over a window (None: no data)."""

    subject: str
    window: float
    replicas: Mapping[str, Mapping[str, float | None]]
    replica_label: str = "instance"

    def known(self, measure: str) -> dict[str, float]:
        found = {r: m.get(measure) for r, m in self.replicas.items()}
        return {r: v for r, v in found.items() if v is not None}


FleetRule: TypeAlias = DiagnosisRule[FleetFacts]
fleet_rule = diagnosis_rule


def _fmt(value: float) -> str:
    return f"{value:.3g}"


@dataclass(frozen=True)
class ImbalanceParams:
    """max_ratio: busiest replica / fleet mean that counts as imbalance; min_*: enough load."""

    max_ratio: float = 1.5
    min_requests_per_replica: float = 20.0
    min_running: float = 1.0
    min_waiting: float = 1.0
    min_kv_usage: float = 0.1
    min_coverage: float = 0.8


# (measure, what it is, unit shown) in the order the message lists them.
_MEASURES = (
    ("requests_per_s", "finished requests", " requests/s"),
    ("running_mean", "running requests (mean)", ""),
    ("waiting_mean", "waiting requests (mean)", ""),
    ("kv_usage_mean", "KV-cache usage (mean)", "%"),
)


def _too_little(measure: str, values: dict[str, float], window: float, p: ImbalanceParams) -> str:
    """'' when the load is enough to judge this measure, else why not."""
    mean = sum(values.values()) / len(values)
    if measure == "requests_per_s":
        finished = sum(values.values()) * window
        needed = p.min_requests_per_replica * len(values)
        return "" if finished >= needed else f"{_fmt(finished)} requests (needs {_fmt(needed)})"
    if measure == "running_mean":
        return "" if mean >= p.min_running else f"running mean {_fmt(mean)} per replica"
    if measure == "waiting_mean":
        top = max(values.values())
        return "" if top >= p.min_waiting else f"waiting mean at most {_fmt(top)}"
    return "" if mean >= p.min_kv_usage else f"KV-cache usage mean {_fmt(mean * 100)}%"


def _whole_window(facts: FleetFacts, p: ImbalanceParams) -> tuple[list[str], list[str]]:
    """Replicas scraped through (almost) the whole window, and those that started or stopped."""
    samples = facts.known("window_samples")
    if not samples:
        return sorted(facts.replicas), []
    most = max(samples.values())
    partial = sorted(r for r, n in samples.items() if n < p.min_coverage * most)
    return sorted(r for r in facts.replicas if r not in partial), partial


@fleet_rule(
    "runtime-replica-imbalance",
    "NET-501",
    "gpu-utilization",
    "One replica carries far more load than the fleet mean: the balancer ignores engine load.",
    ImbalanceParams(),
)
def replica_imbalance(facts: FleetFacts, params: ImbalanceParams) -> Iterator[RuntimeOutcome]:
    count = len(facts.replicas)
    if count < 2:
        yield Unknown(
            f"{count} replica{'' if count == 1 else 's'} under {facts.subject}: "
            "balance needs at least 2 to compare"
        )
        return
    whole, partial = _whole_window(facts, params)
    if len(whole) < 2:
        yield Unknown(
            f"{len(whole)} of {count} replicas ran through the whole {facts.window:.0f}s window "
            f"({', '.join(partial)} started or stopped in it): compare over a shorter window"
        )
        return
    judged = quiet = 0
    why_not: list[str] = []
    found: list[str] = []
    for measure, what, unit in _MEASURES:
        values = {r: v for r, v in facts.known(measure).items() if r in whole}
        if len(values) < 2:
            continue
        reason = _too_little(measure, values, facts.window, params)
        if reason:
            quiet += 1
            why_not.append(reason)
            continue
        judged += 1
        mean = sum(values.values()) / len(values)
        if mean <= 0:
            continue
        busiest = max(values, key=lambda r: (values[r], r))
        ratio = values[busiest] / mean
        if ratio >= params.max_ratio:
            top = values[busiest] * (100 if unit == "%" else 1)
            found.append(
                f"{what}: {facts.replica_label} {busiest} has {_fmt(top)}{unit}, "
                f"{_fmt(ratio)}x the mean of {len(values)} replicas"
            )
    skipped = f"; {', '.join(partial)} left out (not in the whole window)" if partial else ""
    if found:
        yield Diagnosis(
            f"Replica imbalance over {facts.window:.0f}s: "
            + "; ".join(found)
            + f"{skipped}; balance on engine load (waiting requests, KV usage)",
            ("requests-per-second", "effective-batch-size", "queue-depth", "kv-cache-usage"),
            key="imbalance",
        )
        return
    if judged:
        return
    if not quiet:
        yield Unknown("no load measure (requests, running, waiting, KV usage) for 2 replicas")
        return
    yield Unknown(
        f"too little load over {facts.window:.0f}s to judge balance: " + ", ".join(why_not)
    )


FLEET_RULES: tuple[FleetRule, ...] = (replica_imbalance,)


FleetResult: TypeAlias = RuntimeResult


def diagnose_fleet(
    facts: FleetFacts, rules: Iterable[FleetRule] = FLEET_RULES
) -> list[FleetResult]:
    """Run every fleet rule; a crash is an `error` outcome."""
    return run_diagnoses(facts, rules)
