"""The Report: everything one `check` run concluded, the single input of every reporter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piqc_advisor import __version__
from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.evaluation.assessment import ChecklistView, ItemStatus
from piqc_advisor.evaluation.waivers import WaiverNote
from piqc_advisor.facts.store import problem_json
from piqc_advisor.findings import SEVERITY_ORDER, Finding, RuleOutcome

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Coverage:
    items: int
    automated: int
    manual: int

    def line(self) -> str:
        return (
            f"coverage: {self.automated} of {self.items} items are checked automatically, "
            f"{self.manual} need a person"
        )


@dataclass(frozen=True)
class Report:
    inputs: tuple[str, ...]
    subjects: tuple[str, ...]
    findings: tuple[Finding, ...]
    outcomes: tuple[RuleOutcome, ...]
    items: dict[str, ItemStatus]
    checklists: tuple[ChecklistView, ...]
    problems: tuple[Problem, ...]
    coverage: Coverage
    fail_on: str = "high"
    waiver_notes: tuple[WaiverNote, ...] = ()

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.waived)

    def failing(self) -> tuple[Finding, ...]:
        """Unwaived findings at or above the fail-on severity."""
        limit = SEVERITY_ORDER.get(self.fail_on, 1)
        return tuple(f for f in self.open_findings if SEVERITY_ORDER.get(f.severity, 9) <= limit)

    def severity_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for finding in self.open_findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "generator": f"piqc-advisor {__version__}",
            "inputs": list(self.inputs),
            "subjects": list(self.subjects),
            "summary": {
                "findings": len(self.open_findings),
                "waived": len(self.findings) - len(self.open_findings),
                "by_severity": self.severity_counts(),
                "fail_on": self.fail_on,
                "failing": len(self.failing()),
                "problems": len(self.problems),
                "coverage": {
                    "items": self.coverage.items,
                    "automated": self.coverage.automated,
                    "manual": self.coverage.manual,
                },
            },
            "findings": [f.to_json() for f in self.findings],
            "checklists": [c.to_json() for c in self.checklists],
            "items": [s.to_json() for s in self.items.values()],
            "outcomes": [o.to_json() for o in self.outcomes],
            "problems": [problem_json(p) for p in self.problems],
            "waiver_notes": [n.to_json() for n in self.waiver_notes],
        }
