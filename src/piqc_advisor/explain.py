"""Explanations of knowledge-base entries: why an item matters, how it is verified and fixed."""

from __future__ import annotations

from typing import Any

from piqc_advisor.knowledge.model import Catalog, Item
from piqc_advisor.knowledge.queries import find_term


def explain_item(catalog: Catalog, item: Item) -> dict[str, Any]:
    """Everything known about one item, with the checklists, signals and playbooks around it."""
    placements = []
    for checklist in catalog.checklists_including(item.id):
        for path, item_id in checklist.entries():
            if item_id == item.id:
                placements.append(
                    {"checklist": checklist.id, "section": " / ".join(s.title for s in path)}
                )
    return {
        "kind": "item",
        "id": item.id,
        "title": item.title,
        "area": item.area,
        "area_title": catalog.areas[item.area].title,
        "origin": item.origin,
        "severity": item.severity,
        "phase": item.phase,
        "owners": list(item.owners),
        "applies_to": {key: list(values) for key, values in item.applies_to},
        "why": item.rationale,
        "fix": item.remediation,
        "verification": item.verification,
        "verified_by": list(item.verified_by),
        "manual": item.manual,
        "rules": list(item.rules),
        "checklists": placements,
        "signals": [
            {"id": s, "name": catalog.signals[s].name, "metrics": list(catalog.signals[s].metrics)}
            for s in item.signals
        ],
        "playbooks": [{"id": p.id, "title": p.title} for p in catalog.playbooks_for(item)],
        "glossary": list(item.glossary),
        "references": list(item.references),
    }


def explain_any(catalog: Catalog, name: str) -> dict[str, Any] | None:
    """Explain an item id, checklist, signal, playbook or glossary term; None when unknown."""
    key = name.strip()
    if key.upper() in catalog.items:
        return explain_item(catalog, catalog.items[key.upper()])
    if key in catalog.checklists:
        checklist = catalog.checklists[key]
        return {
            "kind": "checklist",
            "id": checklist.id,
            "title": checklist.title,
            "summary": checklist.summary,
            "sections": [s.title for s in checklist.sections],
            "items": len(checklist.item_ids()),
        }
    if key in catalog.signals:
        signal = catalog.signals[key]
        return {
            "kind": "signal",
            "id": signal.id,
            "number": signal.number,
            "title": signal.name,
            "group": signal.group,
            "type": signal.kind,
            "sources": list(signal.sources),
            "metrics": list(signal.metrics),
            "engine_args": list(signal.engine_args),
            "why": signal.purpose,
            "items": [i.id for i in catalog.items.values() if signal.id in i.signals],
        }
    if key in catalog.playbooks:
        playbook = catalog.playbooks[key]
        return {
            "kind": "playbook",
            "id": playbook.id,
            "title": playbook.title,
            "summary": playbook.summary,
            "sections": [
                {"title": s.title, "entries": [e.title for e in s.entries]}
                for s in playbook.sections
            ],
        }
    term_id = find_term(catalog, key)
    if term_id:
        term = catalog.glossary[term_id]
        return {
            "kind": "term",
            "id": term.id,
            "title": term.term,
            "category": term.category,
            "definition": term.definition,
            "why": term.why_it_matters,
            "related": list(term.related),
        }
    return None


def explain_text(data: dict[str, Any]) -> str:
    """Human-readable rendering of an explanation."""
    lines = [f"{data['id']}  {data['title']}"]
    kind = data["kind"]
    if kind == "item":
        lines.append(
            f"{data['area_title']} · {data['severity']} · {data['phase']} · "
            f"owners: {', '.join(data['owners'])}"
            + (" · piqc-advisor's own item" if data["origin"] == "project" else "")
        )
        lines += ["", "Why it matters:", f"  {data['why']}", "", "How to fix:", f"  {data['fix']}"]
        lines += ["", "How it is verified:"]
        if data["rules"]:
            lines.append(f"  automatically by rules: {', '.join(data['rules'])}")
        else:
            lines.append("  manually (no rule proves it yet; attest it in the answers file)")
        if data["manual"]:
            lines.append(f"  by a person: {data['manual']}")
        lines.append(f"  provable from: {', '.join(data['verified_by'])}")
        if data["checklists"]:
            lines += ["", "In checklists:"]
            lines += [f"  {p['checklist']}: {p['section']}" for p in data["checklists"]]
        if data["signals"]:
            lines += ["", "Related runtime signals:"]
            for sig in data["signals"]:
                metrics = f" ({', '.join(sig['metrics'])})" if sig["metrics"] else ""
                lines.append(f"  {sig['id']}: {sig['name']}{metrics}")
        if data["playbooks"]:
            lines += ["", "Playbooks:"]
            lines += [f"  {p['id']}: {p['title']}" for p in data["playbooks"]]
    elif kind == "checklist":
        lines += ["", data["summary"], "", f"{data['items']} items in sections:"]
        lines += [f"  {s}" for s in data["sections"]]
    elif kind == "signal":
        lines.append(f"signal {data['number']} · {data['group']} · {data['type']}")
        lines += ["", data["why"], "", f"sources: {', '.join(data['sources'])}"]
        if data["metrics"]:
            lines.append(f"metrics: {', '.join(data['metrics'])}")
        if data["engine_args"]:
            lines.append(f"engine arguments: {', '.join(data['engine_args'])}")
        if data["items"]:
            lines.append(f"items: {', '.join(data['items'])}")
    elif kind == "playbook":
        lines += ["", data["summary"]]
        for section in data["sections"]:
            lines += ["", f"{section['title']}:"]
            lines += [f"  - {entry}" for entry in section["entries"]]
    else:
        lines += [f"({data['category']})", "", data["definition"]]
        if data["why"]:
            lines += ["", f"Why it matters: {data['why']}"]
        if data["related"]:
            lines += ["", f"Related: {', '.join(data['related'])}"]
    return "\n".join(lines) + "\n"
