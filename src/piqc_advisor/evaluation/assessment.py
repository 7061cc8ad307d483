"""Per-item status from rule outcomes and findings, and the readiness view of checklists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from piqc_advisor.findings import Finding, RuleOutcome
from piqc_advisor.knowledge.model import Catalog, Checklist, Section
from piqc_advisor.knowledge.queries import effective_phase

Status = Literal["violated", "waived", "unknown", "satisfied", "not_applicable", "manual"]
STATUSES: tuple[Status, ...] = (
    "violated",
    "waived",
    "unknown",
    "satisfied",
    "not_applicable",
    "manual",
)


@dataclass(frozen=True)
class ItemStatus:
    item: str
    status: Status
    reason: str
    subjects: tuple[str, ...] = ()
    attested: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "status": self.status,
            "reason": self.reason,
            "subjects": list(self.subjects),
            "attested": self.attested,
        }


def assess_items(
    catalog: Catalog,
    outcomes: Sequence[RuleOutcome],
    findings: Sequence[Finding],
    attested: Mapping[str, str] | None = None,
    rule_names: Iterable[str] | None = None,
) -> dict[str, ItemStatus]:
    """Status of every item. Rules that did not run (deselected) leave their item unknown."""
    attested = attested or {}
    active = set(rule_names) if rule_names is not None else None
    by_item: dict[str, list[RuleOutcome]] = {}
    for outcome in outcomes:
        by_item.setdefault(outcome.item, []).append(outcome)
    open_findings: dict[str, list[Finding]] = {}
    waived_findings: dict[str, list[Finding]] = {}
    for finding in findings:
        target = waived_findings if finding.waived else open_findings
        target.setdefault(finding.item, []).append(finding)
    statuses: dict[str, ItemStatus] = {}
    for item in catalog.items.values():
        rules = [r for r in item.rules if active is None or r in active]
        if not item.automation:
            note = attested.get(item.id)
            statuses[item.id] = ItemStatus(
                item.id,
                "manual",
                note or "needs a person: no rule proves it",
                attested=note is not None,
            )
            continue
        results = by_item.get(item.id, [])
        if open_findings.get(item.id):
            subjects = tuple(dict.fromkeys(f.subject for f in open_findings[item.id]))
            statuses[item.id] = ItemStatus(
                item.id, "violated", f"{len(open_findings[item.id])} finding(s)", subjects
            )
        elif waived_findings.get(item.id):
            subjects = tuple(dict.fromkeys(f.subject for f in waived_findings[item.id]))
            statuses[item.id] = ItemStatus(item.id, "waived", "every finding is waived", subjects)
        elif not rules or not results:
            if not rules and all(r.startswith("runtime-") for r in item.rules):
                reason = "proved by runtime metrics only (piqc-advisor probe or metrics)"
            elif not rules:
                reason = "its rules were not selected"
            else:
                reason = "no subject to check"
            statuses[item.id] = ItemStatus(item.id, "unknown", reason)
        elif any(r.outcome in ("unknown", "error") for r in results):
            bad = next(r for r in results if r.outcome in ("unknown", "error"))
            statuses[item.id] = ItemStatus(
                item.id, "unknown", f"{bad.rule} on {bad.subject}: {bad.outcome} ({bad.reason})"
            )
        elif all(r.outcome == "not_applicable" for r in results):
            statuses[item.id] = ItemStatus(item.id, "not_applicable", results[0].reason or "")
        else:
            passed = tuple(dict.fromkeys(r.subject for r in results if r.outcome == "passed"))
            statuses[item.id] = ItemStatus(item.id, "satisfied", "every subject passed", passed)
    return statuses


@dataclass(frozen=True)
class ChecklistView:
    checklist: str
    title: str
    counts: dict[str, int]
    score: float | None
    sections: tuple[dict[str, Any], ...]
    phases: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "checklist": self.checklist,
            "title": self.title,
            "counts": self.counts,
            "score": self.score,
            "phases": {
                phase: {"counts": counts, "score": readiness_score(counts)}
                for phase, counts in self.phases.items()
            },
            "sections": list(self.sections),
        }


def readiness_score(counts: Mapping[str, int]) -> float | None:
    """Share of applicable items that are satisfied, waived or attested (percent, 1 decimal).

    Not-applicable items are left out; violated, unknown and open manual items count against.
    """
    applicable = sum(v for k, v in counts.items() if k not in ("not_applicable", "attested"))
    if applicable == 0:
        return None
    good = counts.get("satisfied", 0) + counts.get("waived", 0) + counts.get("attested", 0)
    return round(100.0 * good / applicable, 1)


def checklist_view(
    catalog: Catalog, checklist: Checklist, statuses: Mapping[str, ItemStatus]
) -> ChecklistView:
    counts = dict.fromkeys([*STATUSES, "attested"], 0)
    phases: dict[str, dict[str, int]] = {}
    seen: set[str] = set()

    def section_json(path: tuple[Section, ...]) -> dict[str, Any]:
        section = path[-1]
        entries = []
        for item_id in section.items:
            status = statuses[item_id]
            item = catalog.items[item_id]
            if item_id not in seen:
                seen.add(item_id)
                phase_counts = phases.setdefault(
                    effective_phase(path, item), dict.fromkeys([*STATUSES, "attested"], 0)
                )
                for tally in (counts, phase_counts):
                    tally[status.status] += 1
                    if status.attested:
                        tally["attested"] += 1
            entries.append(
                {
                    "item": item_id,
                    "title": item.title,
                    "phase": effective_phase(path, item),
                    "status": status.status,
                    "attested": status.attested,
                }
            )
        data: dict[str, Any] = {"id": section.id, "title": section.title, "items": entries}
        if section.sections:
            data["sections"] = [section_json((*path, sub)) for sub in section.sections]
        return data

    sections = tuple(section_json((s,)) for s in checklist.sections)
    ordered = {phase: phases[phase] for phase in ("day-0", "day-1", "day-2") if phase in phases}
    return ChecklistView(
        checklist.id, checklist.title, counts, readiness_score(counts), sections, ordered
    )
