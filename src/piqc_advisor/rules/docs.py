"""Reference pages for rules: what each checks, the item it proves, its parameters."""

from __future__ import annotations

import dataclasses

from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.knowledge.reference_docs import GENERATED_NOTE
from piqc_advisor.rules import ALL_RULES, OTHER_RULE_ITEMS
from piqc_advisor.rules.api import Rule
from piqc_advisor.rules.runtime import RUNTIME_RULES
from piqc_advisor.rules.runtime_fleet import FLEET_RULES
from piqc_advisor.runtime.drift import DRIFT_SUMMARY


def _rule_page(catalog: Catalog, rule: Rule) -> str:
    item = catalog.items[rule.item]
    lines = [
        GENERATED_NOTE,
        f"# {rule.name}",
        "",
        rule.summary,
        "",
        f"- Proves: [{item.id}](../items/{item.id}.md) {item.title}",
        f"- Severity (from the item, configurable): {item.severity}",
        "- Subject: one workload (object, role and serving container) of `piqc-advisor check`",
        "",
        "## Why it matters",
        "",
        item.rationale,
        "",
        "## How to fix",
        "",
        item.remediation,
    ]
    fields = dataclasses.fields(rule.params) if dataclasses.is_dataclass(rule.params) else ()
    if fields:
        lines += ["", "## Parameters", "", "Set them under `rules:` in `.piqc-advisor.yaml`:", ""]
        lines += ["```yaml", "rules:", f"  {rule.name}:"]
        lines += [f"    {f.name}: {getattr(rule.params, f.name)!r}" for f in fields]
        lines += ["```"]
    lines += [
        "",
        "## Examples",
        "",
        f"Passing and failing manifests: `tests/rules/cases/{rule.name}/` (the failing ones "
        "mark each expected finding with `# expect:`).",
    ]
    return "\n".join(lines) + "\n"


def rule_page_text(catalog: Catalog, rule: Rule) -> str:
    """The rule's page as plain text for `explain RULE` (no generated-file marker)."""
    return _rule_page(catalog, rule).split("\n", 1)[1]


def render_rule_pages(catalog: Catalog) -> dict[str, str]:
    """Relative path (under docs/reference/) -> page, for every rule and an index."""
    pages: dict[str, str] = {}
    index = [GENERATED_NOTE, "# Rules", "", "| rule | item | checks |", "|---|---|---|"]
    for rule in ALL_RULES:
        pages[f"rules/{rule.name}.md"] = _rule_page(catalog, rule)
        index.append(f"| [{rule.name}]({rule.name}.md) | {rule.item} | {rule.summary} |")
    index += ["", "## Rules over other subjects", "", "| rule | item | checks |", "|---|---|---|"]
    summaries = {r.name: r.summary for r in RUNTIME_RULES}
    summaries.update({r.name: r.summary for r in FLEET_RULES})
    summaries["modelspec-drift"] = "A ModelSpec field differs from what the manifests declare."
    summaries["runtime-config-drift"] = DRIFT_SUMMARY
    for name, item_id in OTHER_RULE_ITEMS.items():
        index.append(f"| {name} | [{item_id}](../items/{item_id}.md) | {summaries[name]} |")
    pages["rules/index.md"] = "\n".join(index) + "\n"
    return pages
