"""Command-line interface: `piqc-advisor` and its subcommands."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from piqc_advisor import __version__
from piqc_advisor.explain import explain_any, explain_text
from piqc_advisor.knowledge.export import (
    export_answers,
    export_json_data,
    export_markdown,
    export_yaml,
)
from piqc_advisor.knowledge.model import PHASES, Catalog, Checklist
from piqc_advisor.knowledge.queries import (
    all_sections,
    closest,
    coverage,
    effective_owners,
    effective_phase,
    filter_entries,
    find_term,
    search,
    section_matches,
)
from piqc_advisor.terminal import (
    Output,
    TextTable,
    dump_json,
    dump_json_for,
    dump_yaml,
    join,
    pause_gc_for_this_command,
)

if TYPE_CHECKING:
    from piqc_advisor.collectors.yaml_source import Problem
    from piqc_advisor.facts.workload import Workload
    from piqc_advisor.report import Report
    from piqc_advisor.rules.api import Rule

EXIT_OK = 0
EXIT_USAGE = 2
KB_PATH_ENV = "PIQC_ADVISOR_KB_PATH"
LISTING_FORMATS = click.Choice(["table", "json"])


class _State:
    def __init__(self, kb_paths: Sequence[Path]) -> None:
        self.kb_paths = tuple(kb_paths)
        self._catalog: Catalog | None = None

    def catalog(self) -> Catalog:
        from piqc_advisor.knowledge.loader import KnowledgeError, load_catalog

        if self._catalog is None:
            try:
                self._catalog = load_catalog(self.kb_paths)
            except KnowledgeError as exc:
                click.echo(f"piqc-advisor: error: {exc}", err=True)
                sys.exit(EXIT_USAGE)
        return self._catalog


def _usage_error(message: str, hint: str | None = None) -> NoReturn:
    text = f"piqc-advisor: error: {message}"
    if hint:
        text += f" (did you mean {hint!r}?)"
    click.echo(text, err=True)
    sys.exit(EXIT_USAGE)


def _checklist(catalog: Catalog, name: str) -> Checklist:
    if name not in catalog.checklists:
        _usage_error(f"unknown checklist {name!r}", closest(name, catalog.checklists))
    return catalog.checklists[name]


def _state(ctx: click.Context) -> _State:
    state = ctx.find_object(_State)
    assert state is not None
    return state


LAZY_COMMANDS: dict[str, str] = {}


class _LazyGroup(click.Group):
    """A command group that imports the commands of other modules only when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module_name, attribute = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="piqc-advisor")
@click.option(
    "--kb-path",
    "kb_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help=f"Extra knowledge directory (items/, checklists/, ...); repeatable. Also ${KB_PATH_ENV}.",
)
@click.pass_context
def main(ctx: click.Context, kb_paths: tuple[Path, ...]) -> None:
    """Check GenAI model deployments against the PIQC readiness knowledge base."""
    env_paths = [Path(p) for p in os.environ.get(KB_PATH_ENV, "").split(os.pathsep) if p]
    ctx.obj = _State([*env_paths, *kb_paths])


@main.group()
def kb() -> None:
    """Browse, search and export the knowledge base."""


@kb.command("list")
@click.option("--format", "fmt", type=LISTING_FORMATS, default="table", show_default=True)
@click.pass_context
def kb_list(ctx: click.Context, fmt: str) -> None:
    """List checklists with item counts and automated-vs-manual coverage."""
    catalog = _state(ctx).catalog()
    rows = []
    for checklist in catalog.checklists.values():
        cov = coverage(catalog, checklist)
        rows.append(
            {
                "id": checklist.id,
                "title": checklist.title,
                "sections": len(checklist.sections),
                "items": cov.items,
                "automated": cov.automated,
                "manual": cov.manual,
            }
        )
    if fmt == "json":
        click.echo(dump_json({"checklists": rows}), nl=False)
        return
    total = len(catalog.items)
    automated = sum(1 for item in catalog.items.values() if item.automation)
    Output().table(
        TextTable(
            headers=("CHECKLIST", "SECTIONS", "ITEMS", "AUTOMATED", "MANUAL", "TITLE"),
            rows=tuple(
                (
                    str(r["id"]),
                    str(r["sections"]),
                    str(r["items"]),
                    str(r["automated"]),
                    str(r["manual"]),
                    str(r["title"]),
                )
                for r in rows
            ),
            footer=(
                f"{len(rows)} checklists over {total} distinct items: "
                f"{automated} automated, {total - automated} manual.",
            ),
        )
    )


