"""Typed, immutable records of the knowledge base: items, checklists, signals, playbooks, terms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["day-0", "day-1", "day-2"]
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
PHASES: tuple[str, ...] = ("day-0", "day-1", "day-2")


@dataclass(frozen=True)
class Area:
    code: str
    title: str


@dataclass(frozen=True)
class RuleBinding:
    rule: str
    params: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Control:
    """Governance control fields: evidence, automation readiness, review cadence."""

    evidence: tuple[str, ...] = ()
    automation_readiness: str | None = None
    review_cadence: str | None = None


@dataclass(frozen=True)
class Item:
    id: str
    area: str
    title: str
    severity: str
    phase: str
    owners: tuple[str, ...]
    rationale: str
    remediation: str
    verified_by: tuple[str, ...]
    source_file: str
    origin: str = "piqc-kb"
    manual: str | None = None
    automation: tuple[RuleBinding, ...] = ()
    applies_to: tuple[tuple[str, tuple[str, ...]], ...] = ()
    signals: tuple[str, ...] = ()
    playbooks: tuple[str, ...] = ()
    glossary: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    control: Control | None = None
    retired: bool = False

    @property
    def verification(self) -> Literal["automated", "manual"]:
        """Automated when at least one rule proves the item, else a person verifies it."""
        return "automated" if self.automation else "manual"

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(binding.rule for binding in self.automation)

    def applies(self, dimension: str) -> tuple[str, ...]:
        """Values the item is limited to in one dimension; empty means it applies to all."""
        return dict(self.applies_to).get(dimension, ())


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    items: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    summary: str | None = None
    phase: str | None = None
    owners: tuple[str, ...] = ()
    domain: str | None = None
    review_cadence: str | None = None
    source: str | None = None

    def all_item_ids(self) -> Iterator[str]:
        """Item ids of this section and its subsections, in order."""
        yield from self.items
        for sub in self.sections:
            yield from sub.all_item_ids()


@dataclass(frozen=True)
class ChecklistMetric:
    id: str
    name: str
    definition: str
    unit: str | None = None
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class MaturityLevel:
    level: int
    label: str
    meaning: str


@dataclass(frozen=True)
class Checklist:
    id: str
    title: str
    summary: str
    sections: tuple[Section, ...]
    source_file: str
    version: str | None = None
    source: str | None = None
    origin: str = "piqc-kb"
    columns: tuple[str, ...] = ()
    maturity_scale: tuple[MaturityLevel, ...] = ()
    metrics: tuple[ChecklistMetric, ...] = ()

    def entries(self) -> Iterator[tuple[tuple[Section, ...], str]]:
        """Every (section path, item id) pair in checklist order."""

        def walk(path: tuple[Section, ...]) -> Iterator[tuple[tuple[Section, ...], str]]:
            section = path[-1]
            for item_id in section.items:
                yield path, item_id
            for sub in section.sections:
                yield from walk((*path, sub))

        for top in self.sections:
            yield from walk((top,))

    def item_ids(self) -> tuple[str, ...]:
        """Distinct item ids in first-appearance order."""
        return tuple(dict.fromkeys(item_id for _, item_id in self.entries()))


@dataclass(frozen=True)
class Signal:
    id: str
    number: int
    name: str
    group: str
    kind: str
    sources: tuple[str, ...]
    purpose: str
    metrics: tuple[str, ...] = ()
    engine_args: tuple[str, ...] = ()
    unit: str | None = None


@dataclass(frozen=True)
class PlaybookEntry:
    id: str
    title: str
    detail: str
    signals: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    engine_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaybookSection:
    id: str
    title: str
    entries: tuple[PlaybookEntry, ...]
    kind: str | None = None


@dataclass(frozen=True)
class Playbook:
    id: str
    title: str
    summary: str
    sections: tuple[PlaybookSection, ...]
    source_file: str
    source: str | None = None
    items: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class GlossaryTerm:
    id: str
    term: str
    category: str
    definition: str
    aliases: tuple[str, ...] = ()
    why_it_matters: str | None = None
    related: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """The whole knowledge base, validated and cross-checked."""

    areas: dict[str, Area]
    items: dict[str, Item]
    checklists: dict[str, Checklist]
    signals: dict[str, Signal]
    playbooks: dict[str, Playbook]
    glossary: dict[str, GlossaryTerm]
    sources: tuple[str, ...] = field(default=())

    def checklists_including(self, item_id: str) -> tuple[Checklist, ...]:
        return tuple(c for c in self.checklists.values() if item_id in c.item_ids())

    def playbooks_for(self, item: Item) -> tuple[Playbook, ...]:
        """Playbooks the item names, plus those that name the item."""
        named = set(item.playbooks)
        return tuple(pb for pb in self.playbooks.values() if pb.id in named or item.id in pb.items)

    def items_for_rule(self, rule: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items.values() if rule in item.rules)
