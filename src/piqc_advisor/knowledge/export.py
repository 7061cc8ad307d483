"""Exports of a checklist a team commits: fillable Markdown, JSON/YAML data, attestation answers."""

from __future__ import annotations

from typing import Any

from piqc_advisor import __version__
from piqc_advisor.knowledge.model import Catalog, Checklist, Item, Section
from piqc_advisor.knowledge.queries import coverage, effective_owners, effective_phase
from piqc_advisor.terminal import dump_yaml

ANSWERS_VERSION = 1


def _item_record(item: Item, path: tuple[Section, ...]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "severity": item.severity,
        "phase": effective_phase(path, item),
        "owners": list(effective_owners(path, item)),
        "verification": item.verification,
        "rules": list(item.rules),
        "verified_by": list(item.verified_by),
        "rationale": item.rationale,
        "remediation": item.remediation,
    }
    if item.manual:
        record["manual"] = item.manual
    if item.signals:
        record["signals"] = list(item.signals)
    if item.control:
        record["control"] = {
            "evidence": list(item.control.evidence),
            "automation_readiness": item.control.automation_readiness,
            "review_cadence": item.control.review_cadence,
        }
    return record


def checklist_data(catalog: Catalog, checklist: Checklist) -> dict[str, Any]:
    """The checklist with each item resolved, as plain data (JSON/YAML export, `kb show`)."""

    def section_data(path: tuple[Section, ...]) -> dict[str, Any]:
        section = path[-1]
        data: dict[str, Any] = {"id": section.id, "title": section.title}
        for key in ("phase", "domain", "review_cadence", "summary"):
            value = getattr(section, key)
            if value:
                data[key] = value
        if section.owners:
            data["owners"] = list(section.owners)
        if section.items:
            data["items"] = [_item_record(catalog.items[i], path) for i in section.items]
        if section.sections:
            data["sections"] = [section_data((*path, sub)) for sub in section.sections]
        return data

    cov = coverage(catalog, checklist)
    data: dict[str, Any] = {
        "id": checklist.id,
        "title": checklist.title,
        "summary": checklist.summary,
        "coverage": {"items": cov.items, "automated": cov.automated, "manual": cov.manual},
    }
    if checklist.columns:
        data["columns"] = list(checklist.columns)
    if checklist.maturity_scale:
        data["maturity_scale"] = [
            {"level": m.level, "label": m.label, "meaning": m.meaning}
            for m in checklist.maturity_scale
        ]
    if checklist.metrics:
        data["metrics"] = [
            {"id": m.id, "name": m.name, "definition": m.definition, "unit": m.unit}
            for m in checklist.metrics
        ]
    data["sections"] = [section_data((s,)) for s in checklist.sections]
    return data


def export_json_data(catalog: Catalog, checklist: Checklist) -> dict[str, Any]:
    return {"schema_version": 1, "generator": f"piqc-advisor {__version__}"} | checklist_data(
        catalog, checklist
    )


def export_yaml(catalog: Catalog, checklist: Checklist) -> str:
    return dump_yaml(export_json_data(catalog, checklist))


def export_markdown(catalog: Catalog, checklist: Checklist) -> str:
    """A fillable Markdown checklist: one checkbox per entry with owners, phase, verification."""
    cov = coverage(catalog, checklist)
    lines: list[str] = [
        f"# {checklist.title}",
        "",
        checklist.summary,
        "",
        f"Checklist `{checklist.id}` exported by piqc-advisor {__version__}: "
        f"{cov.items} items, {cov.automated} checked automatically by `piqc-advisor check`, "
        f"{cov.manual} answered by a person (record those in the answers file from "
        f"`piqc-advisor kb export {checklist.id} --answers`).",
        "",
    ]
    governance = "maturity" in checklist.columns
    if checklist.maturity_scale:
        lines += ["Maturity levels:", ""]
        lines += [f"- {m.level} {m.label}: {m.meaning}" for m in checklist.maturity_scale]
        lines.append("")

    def emit(path: tuple[Section, ...], depth: int) -> None:
        section = path[-1]
        details = []
        if section.phase:
            details.append(section.phase)
        if section.owners:
            details.append("owners: " + ", ".join(section.owners))
        if section.domain:
            details.append(f"domain: {section.domain}")
        if section.review_cadence:
            details.append(f"review: {section.review_cadence}")
        lines.append(f"{'#' * min(depth + 1, 6)} {section.title}")
        lines.append("")
        if details:
            lines.extend([f"_{' · '.join(details)}_", ""])
        for item_id in section.items:
            item = catalog.items[item_id]
            how = "auto: " + ", ".join(item.rules) if item.automation else "manual"
            owners = ", ".join(effective_owners(path, item))
            lines.append(
                f"- [ ] **{item.id}** {item.title} "
                f"({effective_phase(path, item)} · {item.severity} · {owners} · {how})"
            )
            if governance and item.control:
                evidence = "; ".join(item.control.evidence) or "-"
                lines.append(
                    f"  - maturity: _/5 · evidence: {evidence} · automation: "
                    f"{item.control.automation_readiness or '-'} · review: "
                    f"{item.control.review_cadence or '-'}"
                )
        if section.items:
            lines.append("")
        for sub in section.sections:
            emit((*path, sub), depth + 1)

    for top in checklist.sections:
        emit((top,), 1)
    return "\n".join(lines).rstrip() + "\n"


def export_answers(catalog: Catalog, checklist: Checklist) -> str:
    """A YAML answers template for the manual items, which `check` reads as attestations."""
    header = [
        f"# Attestations for checklist {checklist.id} ({checklist.title}).",
        "# Fill in one entry per manual item: status attested | not_applicable | open,",
        "# who answered (by), when (date, YYYY-MM-DD), a link to the evidence, and optionally",
        "# when the answer expires (expires, YYYY-MM-DD; an expired answer counts as open).",
        "",
    ]
    governance = "maturity" in checklist.columns
    entries: list[dict[str, Any]] = []
    for item_id in checklist.item_ids():
        item = catalog.items[item_id]
        if item.automation:
            continue
        entry: dict[str, Any] = {
            "item": item.id,
            "title": item.title,
            "status": "open",
            "by": None,
            "date": None,
            "evidence": None,
            "expires": None,
        }
        if governance:
            entry["maturity"] = None
        entries.append(entry)
    body = dump_yaml(
        {"answers_version": ANSWERS_VERSION, "checklist": checklist.id, "answers": entries}
    )
    return "\n".join(header) + body