@kb.command("show")
@click.argument("checklist_id", metavar="CHECKLIST")
@click.option("--section", help="Only this section (id or title).")
@click.option("--phase", type=click.Choice(PHASES), help="Only items in this phase.")
@click.option("--owner", help="Only items this owner is responsible for (e.g. sre, mlops).")
@click.option("--format", "fmt", type=LISTING_FORMATS, default="table", show_default=True)
@click.pass_context
def kb_show(
    ctx: click.Context,
    checklist_id: str,
    section: str | None,
    phase: str | None,
    owner: str | None,
    fmt: str,
) -> None:
    """Show a checklist's items, section by section."""
    catalog = _state(ctx).catalog()
    checklist = _checklist(catalog, checklist_id)
    sections = all_sections(checklist)
    if section and not any(section_matches(s, section) for s in sections):
        hint = closest(section, [s.id for s in sections] + [s.title for s in sections])
        _usage_error(f"checklist {checklist.id} has no section {section!r}", hint)
    if owner:
        known = {
            o for path, i in checklist.entries() for o in effective_owners(path, catalog.items[i])
        }
        if owner not in known:
            _usage_error(f"no item of {checklist.id} is owned by {owner!r}", closest(owner, known))
    entries = filter_entries(catalog, checklist, section, phase, owner)
    if fmt == "json":
        data: dict[str, Any] = {"checklist": checklist.id, "title": checklist.title, "entries": []}
        for path, item in entries:
            data["entries"].append(
                {
                    "section": [s.id for s in path],
                    "section_title": " / ".join(s.title for s in path),
                    "id": item.id,
                    "title": item.title,
                    "severity": item.severity,
                    "phase": effective_phase(path, item),
                    "owners": list(effective_owners(path, item)),
                    "verification": item.verification,
                    "rules": list(item.rules),
                }
            )
        click.echo(dump_json(data), nl=False)
        return
    out = Output()
    cov = coverage(catalog, checklist)
    out.heading(f"{checklist.title} ({checklist.id})")
    current: str | None = None
    rows: list[tuple[str, ...]] = []

    def flush() -> None:
        if current is not None and rows:
            out.table(
                TextTable(
                    headers=("ID", "SEVERITY", "PHASE", "OWNERS", "VERIFIED", "TITLE"),
                    rows=tuple(rows),
                    title=f"\n{current}",
                )
            )

    for path, item in entries:
        title = " / ".join(s.title for s in path)
        if title != current:
            flush()
            current, rows = title, []
        rows.append(
            (
                item.id,
                item.severity,
                effective_phase(path, item),
                join(effective_owners(path, item)),
                "auto" if item.automation else "manual",
                item.title,
            )
        )
    flush()
    out.text(
        f"\n{len(entries)} entries shown; checklist coverage: {cov.automated} of {cov.items} "
        f"items automated, {cov.manual} manual."
    )


@kb.command("search")
@click.argument("text")
@click.option("--format", "fmt", type=LISTING_FORMATS, default="table", show_default=True)
@click.pass_context
def kb_search(ctx: click.Context, text: str, fmt: str) -> None:
    """Find items, checklists, signals, playbooks and terms containing every word of TEXT."""
    results = search(_state(ctx).catalog(), text)
    if fmt == "json":
        click.echo(
            dump_json(
                {
                    "query": text,
                    "results": [{"kind": k, "id": i, "title": t} for k, i, t in results],
                }
            ),
            nl=False,
        )
        return
    if not results:
        Output().text(f"nothing matches {text!r}")
        return
    Output().table(TextTable(headers=("KIND", "ID", "TITLE"), rows=tuple(results)))


@kb.command("glossary")
@click.argument("term", required=False)
@click.option("--format", "fmt", type=LISTING_FORMATS, default="table", show_default=True)
@click.pass_context
def kb_glossary(ctx: click.Context, term: str | None, fmt: str) -> None:
    """List glossary terms, or define TERM (id, name or alias)."""
    catalog = _state(ctx).catalog()
    if term is None:
        terms = list(catalog.glossary.values())
        if fmt == "json":
            click.echo(
                dump_json(
                    {"terms": [{"id": t.id, "term": t.term, "category": t.category} for t in terms]}
                ),
                nl=False,
            )
            return
        Output().table(
            TextTable(
                headers=("ID", "TERM", "CATEGORY"),
                rows=tuple((t.id, t.term, t.category) for t in terms),
            )
        )
        return
    term_id = find_term(catalog, term)
    if term_id is None:
        names = [t.term for t in catalog.glossary.values()] + list(catalog.glossary)
        _usage_error(f"unknown glossary term {term!r}", closest(term, names))
    data = explain_any(catalog, term_id)
    assert data is not None
    if fmt == "json":
        click.echo(dump_json(data), nl=False)
    else:
        Output().text(explain_text(data))


