"""The `piqc-advisor spec` commands: schema, validate, init and diff."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.terminal import Output, TextTable, dump_json

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT_ERROR = 3
SEVERITIES = ["critical", "high", "medium", "low", "info"]


def _catalog(ctx: click.Context) -> Catalog:
    from piqc_advisor.cli import _state

    return _state(ctx).catalog()


def _problem_line(problem: Problem) -> str:
    where = problem.path
    if problem.line:
        where += f":{problem.line}"
        if problem.col:
            where += f":{problem.col}"
    return f"{where}: {problem.severity}: {problem.message} [{problem.code}]"


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"piqc-advisor: error: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)


@click.group("spec")
def spec() -> None:
    """ModelSpec: the declared intent of a model deployment (schema, validate, init, diff)."""


@spec.command("schema")
def spec_schema() -> None:
    """Print the ModelSpec JSON Schema (Draft 2020-12) shipped with piqc-advisor."""
    from piqc_advisor.modelspec.schema import schema_text

    click.echo(schema_text(), nl=False)


@spec.command("validate")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "sarif"]),
    default="table",
    show_default=True,
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default="high",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--max-file-size", type=click.IntRange(min=1), default=32, show_default=True, help="MiB."
)
@click.pass_context
def spec_validate(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    fail_on: str,
    output: Path | None,
    max_file_size: int,
) -> None:
    """Validate ModelSpec files (files, directories, - for stdin): schema and semantic checks.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error, 3 input errors.
    """
    from piqc_advisor.modelspec.collect import read_specs
    from piqc_advisor.modelspec.render import render_json, render_sarif, render_table
    from piqc_advisor.modelspec.validate import validate_specs

    catalog = _catalog(ctx)
    specs = read_specs(list(paths), max_file_size * 1024 * 1024)
    report = validate_specs(specs, catalog, fail_on)
    if fmt == "json":
        text = render_json(report)
    elif fmt == "sarif":
        text = render_sarif(report, catalog)
    else:
        text = render_table(report)
    _write(text, output)
    for problem in report.problems:
        click.echo(_problem_line(problem), err=True)
    if report.input_errors:
        sys.exit(EXIT_INPUT_ERROR)
    if report.failing():
        sys.exit(EXIT_FINDINGS)


QUESTIONS: tuple[tuple[str, str, Any], ...] = (
    ("environment", "Environment label (prod, staging, dev)", str),
    ("family", "Model family (e.g. llama3)", str),
    ("task", "Task (e.g. text-generation, chat-completion)", str),
    ("accelerator_type", "Accelerator type (e.g. a100-80gb)", str),
    ("owner", "Owner (team accountable)", str),
    ("changeApproval", "Change approval (who approves changes)", str),
    ("target_latency_ms_p95", "p95 latency target in ms", float),
    ("target_rps", "Throughput target in requests per second", float),
    ("pii_allowed", "May personal data reach the model? (yes/no)", bool),
    ("pii_policy", "PII policy name", str),
    ("logsDays", "Log retention in days", int),
    ("artifactsDays", "Artifact retention in days", int),
    ("target_cost", "Cost target per 1k tokens in USD", float),
)


def _ask() -> dict[str, Any]:
    """Ask for what manifests cannot say; an empty answer keeps the placeholder."""
    answers: dict[str, Any] = {}
    for key, text, kind in QUESTIONS:
        if kind is bool:
            raw = click.prompt(text, default="", show_default=False)
            lowered = str(raw).strip().lower()
            if lowered in ("y", "yes", "true"):
                answers[key] = True
            elif lowered in ("n", "no", "false"):
                answers[key] = False
            continue
        value = click.prompt(text, default="", show_default=False)
        value = str(value).strip()
        if not value:
            continue
        try:
            answers[key] = kind(value)
        except ValueError:
            click.echo(f"  ignored: {value!r} is not a {kind.__name__}", err=True)
    return answers


@spec.command("init")
@click.option(
    "--from",
    "sources",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Manifests to read (files, directories, -); repeatable.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the spec here instead of standard output.",
)
@click.option("--workload", "selected", multiple=True, help="Only these workload ids or names.")
@click.option("--interactive", is_flag=True, help="Ask for the fields manifests cannot fill.")
def spec_init(
    sources: tuple[str, ...], output: Path | None, selected: tuple[str, ...], interactive: bool
) -> None:
    """Write a ModelSpec from scanned manifests, one document per serving workload.

    Exit codes: 0 written, 2 usage error, 3 input errors or no serving workload found.
    """
    from piqc_advisor.collectors.scan import scan
    from piqc_advisor.modelspec.generate import specs_yaml

    store = scan(list(sources))
    for problem in store.problems:
        click.echo(_problem_line(problem), err=True)
    workloads = [
        w for w in store.workloads if not selected or w.id in selected or w.name in selected
    ]
    if not workloads:
        click.echo("piqc-advisor: error: no serving workload found in the inputs", err=True)
        sys.exit(EXIT_INPUT_ERROR)
    answers = _ask() if interactive else {}
    _write(specs_yaml(workloads, answers), output)
    if store.input_errors:
        sys.exit(EXIT_INPUT_ERROR)


@spec.command("diff")
@click.argument("spec_path", metavar="SPEC")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--all", "show_all", is_flag=True, help="Also list fields that match.")
def spec_diff(spec_path: str, paths: tuple[str, ...], fmt: str, show_all: bool) -> None:
    """Compare a ModelSpec with the manifests: expected vs actual, with evidence on both sides.

    The spec is linked to workloads by the annotation piqc.ai/modelspec, by name, or by the
    labels app.kubernetes.io/name, app or piqc.ai/model; with no link and a single workload,
    that one is compared. Exit codes: 0 no drift, 1 drift, 2 usage, 3 input errors.
    """
    from piqc_advisor.collectors.scan import scan
    from piqc_advisor.modelspec.collect import read_specs
    from piqc_advisor.modelspec.drift import Link, compare, link_specs

    specs = read_specs([spec_path])
    store = scan(list(paths))
    problems = [*specs.problems, *store.problems]
    for problem in problems:
        click.echo(_problem_line(problem), err=True)
    if not specs.documents:
        click.echo(f"piqc-advisor: error: no ModelSpec read from {spec_path}", err=True)
        sys.exit(EXIT_INPUT_ERROR)
    links = link_specs(specs.specs, store.workloads)
    linked_specs = {id(link.spec) for link in links}
    for declared in specs.specs:
        if id(declared) not in linked_specs and len(store.workloads) == 1:
            links.append(Link(declared, store.workloads[0], "the only workload in the inputs"))
    drift = False
    data: list[dict[str, Any]] = []
    out = Output()
    for link in links:
        entries = compare(link.spec, link.workload)
        drift = drift or any(e.status == "drift" for e in entries)
        data.append(
            {
                "spec": link.spec.subject,
                "spec_path": link.spec.path,
                "workload": link.workload.id,
                "linked_by": link.via,
                "fields": [e.to_json() for e in entries],
            }
        )
        if fmt == "json":
            continue
        rows = tuple(
            (
                e.field,
                repr(e.expected),
                "-" if e.actual is None else repr(e.actual),
                e.status,
                e.spec_origin.short(),
                (e.manifest_origin.short() if e.manifest_origin else "-")
                + (f" ({e.manifest_via})" if e.manifest_via else ""),
            )
            for e in entries
            if show_all or e.status != "match"
        )
        counts = {s: sum(1 for e in entries if e.status == s) for s in ("match", "drift", "absent")}
        out.table(
            TextTable(
                headers=("FIELD", "SPEC", "MANIFESTS", "STATUS", "SPEC AT", "MANIFEST AT"),
                rows=rows,
                title=f"{link.spec.subject} ({link.spec.path}) vs {link.workload.id} "
                f"[linked by {link.via}]",
                footer=(
                    f"{counts['match']} match, {counts['drift']} drift, {counts['absent']} not "
                    "stated in the manifests",
                ),
            )
        )
    if fmt == "json":
        click.echo(dump_json({"comparisons": data}), nl=False)
    elif not links:
        out.text("no workload in the inputs is linked to the spec (by annotation, name or label)")
    if specs.problems and any(p.severity == "error" for p in problems):
        sys.exit(EXIT_INPUT_ERROR)
    if store.input_errors:
        sys.exit(EXIT_INPUT_ERROR)
    if drift:
        sys.exit(EXIT_FINDINGS)
