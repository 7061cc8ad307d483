"""Signals and diagnoses of one server, as a JSON-ready result and a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.rules.runtime import MetricFacts, RuntimeResult, diagnose
from piqc_advisor.runtime.signals import SignalValue, compute_signals, make_view
from piqc_advisor.runtime.snapshot import Snapshot
from piqc_advisor.terminal import TextTable


@dataclass(frozen=True)
class ServerAnalysis:
    subject: str
    view: str
    windowed: bool
    duration: float | None
    snapshots: int
    signals: dict[str, SignalValue]
    diagnoses: list[RuntimeResult]
    problems: list[Problem]
    router_series: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "view": self.view,
            "windowed": self.windowed,
            "duration_s": self.duration,
            "snapshots": self.snapshots,
            "router_series_ignored": self.router_series,
            "signals": [s.to_json() for s in self.signals.values()],
            "diagnoses": [d.to_json() for d in self.diagnoses],
            "problems": [
                {"source": p.path, "line": p.line, "code": p.code, "message": p.message}
                for p in self.problems
            ],
        }


def analyse(
    subject: str,
    snapshots: Sequence[Snapshot],
    problems: Sequence[Problem] = (),
    configured: dict[str, Any] | None = None,
) -> ServerAnalysis | None:
    """Signals and diagnoses of the usable snapshots; None when none is usable."""
    all_problems = [*problems, *(p for s in snapshots for p in s.problems)]
    usable = [s for s in snapshots if not any(p.severity == "error" for p in s.problems)]
    if not usable:
        return None
    view = make_view(usable)
    signals = compute_signals(usable, configured)
    facts = MetricFacts(subject, signals, view.windowed, view.duration)
    return ServerAnalysis(
        subject,
        view.label,
        view.windowed,
        view.duration,
        len(view.snapshots),
        signals,
        diagnose(facts),
        all_problems,
        sum(len(s.metrics.router) for s in usable[-1:]),
    )


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(_show(v) for v in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def signal_table(result: ServerAnalysis) -> TextTable:
    rows = []
    for s in result.signals.values():
        shown = (
            " ".join(f"{k}={_show(v)}" for k, v in s.value.items())
            if s.status == "ok"
            else f"unknown: {s.reason}"
        )
        source = s.provenance[0].metric if s.provenance else "-"
        rows.append((str(s.number), s.id, shown, source))
    title = f"{result.subject} ({result.view})"
    return TextTable(("#", "signal", "value", "from"), tuple(rows), title=title)


def diagnosis_table(result: ServerAnalysis) -> TextTable:
    rows = tuple(
        (d.outcome, d.rule.name, d.rule.item, d.rule.playbook, d.message) for d in result.diagnoses
    )
    return TextTable(("outcome", "rule", "item", "playbook", "message"), rows, title="Diagnoses")