@kb.command("signals")
@click.option("--format", "fmt", type=LISTING_FORMATS, default="table", show_default=True)
@click.pass_context
def kb_signals(ctx: click.Context, fmt: str) -> None:
    """List the runtime signal table that items and rules reference by id."""
    signals = list(_state(ctx).catalog().signals.values())
    if fmt == "json":
        click.echo(
            dump_json(
                {
                    "signals": [
                        {
                            "id": s.id,
                            "number": s.number,
                            "name": s.name,
                            "group": s.group,
                            "kind": s.kind,
                            "sources": list(s.sources),
                            "metrics": list(s.metrics),
                            "engine_args": list(s.engine_args),
                            "unit": s.unit,
                            "purpose": s.purpose,
                        }
                        for s in signals
                    ]
                }
            ),
            nl=False,
        )
        return
    Output().table(
        TextTable(
            headers=("#", "ID", "KIND", "SOURCES", "NAME"),
            rows=tuple((str(s.number), s.id, s.kind, join(s.sources), s.name) for s in signals),
        )
    )


@kb.command("export")
@click.argument("checklist_id", metavar="CHECKLIST")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "yaml"]),
    default="markdown",
    show_default=True,
)
@click.option("--answers", is_flag=True, help="Write the attestation answers template instead.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.pass_context
def kb_export(
    ctx: click.Context, checklist_id: str, fmt: str, answers: bool, output: Path | None
) -> None:
    """Export a fillable checklist (Markdown) or its data, or an answers template."""
    catalog = _state(ctx).catalog()
    checklist = _checklist(catalog, checklist_id)
    if answers:
        text = export_answers(catalog, checklist)
    elif fmt == "markdown":
        text = export_markdown(catalog, checklist)
    elif fmt == "json":
        text = dump_json(export_json_data(catalog, checklist))
    else:
        text = export_yaml(catalog, checklist)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _usage_error(f"cannot write {output}: {exc.strerror or exc}")


@kb.command("validate")
@click.pass_context
def kb_validate(ctx: click.Context) -> None:
    """Validate the knowledge base and every --kb-path extension; exit 2 on any problem."""
    catalog = _state(ctx).catalog()
    click.echo(
        f"knowledge base valid: {len(catalog.items)} items, {len(catalog.checklists)} checklists, "
        f"{len(catalog.signals)} signals, {len(catalog.playbooks)} playbooks, "
        f"{len(catalog.glossary)} glossary terms"
    )


@main.command("explain")
@click.argument("name", metavar="ID")
@click.option("--format", "fmt", type=LISTING_FORMATS, default="table", show_default=True)
@click.pass_context
def explain(ctx: click.Context, name: str, fmt: str) -> None:
    """Explain an item such as SRV-004, a rule, checklist, signal, playbook or term."""
    catalog = _state(ctx).catalog()
    data = explain_any(catalog, name)
    if data is None and fmt == "table":
        from piqc_advisor.rules import RULES_BY_NAME
        from piqc_advisor.rules.docs import rule_page_text

        if name in RULES_BY_NAME:
            Output().text(rule_page_text(catalog, RULES_BY_NAME[name]))
            return
    if data is None:
        candidates = [
            *catalog.items,
            *catalog.checklists,
            *catalog.signals,
            *catalog.playbooks,
            *catalog.glossary,
            *_all_rule_names(),
        ]
        _usage_error(f"nothing in the knowledge base is called {name!r}", closest(name, candidates))
    if fmt == "json":
        click.echo(dump_json(data), nl=False)
    else:
        Output().text(explain_text(data))


EXIT_INPUT_ERROR = 3


def _problem_line(problem: Problem) -> str:
    where = problem.path
    if problem.line:
        where += f":{problem.line}"
        if problem.col:
            where += f":{problem.col}"
    return f"{where}: {problem.severity}: {problem.message} [{problem.code}]"


def _serving_cell(workload: Workload, key: str) -> str:
    declared = workload.serving.get(key)
    if declared is not None:
        return str(declared.value)
    value = workload.effective.get(key)
    return f"({value})" if value is not None else "-"


@main.command("facts")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
)
@click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Skip (and report) input files larger than this many MiB.",
)
def facts(paths: tuple[str, ...], fmt: str, max_file_size: int) -> None:
    """Scan manifests (files, directories, - for stdin) into normalized deployment facts.

    Exit code 0 when every input was read, 3 when any could not be.
    """
    from piqc_advisor.collectors.scan import scan, scan_rendered

    _pause_gc_for_this_command()
    limit = max_file_size * 1024 * 1024
    if fmt == "json" and not sys.stdout.isatty():
        # Compact JSON for a pipe or file: each scanning process writes its own workloads.
        rendered = scan_rendered(list(paths), max_file_bytes=limit)
        store = rendered.store
        sys.stdout.flush()
        sys.stdout.buffer.write(rendered.to_json_bytes())
        sys.stdout.buffer.flush()
    else:
        store = scan(list(paths), max_file_bytes=limit)
    if fmt == "json":
        if sys.stdout.isatty():
            click.echo(dump_json_for(sys.stdout, store.to_json()), nl=False)
    elif fmt == "yaml":
        click.echo(
            dump_yaml(store.to_json()),
            nl=False,
        )
    else:
        from piqc_advisor.sizing.from_workload import sizing_cell, workload_sizing

        rows = []
        for w in store.workloads:
            engine = f"{w.engine.name} {w.engine.version or ''}".strip() if w.engine else "-"
            model = w.serving.get("model")
            rows.append(
                (
                    w.id,
                    engine,
                    str(model.value) if model is not None else "-",
                    _serving_cell(w, "tensor_parallel_size"),
                    str(w.gpus_per_replica) if w.gpus_per_replica is not None else "-",
                    str(w.replicas.value) if w.replicas is not None else "(1)",
                    sizing_cell(workload_sizing(w)),
                    w.source.short(),
                )
            )
        Output().table(
            TextTable(
                headers=(
                    "WORKLOAD",
                    "ENGINE",
                    "MODEL",
                    "TP",
                    "GPUS/REPLICA",
                    "REPLICAS",
                    "SIZING",
                    "SOURCE",
                ),
                rows=tuple(rows),
                footer=(
                    f"{store.objects} objects in {len(store.inputs)} files gave "
                    f"{len(store.workloads)} workloads; {len(store.problems)} problems. "
                    "Values in parentheses are engine defaults.",
                    "SIZING: max_model_len sequences the KV cache holds; details in --format json.",
                ),
            )
        )
    for problem in store.problems:
        click.echo(_problem_line(problem), err=True)
    if store.input_errors:
        sys.exit(EXIT_INPUT_ERROR)


