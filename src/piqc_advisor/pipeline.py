"""The check pipeline as the design reads: collect, facts, select, run, assess, Report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from piqc_advisor.collectors.scan import DEFAULT_MAX_FILE_BYTES, scan
from piqc_advisor.evaluation.assessment import assess_items, checklist_view
from piqc_advisor.evaluation.runner import run_rules
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.report import Coverage, Report
from piqc_advisor.rules import ALL_RULES
from piqc_advisor.rules.api import Rule


@dataclass(frozen=True)
class CheckOptions:
    paths: tuple[str, ...]
    checklists: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str = "high"
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    severities: dict[str, str] = field(default_factory=dict)


def _matches(rule: Rule, patterns: Sequence[str]) -> bool:
    """A rule matches an item id, an area prefix (SRV, SRV-0) or its own name."""
    return any(rule.name == p or rule.item == p or rule.item.startswith(p) for p in patterns)


def select_rules(options: CheckOptions) -> tuple[Rule, ...]:
    rules = [r for r in ALL_RULES if not options.select or _matches(r, options.select)]
    return tuple(r for r in rules if not _matches(r, options.ignore))


def check(catalog: Catalog, options: CheckOptions) -> Report:
    """Run the whole check over the inputs and return the Report."""
    facts = scan(list(options.paths), max_file_bytes=options.max_file_bytes)
    rules = select_rules(options)
    result = run_rules(rules, facts.workloads, catalog, severities=options.severities)
    statuses = assess_items(
        catalog, result.outcomes, result.findings, rule_names=[r.name for r in rules]
    )
    if options.checklists:
        chosen = [catalog.checklists[c] for c in options.checklists]
    else:
        touched = {f.item for f in result.findings}
        chosen = [c for c in catalog.checklists.values() if touched & set(c.item_ids())]
    views = tuple(checklist_view(catalog, c, statuses) for c in chosen)
    automated = sum(1 for i in catalog.items.values() if i.automation)
    return Report(
        inputs=facts.inputs,
        subjects=tuple(w.id for w in facts.workloads),
        findings=result.findings,
        outcomes=result.outcomes,
        items=statuses,
        checklists=views,
        problems=facts.problems,
        coverage=Coverage(len(catalog.items), automated, len(catalog.items) - automated),
        fail_on=options.fail_on,
    )
