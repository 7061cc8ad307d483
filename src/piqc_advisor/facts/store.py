"""The FactStore: every fact of one scan plus the problems met while reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from piqc_advisor import __version__
from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.facts.workload import Workload

if TYPE_CHECKING:
    from piqc_advisor.evaluation.waivers import Waiver, WaiverNote

FACTS_SCHEMA_VERSION = 1


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "col": problem.col,
        "severity": problem.severity,
        "code": problem.code,
        "message": problem.message,
    }


@dataclass(frozen=True)
class FactStore:
    workloads: tuple[Workload, ...]
    problems: tuple[Problem, ...]
    inputs: tuple[str, ...]
    objects: int
    not_understood: tuple[str, ...] = ()
    inline_waivers: tuple[Waiver, ...] = ()
    waiver_notes: tuple[WaiverNote, ...] = ()

    @property
    def input_errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": FACTS_SCHEMA_VERSION,
            "generator": f"piqc-advisor {__version__}",
            "inputs": list(self.inputs),
            "objects": self.objects,
            "workloads": [w.to_json() for w in self.workloads],
            "problems": [problem_json(p) for p in self.problems],
        }
