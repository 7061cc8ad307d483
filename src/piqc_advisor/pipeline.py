"""The check pipeline as the design reads: collect, facts, select, run, assess, Report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from piqc_advisor.collectors.scan import DEFAULT_MAX_FILE_BYTES, scan
from piqc_advisor.evaluation.assessment import assess_items, checklist_view
from piqc_advisor.evaluation.runner import run_rules
from piqc_advisor.evaluation.waivers import Waiver, WaiverNote, annotation_waivers, apply_waivers
from piqc_advisor.findings import Finding
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.modelspec.integration import is_modelspec_problem, modelspec_drift
from piqc_advisor.report import Coverage, Report
from piqc_advisor.rules import ALL_RULES, OTHER_RULE_ITEMS, SPEC_DRIFT_RULE
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
    rule_params: dict[str, Any] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()
    allow_annotation_waivers: bool = True
    today: date | None = None
    attested: dict[str, str] = field(default_factory=dict)
    probes: tuple[str, ...] = ()
    probe_window: float = 10.0
    probe_samples: int = 2
    prometheus: str | None = None
    prometheus_selectors: tuple[str, ...] = ()
    prometheus_window: float = 300.0
    replica_label: str = "instance"
    # How --probe and --prometheus URLs are read; the token never shows in a repr.
    remote_token: str | None = field(default=None, repr=False)
    remote_verify: bool | str = True
    baseline: frozenset[str] = frozenset()


def _matches(rule: Rule, patterns: Sequence[str]) -> bool:
    """A rule matches an item id, an area prefix (SRV, SRV-0) or its own name."""
    return any(rule.name == p or rule.item == p or rule.item.startswith(p) for p in patterns)


def _drift_selected(options: CheckOptions) -> bool:
    """ModelSpec drift runs unless --select leaves it out or --ignore names it."""

    def hits(patterns: Sequence[str]) -> bool:
        return any(
            p == SPEC_DRIFT_RULE or OTHER_RULE_ITEMS[SPEC_DRIFT_RULE].startswith(p)
            for p in patterns
        )

    return (not options.select or hits(options.select)) and not hits(options.ignore)


def select_rules(options: CheckOptions) -> tuple[Rule, ...]:
    rules = [r for r in ALL_RULES if not options.select or _matches(r, options.select)]
    return tuple(r for r in rules if not _matches(r, options.ignore))


def check(catalog: Catalog, options: CheckOptions) -> Report:
    """Run the whole check over the inputs and return the Report."""
    facts = scan(list(options.paths), max_file_bytes=options.max_file_bytes)
    rules = select_rules(options)
    result = run_rules(
        rules, facts.workloads, catalog, params=options.rule_params, severities=options.severities
    )
    raw_findings, outcomes, rule_names = result.findings, result.outcomes, [r.name for r in rules]
    problems = facts.problems
    has_specs = any(key.startswith("ModelSpec/") for key in facts.not_understood)
    if _drift_selected(options):
        rule_names.append(SPEC_DRIFT_RULE)
    if has_specs and _drift_selected(options):
        # Reading the specs parses their files again, so only when the scan saw one.
        drift = modelspec_drift(options.paths, facts.workloads, catalog, options.max_file_bytes)
        raw_findings = tuple(sorted((*raw_findings, *drift.findings), key=Finding.sort_key))
        outcomes = (*outcomes, *drift.outcomes)
        # ModelSpecs are understood here, so the scanner's "not understood" note goes.
        problems = tuple(p for p in problems if not is_modelspec_problem(p))
    if options.probes:
        from piqc_advisor.runtime.checks import check_servers
        from piqc_advisor.runtime.probe import ProbeOptions

        servers = check_servers(
            options.probes,
            facts.workloads,
            catalog,
            ProbeOptions(token=options.remote_token, verify=options.remote_verify),
            options.probe_samples,
            options.probe_window,
        )
        raw_findings = tuple(sorted((*raw_findings, *servers.findings), key=Finding.sort_key))
        outcomes = (*outcomes, *servers.outcomes)
        rule_names += [name for name in OTHER_RULE_ITEMS if name.startswith("runtime-")]
        problems = (*problems, *servers.problems)
    if options.prometheus:
        from piqc_advisor.runtime.fleet_checks import check_fleets
        from piqc_advisor.runtime.probe import ProbeOptions

        fleets = check_fleets(
            options.prometheus,
            options.prometheus_selectors,
            facts.workloads,
            catalog,
            ProbeOptions(token=options.remote_token, verify=options.remote_verify),
            options.prometheus_window,
            options.replica_label,
        )
        raw_findings = tuple(sorted((*raw_findings, *fleets.findings), key=Finding.sort_key))
        outcomes = (*outcomes, *fleets.outcomes)
        rule_names += [n for n in OTHER_RULE_ITEMS if n.startswith("runtime-")]
        problems = (*problems, *fleets.problems)
    waivers = [*options.waivers, *facts.inline_waivers]
    notes = list(facts.waiver_notes)
    from_annotations, annotation_notes = annotation_waivers(facts.workloads)
    if options.allow_annotation_waivers:
        waivers += from_annotations
        notes += annotation_notes
    else:
        notes += [
            WaiverNote(
                "forbidden", f"{w.describe()}: annotation waivers are switched off", w.origin
            )
            for w in from_annotations
        ]
    findings, applied = apply_waivers(
        raw_findings, waivers, catalog.items, options.today or date.today()
    )
    notes += applied
    if options.baseline:
        # Findings already in the baseline run stay visible but suppressed, like waived ones,
        # so only new findings fail the run and items are not shown as satisfied.
        findings = tuple(
            replace(f, waived_by="baseline: present in the baseline report")
            if f.fingerprint in options.baseline and not f.waived
            else f
            for f in findings
        )
    statuses = assess_items(catalog, outcomes, findings, options.attested, rule_names=rule_names)
    if options.checklists:
        chosen = [catalog.checklists[c] for c in options.checklists]
    else:
        touched = {f.item for f in findings}
        chosen = [c for c in catalog.checklists.values() if touched & set(c.item_ids())]
    views = tuple(checklist_view(catalog, c, statuses) for c in chosen)
    automated = sum(1 for i in catalog.items.values() if i.automation)
    return Report(
        inputs=facts.inputs,
        subjects=tuple(
            dict.fromkeys([*(w.id for w in facts.workloads), *(o.subject for o in outcomes)])
        ),
        findings=findings,
        outcomes=outcomes,
        items=statuses,
        checklists=views,
        problems=problems,
        coverage=Coverage(len(catalog.items), automated, len(catalog.items) - automated),
        fail_on=options.fail_on,
        waiver_notes=tuple(notes),
    )
