"""Load the knowledge base from YAML, validate it against its schemas and cross-check references."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import jsonschema

from piqc_advisor.knowledge.model import (
    Area,
    Catalog,
    Checklist,
    ChecklistMetric,
    Control,
    GlossaryTerm,
    Item,
    MaturityLevel,
    Playbook,
    PlaybookEntry,
    PlaybookSection,
    RuleBinding,
    Section,
    Signal,
)
from piqc_advisor.safe_yaml import DataFileError, load_yaml_file

BUILTIN_DIR = Path(str(resources.files("piqc_advisor.knowledge")))
# Built-in checklists in the order users meet them: the core readiness views first.
CHECKLIST_ORDER: tuple[str, ...] = (
    "genai-deployment",
    "deployment-quality",
    "llm-inference-readiness",
    "infra-audit-42",
    "governance-compliance",
    "vllm-runtime-signals",
    "cluster-bringup",
    "inference-optimization",
    "infra-best-practices",
    "vllm-on-eks",
    "vllm-on-gke",
    "vllm-on-runpod",
)


@dataclass(frozen=True)
class KbProblem:
    """One reason the knowledge base cannot be loaded: file, where in it, what is wrong."""

    path: str
    where: str
    message: str

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.path}:{where} {self.message}"


class KnowledgeError(Exception):
    """The knowledge base (built-in or an extension) is invalid; nothing is loaded."""

    def __init__(self, problems: Sequence[KbProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid knowledge base ({len(self.problems)} problems):\n{lines}")


@cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    text = (BUILTIN_DIR / "schemas" / schema_name).read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def schema_text(schema_name: str) -> str:
    """The published JSON Schema for one kind of knowledge file."""
    return (BUILTIN_DIR / "schemas" / schema_name).read_text(encoding="utf-8")


def _pointer(parts: Iterable[Any], data: Any) -> str:
    """A readable location: item or section id when the path passes through one, else the path."""
    path = list(parts)
    labels: list[str] = []
    node = data
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            labels.append(str(part))
            continue
        if isinstance(part, int) and isinstance(node, dict) and isinstance(node.get("id"), str):
            labels.append(f"[{node['id']}]")
        else:
            labels.append(str(part) if not isinstance(part, int) else f"[{part}]")
    return "/".join(labels)


class _Reader:
    """Accumulates problems while reading one or more knowledge directories."""

    def __init__(self) -> None:
        self.problems: list[KbProblem] = []

    def add(self, path: Path | str, where: str, message: str) -> None:
        self.problems.append(KbProblem(str(path), where, message))

    def read(self, path: Path, schema_name: str) -> dict[str, Any] | None:
        try:
            data = load_yaml_file(path)
        except DataFileError as exc:
            self.add(path, f"line {exc.line}" if exc.line else "", exc.message)
            return None
        if not isinstance(data, dict):
            self.add(path, "", f"expected a mapping at the top, found {type(data).__name__}")
            return None
        errors = sorted(_validator(schema_name).iter_errors(data), key=lambda e: list(e.path))
        for error in errors:
            self.add(path, _pointer(error.absolute_path, data), error.message)
        return None if errors else cast(dict[str, Any], data)


def _tuple(data: Mapping[str, Any], key: str) -> tuple[Any, ...]:
    return tuple(data.get(key) or ())


def _item(raw: Mapping[str, Any], area: str, source: str) -> Item:
    control = raw.get("control")
    return Item(
        id=raw["id"],
        area=area,
        title=raw["title"],
        severity=raw["severity"],
        phase=raw["phase"],
        owners=_tuple(raw, "owners"),
        rationale=raw["rationale"].strip(),
        remediation=raw["remediation"].strip(),
        verified_by=_tuple(raw, "verified_by"),
        source_file=source,
        origin=raw.get("origin", "piqc-kb"),
        manual=raw["manual"].strip() if raw.get("manual") else None,
        automation=tuple(
            RuleBinding(b["rule"], tuple(sorted((b.get("params") or {}).items())))
            for b in raw.get("automation") or ()
        ),
        applies_to=tuple(
            (key, tuple(values)) for key, values in sorted((raw.get("applies_to") or {}).items())
        ),
        signals=_tuple(raw, "signals"),
        playbooks=_tuple(raw, "playbooks"),
        glossary=_tuple(raw, "glossary"),
        tags=_tuple(raw, "tags"),
        references=_tuple(raw, "references"),
        control=Control(
            evidence=_tuple(control, "evidence"),
            automation_readiness=control.get("automation_readiness"),
            review_cadence=control.get("review_cadence"),
        )
        if control
        else None,
        retired=bool(raw.get("retired", False)),
    )


def _section(raw: Mapping[str, Any]) -> Section:
    return Section(
        id=raw["id"],
        title=raw["title"],
        items=_tuple(raw, "items"),
        sections=tuple(_section(sub) for sub in raw.get("sections") or ()),
        summary=raw.get("summary"),
        phase=raw.get("phase"),
        owners=_tuple(raw, "owners"),
        domain=raw.get("domain"),
        review_cadence=raw.get("review_cadence"),
        source=raw.get("source"),
    )


def _checklist(raw: Mapping[str, Any], source: str) -> Checklist:
    return Checklist(
        id=raw["id"],
        title=raw["title"],
        summary=raw["summary"].strip(),
        sections=tuple(_section(s) for s in raw["sections"]),
        source_file=source,
        version=raw.get("version"),
        source=raw.get("source"),
        origin=raw.get("origin", "piqc-kb"),
        columns=_tuple(raw, "columns"),
        maturity_scale=tuple(
            MaturityLevel(m["level"], m["label"], m["meaning"])
            for m in raw.get("maturity_scale") or ()
        ),
        metrics=tuple(
            ChecklistMetric(
                m["id"], m["name"], m["definition"].strip(), m.get("unit"), _tuple(m, "signals")
            )
            for m in raw.get("metrics") or ()
        ),
    )


def _playbook(raw: Mapping[str, Any], source: str) -> Playbook:
    return Playbook(
        id=raw["id"],
        title=raw["title"],
        summary=raw["summary"].strip(),
        source_file=source,
        source=raw.get("source"),
        items=_tuple(raw, "items"),
        signals=_tuple(raw, "signals"),
        sections=tuple(
            PlaybookSection(
                id=s["id"],
                title=s["title"],
                kind=s.get("kind"),
                entries=tuple(
                    PlaybookEntry(
                        id=e["id"],
                        title=e["title"],
                        detail=e["detail"].strip(),
                        signals=_tuple(e, "signals"),
                        items=_tuple(e, "items"),
                        engine_args=_tuple(e, "engine_args"),
                    )
                    for e in s["entries"]
                ),
            )
            for s in raw["sections"]
        ),
    )


def _term(raw: Mapping[str, Any]) -> GlossaryTerm:
    return GlossaryTerm(
        id=raw["id"],
        term=raw["term"],
        category=raw["category"],
        definition=raw["definition"].strip(),
        aliases=_tuple(raw, "aliases"),
        why_it_matters=(raw.get("why_it_matters") or "").strip() or None,
        related=_tuple(raw, "related"),
        signals=_tuple(raw, "signals"),
        items=_tuple(raw, "items"),
    )


def _display(path: Path, root: Path, builtin: bool) -> str:
    relative = path.relative_to(root).as_posix()
    return f"knowledge/{relative}" if builtin else str(path)


def _load_dir(root: Path, builtin: bool, reader: _Reader, parts: dict[str, dict[str, Any]]) -> None:
    if not root.is_dir():
        reader.add(root, "", "knowledge path is not a directory")
        return
    areas_file = root / "areas.yaml"
    if areas_file.exists():
        data = reader.read(areas_file, "areas.schema.json")
        for raw in (data or {}).get("areas", []):
            if raw["code"] in parts["areas"]:
                reader.add(areas_file, raw["code"], "area is already defined")
            parts["areas"][raw["code"]] = Area(raw["code"], raw["title"])
    for path in sorted((root / "items").glob("*.yaml")):
        data = reader.read(path, "item.schema.json")
        if data is None:
            continue
        shown = _display(path, root, builtin)
        area = data["area"]
        for raw in data["items"]:
            item = _item(raw, area, shown)
            if item.id in parts["items"]:
                other = parts["items"][item.id].source_file
                reader.add(path, f"[{item.id}]", f"duplicate item id (also in {other})")
            parts["items"][item.id] = item
    for path in sorted((root / "checklists").glob("*.yaml")):
        data = reader.read(path, "checklist.schema.json")
        if data is not None:
            checklist = _checklist(data, _display(path, root, builtin))
            if checklist.id in parts["checklists"]:
                reader.add(path, checklist.id, "duplicate checklist id")
            parts["checklists"][checklist.id] = checklist
    for path in sorted((root / "playbooks").glob("*.yaml")):
        data = reader.read(path, "playbook.schema.json")
        if data is not None:
            playbook = _playbook(data, _display(path, root, builtin))
            if playbook.id in parts["playbooks"]:
                reader.add(path, playbook.id, "duplicate playbook id")
            parts["playbooks"][playbook.id] = playbook
    signals_file = root / "signals.yaml"
    if signals_file.exists():
        data = reader.read(signals_file, "signals.schema.json")
        for raw in (data or {}).get("signals", []):
            if raw["id"] in parts["signals"]:
                reader.add(signals_file, raw["id"], "duplicate signal id")
            parts["signals"][raw["id"]] = Signal(
                id=raw["id"],
                number=raw["number"],
                name=raw["name"],
                group=raw["group"],
                kind=raw["kind"],
                sources=_tuple(raw, "sources"),
                purpose=raw["purpose"].strip(),
                metrics=_tuple(raw, "metrics"),
                engine_args=_tuple(raw, "engine_args"),
                unit=raw.get("unit"),
            )
    glossary_file = root / "glossary.yaml"
    if glossary_file.exists():
        data = reader.read(glossary_file, "glossary.schema.json")
        for raw in (data or {}).get("terms", []):
            if raw["id"] in parts["glossary"]:
                reader.add(glossary_file, raw["id"], "duplicate glossary term")
            parts["glossary"][raw["id"]] = _term(raw)


def _cross_check(catalog: Catalog, reader: _Reader) -> None:
    items, signals, playbooks = catalog.items, catalog.signals, catalog.playbooks
    terms = catalog.glossary
    for item in items.values():
        where = f"[{item.id}]"
        if item.area not in catalog.areas:
            reader.add(item.source_file, where, f"unknown area {item.area!r}")
        if not item.id.startswith(f"{item.area}-"):
            reader.add(item.source_file, where, f"id does not belong to area {item.area}")
        for sig in item.signals:
            if sig not in signals:
                reader.add(item.source_file, f"{where}/signals", f"unknown signal {sig!r}")
        for pb in item.playbooks:
            if pb not in playbooks:
                reader.add(item.source_file, f"{where}/playbooks", f"unknown playbook {pb!r}")
        for term_id in item.glossary:
            if term_id not in terms:
                reader.add(item.source_file, f"{where}/glossary", f"unknown term {term_id!r}")
    for checklist in catalog.checklists.values():
        seen: set[str] = set()
        for path, item_id in checklist.entries():
            where = "/".join(s.id for s in path)
            if item_id not in items:
                reader.add(checklist.source_file, where, f"unknown item {item_id!r}")
            elif items[item_id].retired:
                reader.add(checklist.source_file, where, f"item {item_id} is retired")
        for section in _all_sections(checklist.sections):
            if section.id in seen:
                reader.add(checklist.source_file, section.id, "duplicate section id")
            seen.add(section.id)
        for metric in checklist.metrics:
            for sig in metric.signals:
                if sig not in signals:
                    reader.add(
                        checklist.source_file, f"metrics/{metric.id}", f"unknown signal {sig!r}"
                    )
    for playbook in playbooks.values():
        refs = [("", playbook.items, playbook.signals)] + [
            (f"{s.id}/{e.id}", e.items, e.signals) for s in playbook.sections for e in s.entries
        ]
        for where, item_refs, signal_refs in refs:
            for item_id in item_refs:
                if item_id not in items:
                    reader.add(playbook.source_file, where, f"unknown item {item_id!r}")
            for sig in signal_refs:
                if sig not in signals:
                    reader.add(playbook.source_file, where, f"unknown signal {sig!r}")
    for term in terms.values():
        for rel in term.related:
            if rel not in terms:
                reader.add("glossary.yaml", term.id, f"unknown related term {rel!r}")
        for sig in term.signals:
            if sig not in signals:
                reader.add("glossary.yaml", term.id, f"unknown signal {sig!r}")
        for item_id in term.items:
            if item_id not in items:
                reader.add("glossary.yaml", term.id, f"unknown item {item_id!r}")


def _all_sections(sections: Sequence[Section]) -> Iterable[Section]:
    for section in sections:
        yield section
        yield from _all_sections(section.sections)


def load_catalog(extra_dirs: Sequence[Path] = ()) -> Catalog:
    """Load the built-in knowledge base plus organisation extensions; all-or-nothing."""
    reader = _Reader()
    parts: dict[str, dict[str, Any]] = {
        k: {} for k in ("areas", "items", "checklists", "signals", "playbooks", "glossary")
    }
    _load_dir(BUILTIN_DIR, True, reader, parts)
    for extra in extra_dirs:
        _load_dir(Path(extra), False, reader, parts)
    catalog = Catalog(
        areas=parts["areas"],
        items=dict(sorted(parts["items"].items())),
        checklists=dict(
            sorted(
                parts["checklists"].items(),
                key=lambda kv: (
                    CHECKLIST_ORDER.index(kv[0])
                    if kv[0] in CHECKLIST_ORDER
                    else len(CHECKLIST_ORDER),
                    kv[0],
                ),
            )
        ),
        signals=dict(sorted(parts["signals"].items(), key=lambda kv: kv[1].number)),
        playbooks=parts["playbooks"],
        glossary=dict(sorted(parts["glossary"].items())),
        sources=(str(BUILTIN_DIR), *(str(p) for p in extra_dirs)),
    )
    _cross_check(catalog, reader)
    if reader.problems:
        raise KnowledgeError(reader.problems)
    return catalog


@cache
def builtin_catalog() -> Catalog:
    """The built-in knowledge base, loaded once per process."""
    return load_catalog()
