"""Quick structural check of the knowledge-base YAML (schemas + cross references)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import yaml

KB = Path(__file__).resolve().parent.parent / "src" / "piqc_advisor" / "knowledge"


def _schema(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((KB / "schemas" / name).read_text()))


def main() -> int:
    errors: list[str] = []
    item_ids: dict[str, str] = {}
    areas = {a["code"] for a in yaml.safe_load((KB / "areas.yaml").read_text())["areas"]}
    item_schema = _schema("item.schema.json")
    for path in sorted((KB / "items").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for err in item_schema.iter_errors(data):
            errors.append(f"{path.name}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
        if not isinstance(data, dict):
            continue
        if data.get("area") not in areas:
            errors.append(f"{path.name}: unknown area {data.get('area')}")
        for item in data.get("items", []):
            iid = item.get("id", "?")
            if not str(iid).startswith(f"{data.get('area')}-"):
                errors.append(f"{path.name}: {iid} not in area {data.get('area')}")
            if iid in item_ids:
                errors.append(f"{path.name}: duplicate id {iid} (also in {item_ids[iid]})")
            item_ids[iid] = path.name
    signal_ids: set[str] = set()
    sig_path = KB / "signals.yaml"
    if sig_path.exists():
        data = yaml.safe_load(sig_path.read_text())
        for err in _schema("signals.schema.json").iter_errors(data):
            errors.append(f"signals.yaml: {'/'.join(map(str, err.absolute_path))}: {err.message}")
        signal_ids = {s["id"] for s in data.get("signals", [])}
    checklist_schema = _schema("checklist.schema.json")

    def walk(name: str, sections: list[dict], seen: set[str]) -> None:
        for sec in sections:
            if sec.get("id") in seen:
                errors.append(f"{name}: duplicate section id {sec.get('id')}")
            seen.add(sec.get("id"))
            for iid in sec.get("items", []):
                if iid not in item_ids:
                    errors.append(f"{name}: section {sec.get('id')}: unknown item {iid}")
            walk(name, sec.get("sections", []), seen)

    for path in sorted((KB / "checklists").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for err in checklist_schema.iter_errors(data):
            errors.append(f"{path.name}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
        if isinstance(data, dict):
            walk(path.name, data.get("sections", []), set())
    playbook_schema = _schema("playbook.schema.json")
    for path in sorted((KB / "playbooks").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for err in playbook_schema.iter_errors(data):
            errors.append(f"{path.name}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
    gl = KB / "glossary.yaml"
    if gl.exists():
        for err in _schema("glossary.schema.json").iter_errors(yaml.safe_load(gl.read_text())):
            errors.append(f"glossary.yaml: {'/'.join(map(str, err.absolute_path))}: {err.message}")
    for path in sorted((KB / "items").glob("*.yaml")):
        for item in (yaml.safe_load(path.read_text()) or {}).get("items", []):
            for sig in item.get("signals", []):
                if signal_ids and sig not in signal_ids:
                    errors.append(f"{path.name}: {item.get('id')}: unknown signal {sig}")
    for e in errors:
        print(e)
    print(f"{len(item_ids)} items, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
