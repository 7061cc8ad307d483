"""Questions asked of the catalog: filtering, search, coverage and closest-name suggestions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from piqc_advisor.knowledge.model import Catalog, Checklist, Item, Section


@dataclass(frozen=True)
class Coverage:
    """How many distinct items of a checklist are automated and how many need a person."""

    items: int
    automated: int
    manual: int


def coverage(catalog: Catalog, checklist: Checklist) -> Coverage:
    ids = checklist.item_ids()
    automated = sum(1 for item_id in ids if catalog.items[item_id].automation)
    return Coverage(items=len(ids), automated=automated, manual=len(ids) - automated)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The most similar known name, for 'did you mean' hints (case-insensitive)."""
    pool = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(pool), n=1, cutoff=0.5)
    return pool[match[0]] if match else None


def section_matches(section: Section, wanted: str) -> bool:
    needle = wanted.lower()
    return needle in (section.id, section.title.lower())


def filter_entries(
    catalog: Catalog,
    checklist: Checklist,
    section: str | None = None,
    phase: str | None = None,
    owner: str | None = None,
) -> list[tuple[tuple[Section, ...], Item]]:
    """Checklist entries whose section, effective phase and owners match the filters."""
    selected: list[tuple[tuple[Section, ...], Item]] = []
    for path, item_id in checklist.entries():
        item = catalog.items[item_id]
        if section and not any(section_matches(s, section) for s in path):
            continue
        if phase and effective_phase(path, item) != phase:
            continue
        if owner and owner not in effective_owners(path, item):
            continue
        selected.append((path, item))
    return selected


def effective_phase(path: tuple[Section, ...], item: Item) -> str:
    """The phase a checklist places the item in (innermost section phase), else the item's."""
    for section in reversed(path):
        if section.phase:
            return section.phase
    return item.phase


def effective_owners(path: tuple[Section, ...], item: Item) -> tuple[str, ...]:
    """The item's owners plus the owners the checklist section assigns."""
    owners = list(item.owners)
    for section in path:
        owners.extend(o for o in section.owners if o not in owners)
    return tuple(owners)


def all_sections(checklist: Checklist) -> list[Section]:
    found: list[Section] = []

    def walk(sections: tuple[Section, ...]) -> None:
        for s in sections:
            found.append(s)
            walk(s.sections)

    walk(checklist.sections)
    return found


_WORD = re.compile(r"[a-z0-9]+")


def search(catalog: Catalog, text: str) -> list[tuple[str, str, str]]:
    """(kind, id, title) of everything whose text holds every word of the query."""
    words = _WORD.findall(text.lower())
    if not words:
        return []

    def hit(*fields: str | None) -> bool:
        blob = " ".join(f for f in fields if f).lower()
        return all(word in blob for word in words)

    results: list[tuple[str, str, str]] = []
    for item in catalog.items.values():
        if hit(item.id, item.title, item.rationale, item.remediation, item.manual, *item.tags):
            results.append(("item", item.id, item.title))
    for checklist in catalog.checklists.values():
        if hit(checklist.id, checklist.title, checklist.summary):
            results.append(("checklist", checklist.id, checklist.title))
    for signal in catalog.signals.values():
        if hit(signal.id, signal.name, signal.purpose, *signal.metrics, *signal.engine_args):
            results.append(("signal", signal.id, signal.name))
    for playbook in catalog.playbooks.values():
        texts = [e.title + " " + e.detail for s in playbook.sections for e in s.entries]
        if hit(playbook.id, playbook.title, playbook.summary, *texts):
            results.append(("playbook", playbook.id, playbook.title))
    for term in catalog.glossary.values():
        if hit(term.id, term.term, term.definition, *term.aliases):
            results.append(("term", term.id, term.term))
    return results


def find_term(catalog: Catalog, name: str) -> str | None:
    """Glossary id for a term id, name or alias (case-insensitive)."""
    wanted = name.strip().lower()
    for term in catalog.glossary.values():
        names = {term.id, term.term.lower(), *(a.lower() for a in term.aliases)}
        if wanted in names or wanted.replace(" ", "-") in names:
            return term.id
    return None