EXIT_FINDINGS = 1
REPORT_FORMATS = ("table", "json", "sarif", "junit", "markdown", "github")


def _render(fmt: str, report: Report, catalog: Catalog) -> str:
    """One report format; `github` also appends its job summary to $GITHUB_STEP_SUMMARY."""
    from piqc_advisor.reporters.github import render_github
    from piqc_advisor.reporters.junit import render_junit
    from piqc_advisor.reporters.markdown import render_markdown
    from piqc_advisor.reporters.sarif import render_sarif
    from piqc_advisor.reporters.text import render_text

    if fmt == "json":
        return dump_json(report.to_json())
    if fmt == "sarif":
        return render_sarif(report, catalog)
    if fmt == "junit":
        return render_junit(report, catalog)
    if fmt == "markdown":
        return render_markdown(report, catalog)
    if fmt == "github":
        annotations, summary = render_github(report, catalog)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(summary)
        return annotations
    return render_text(report)


@main.command("check")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="table",
    show_default=True,
    help="Report format on standard output.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT=PATH",
    help="Also write a report in FORMAT to PATH; repeatable.",
)
@click.option(
    "--checklist",
    "checklists",
    multiple=True,
    help="Show the readiness view of this checklist (repeatable); default: those findings touch.",
)
@click.option(
    "--select",
    multiple=True,
    help="Run only rules for these item ids, area prefixes or rule names.",
)
@click.option(
    "--ignore", multiple=True, help="Skip rules for these item ids, area prefixes or rule names."
)
@click.option(
    "--fail-on",
    type=click.Choice(["critical", "high", "medium", "low", "info"]),
    default=None,
    help="Exit 1 when an unwaived finding is at or above this severity [default: high].",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Configuration file (default: .piqc-advisor.yaml or pyproject.toml here).",
)
@click.option("--exit-zero", is_flag=True, help="Always exit 0 on findings (report-only runs).")
@click.option(
    "--probe",
    "probe_urls",
    multiple=True,
    metavar="URL",
    help="Also read a running server (base URL) and report its runtime diagnoses; repeatable.",
)
@click.option("--probe-window", default="10s", show_default=True, help="Time the samples span.")
@click.option("--probe-samples", type=click.IntRange(1, 100), default=2, show_default=True)
@click.option(
    "--prometheus",
    metavar="URL",
    help="Also read deployments' replicas from this Prometheus and report their diagnoses.",
)
@click.option(
    "--selector",
    "selectors",
    multiple=True,
    metavar="SEL",
    help='Label matchers of one deployment for --prometheus, e.g. namespace="llm",'
    'deployment="llama"; repeatable.',
)
@click.option(
    "--prometheus-window", default="5m", show_default=True, help="PromQL range of the rates."
)
@click.option(
    "--replica-label",
    default="instance",
    show_default=True,
    help="The label that tells replicas apart in Prometheus (instance, pod, ...).",
)
@click.option(
    "--token-env", metavar="VAR", help="Bearer token for --probe and --prometheus, from VAR."
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    help="Bearer token for --probe and --prometheus, from a file (never printed).",
)
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates of those URLs.")
@click.option(
    "--ca-file", type=click.Path(exists=True, path_type=Path), help="CA bundle for those URLs."
)
@click.option(
    "--answers",
    "answers_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Attestations for manual items (from kb export --answers); repeatable.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A previous JSON report: show only findings that are new since then.",
)
@click.option(
    "--max-file-size", type=click.IntRange(min=1), default=32, show_default=True, help="MiB."
)
@click.pass_context
def check_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    outputs: tuple[str, ...],
    checklists: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    fail_on: str | None,
    config_file: Path | None,
    exit_zero: bool,
    probe_urls: tuple[str, ...],
    probe_window: str,
    probe_samples: int,
    prometheus: str | None,
    selectors: tuple[str, ...],
    prometheus_window: str,
    replica_label: str,
    token_env: str | None,
    token_file: Path | None,
    insecure: bool,
    ca_file: Path | None,
    answers_files: tuple[Path, ...],
    baseline: Path | None,
    max_file_size: int,
) -> None:
    """Check manifests against the knowledge base: findings, readiness view, exit code.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error, 3 input errors.
    """
    from piqc_advisor.config import ConfigError, check_names, find_config, load_config, rule_params

    _pause_gc_for_this_command()
    from piqc_advisor.evaluation.attestations import AnswersError, load_answers
    from piqc_advisor.pipeline import CheckOptions, check

    state = _state(ctx)
    config_path = config_file or find_config(Path.cwd())
    try:
        config = load_config(config_path) if config_path is not None else None
    except ConfigError as exc:
        _usage_error(str(exc))
    if config is not None and config.kb_paths:
        state = _State([*state.kb_paths, *config.kb_paths])
    catalog = state.catalog()
    rules = _all_rules()
    if config is not None:
        try:
            check_names(config, catalog, rules)
        except ConfigError as exc:
            _usage_error(str(exc))
    for name in checklists:
        _checklist(catalog, name)
    targets: list[tuple[str, Path]] = []
    for spec in outputs:
        fmt_name, sep, path_text = spec.partition("=")
        if not sep or fmt_name not in REPORT_FORMATS or not path_text:
            formats = ", ".join(REPORT_FORMATS)
            _usage_error(f"--output expects FORMAT=PATH with FORMAT one of {formats}, got {spec!r}")
        targets.append((fmt_name, Path(path_text)))
    known = {r.name for r in rules} | _other_rule_names() | set(catalog.items) | set(catalog.areas)
    for pattern in (*select, *ignore):
        if pattern not in known and not any(i.startswith(pattern) for i in catalog.items):
            _usage_error(
                f"--select/--ignore: {pattern!r} names no rule, item or area",
                closest(pattern, known),
            )
    effective_fail_on = fail_on or (config.fail_on if config else None) or "high"
    attested: dict[str, str] = {}
    for answers_path in answers_files:
        try:
            answers, answer_notes = load_answers(answers_path, set(catalog.items), date.today())
        except AnswersError as exc:
            _usage_error(str(exc))
        attested.update({item: a.note() for item, a in answers.items()})
        for answer_note in answer_notes:
            click.echo(answer_note, err=True)
    _check_prometheus_options(prometheus, selectors, replica_label, prometheus_window)
    remote_token, remote_verify = _remote_access(token_env, token_file, insecure, ca_file)
    fingerprints: frozenset[str] = frozenset()
    if baseline is not None:
        fingerprints = _baseline_fingerprints(baseline)
    report = check(
        catalog,
        CheckOptions(
            paths=paths,
            checklists=checklists,
            select=select or (config.select if config else ()),
            ignore=(*ignore, *(config.ignore if config else ())),
            fail_on=effective_fail_on,
            max_file_bytes=max_file_size * 1024 * 1024,
            severities=dict(config.severity) if config else {},
            rule_params=rule_params(config, rules) if config else {},
            waivers=config.waivers if config else (),
            allow_annotation_waivers=config.allow_annotation_waivers if config else True,
            attested=attested,
            baseline=fingerprints,
            probes=probe_urls,
            probe_window=_duration(probe_window),
            probe_samples=probe_samples,
            prometheus=prometheus,
            prometheus_selectors=selectors,
            prometheus_window=_duration(prometheus_window),
            replica_label=replica_label,
            remote_token=remote_token,
            remote_verify=remote_verify,
        ),
    )
    click.echo(_render(fmt, report, catalog), nl=False)
    for fmt_name, out_path in targets:
        try:
            out_path.write_text(_render(fmt_name, report, catalog), encoding="utf-8")
        except OSError as exc:
            _usage_error(f"cannot write {out_path}: {exc.strerror or exc}")
    for problem in report.problems:
        click.echo(_problem_line(problem), err=True)
    for note in report.waiver_notes:
        where = f"{note.origin.short()}: " if note.origin is not None else ""
        click.echo(f"{where}waiver {note.kind}: {note.message}", err=True)
    if any(p.severity == "error" for p in report.problems):
        sys.exit(EXIT_INPUT_ERROR)
    if report.failing() and not exit_zero:
        sys.exit(EXIT_FINDINGS)


