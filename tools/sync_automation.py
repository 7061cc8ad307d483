"""Add each registered rule to the `automation` list of the item it proves (idempotent)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from piqc_advisor.rules import ALL_RULES, OTHER_RULE_ITEMS

ITEMS = Path(__file__).resolve().parent.parent / "src" / "piqc_advisor" / "knowledge" / "items"


def main() -> int:
    wanted: dict[str, list[str]] = {}
    for rule in ALL_RULES:
        wanted.setdefault(rule.item, []).append(rule.name)
    for name, item_id in OTHER_RULE_ITEMS.items():
        wanted.setdefault(item_id, []).append(name)
    changed = 0
    for path in sorted(ITEMS.glob("*.yaml")):
        text = path.read_text()
        data = yaml.safe_load(text)
        for item in data["items"]:
            have = {a["rule"] for a in item.get("automation") or []}
            missing = [r for r in wanted.get(item["id"], []) if r not in have]
            if not missing:
                continue
            lines = "".join(f"      - rule: {name}\n" for name in missing)
            block = re.compile(rf"(  - id: {item['id']}\n)")
            if item.get("automation"):
                anchor = re.compile(rf"(  - id: {item['id']}\n(?:    .*\n|\n)*?    automation:\n)")
                text = anchor.sub(lambda m, lines=lines: m.group(1) + lines, text, count=1)
            else:
                text = block.sub(
                    lambda m, lines=lines: m.group(1) + "    automation:\n" + lines, text, count=1
                )
            changed += len(missing)
        path.write_text(text)
    print(f"added {changed} rule bindings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
