"""What a rule is: metadata in a decorator, a check over one workload, findings or Unknown."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from piqc_advisor.facts.origin import Origin
from piqc_advisor.facts.workload import Workload


@dataclass(frozen=True)
class Violation:
    """A rule's statement about its subject: a specific message and the field that proves it."""

    message: str
    evidence: Origin
    key: str = ""


@dataclass(frozen=True)
class Unknown:
    """The rule could not tell (a fact it needs is missing); never counted as a pass."""

    reason: str


@dataclass(frozen=True)
class NotApplicable:
    """The condition does not concern this subject (e.g. a GPU rule on a CPU-only server)."""

    reason: str


Outcome: TypeAlias = Violation | Unknown | NotApplicable
Check: TypeAlias = Callable[[Workload, Any], Iterable[Outcome]]


@dataclass(frozen=True)
class NoParams:
    """Rules without tunable parameters use this."""


@dataclass(frozen=True)
class Rule:
    """A registered rule: its kebab-case name, the item it proves and its check."""

    name: str
    item: str
    summary: str
    check: Check
    params: Any = field(default_factory=NoParams)

    def run(self, workload: Workload, params: Any | None = None) -> Iterator[Outcome]:
        yield from self.check(workload, params if params is not None else self.params)


def rule(name: str, item: str, summary: str, params: Any = None) -> Callable[[Check], Rule]:
    """Declare a rule: `@rule("readiness-probe-missing", "K8S-005", "...")` over a check."""

    def wrap(check: Check) -> Rule:
        return Rule(name, item, summary, check, params if params is not None else NoParams())

    return wrap


def serving_engine(workload: Workload) -> bool:
    """True when the workload runs a recognised model server."""
    return workload.engine is not None


def evidence_for(workload: Workload) -> Origin:
    """Where to point when a field is absent: the container, else the object."""
    return workload.container_origin or workload.source