def _baseline_fingerprints(path: Path) -> frozenset[str]:
    """Fingerprints of the findings in a previous JSON report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return frozenset(str(f["fingerprint"]) for f in data["findings"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _usage_error(f"{path}: not a piqc-advisor JSON report ({type(exc).__name__}: {exc})")


def _remote_access(
    token_env: str | None, token_file: Path | None, insecure: bool, ca_file: Path | None
) -> tuple[str | None, bool | str]:
    """The bearer token and TLS verification for --probe and --prometheus URLs."""
    from piqc_advisor.cli_runtime import token_from

    if insecure and ca_file:
        _usage_error("give --insecure or --ca-file, not both")
    try:
        token = token_from(token_env, token_file)
    except click.UsageError as exc:
        _usage_error(exc.message)
    return token, str(ca_file) if ca_file else not insecure


def _check_prometheus_options(
    prometheus: str | None, selectors: tuple[str, ...], replica_label: str, window: str
) -> None:
    """Usage errors of the --prometheus options before anything is read."""
    from piqc_advisor.runtime.prometheus_source import (
        SelectorError,
        check_replica_label,
        parse_selector,
        promql_duration,
    )

    if prometheus and not selectors:
        _usage_error("--prometheus needs --selector (which deployment's series)")
    if selectors and not prometheus:
        _usage_error("--selector needs --prometheus URL")
    try:
        for selector in selectors:
            parse_selector(selector)
        check_replica_label(replica_label)
        promql_duration(_duration(window))
    except SelectorError as exc:
        _usage_error(str(exc))


def _pause_gc_for_this_command() -> None:
    pause_gc_for_this_command()


def _all_rules() -> tuple[Rule, ...]:
    from piqc_advisor.rules import ALL_RULES

    return ALL_RULES


def _duration(text: str) -> float:
    from piqc_advisor.cli_runtime import parse_duration

    return parse_duration(text)


def _all_rule_names() -> list[str]:
    return [r.name for r in _all_rules()]


def _other_rule_names() -> set[str]:
    from piqc_advisor.rules import OTHER_RULE_ITEMS

    return set(OTHER_RULE_ITEMS)


# --- commands defined in their own modules: name -> "module:attribute", imported on use ---
LAZY_COMMANDS.update(
    {
        "metrics": "piqc_advisor.cli_runtime:metrics_command",
        "probe": "piqc_advisor.cli_runtime:probe_command",
        "size": "piqc_advisor.sizing.command:size_command",
        "spec": "piqc_advisor.modelspec.cli:spec",
    }
)
