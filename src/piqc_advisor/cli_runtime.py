"""The `metrics` and `probe` commands: runtime signals and diagnoses of vLLM servers."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from piqc_advisor.collectors.prometheus_text import DEFAULT_MAX_BYTES
from piqc_advisor.runtime.analysis import ServerAnalysis, analyse, diagnosis_table, signal_table
from piqc_advisor.runtime.fleet_checks import (
    FleetAnalysis,
    analyse_fleet,
    fleet_table,
    replica_table,
)
from piqc_advisor.runtime.fleet_checks import diagnosis_table as fleet_diagnosis_table
from piqc_advisor.runtime.probe import FetchError, ProbeOptions, probe
from piqc_advisor.runtime.prometheus_source import (
    DEFAULT_REPLICA_LABEL,
    Selector,
    SelectorError,
    check_replica_label,
    parse_selector,
    promql_duration,
    read_fleet,
)
from piqc_advisor.runtime.snapshot import read_snapshot_file
from piqc_advisor.terminal import Output, pause_gc_for_this_command

EXIT_DIAGNOSED = 1
EXIT_USAGE = 2
EXIT_INPUT_ERROR = 3
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


def parse_duration(text: str) -> float:
    """Seconds from '30s', '2m', '500ms' or a bare number of seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 2m or 500ms")
    value = float(match.group(1))
    unit = match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


_format = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
_max_num_seqs = click.option(
    "--max-num-seqs",
    type=click.IntRange(min=1),
    default=None,
    help="The server's configured --max-num-seqs when /server_info does not report it.",
)
_exit_zero = click.option("--exit-zero", is_flag=True, help="Exit 0 even when a rule diagnoses.")


def _emit(results: list[ServerAnalysis], fmt: str, fleets: Sequence[FleetAnalysis] = ()) -> bool:
    """Print servers (and fleets read from Prometheus); True when a rule diagnosed."""
    if not results and not fleets:
        return False
    out = Output()
    if fmt == "json":
        data: dict[str, Any] = {"servers": [r.to_json() for r in results]}
        if fleets:
            data["prometheus"] = [f.to_json() for f in fleets]
        out.json(data)
    else:
        for result in results:
            out.table(signal_table(result))
            out.table(diagnosis_table(result))
        for fleet in fleets:
            out.table(fleet_table(fleet))
            out.table(replica_table(fleet))
            out.table(fleet_diagnosis_table(fleet))
    for result in results:
        for problem in result.problems:
            where = f"{problem.path}:{problem.line}" if problem.line else problem.path
            click.echo(f"{where}: {problem.severity}: {problem.message}", err=True)
    return any(d.outcome == "diagnosed" for r in results for d in r.diagnoses) or any(
        f.diagnosed for f in fleets
    )


@click.command("metrics")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_format
@_max_num_seqs
@_exit_zero
@click.option(
    "--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES, show_default=True
)
def metrics_command(
    files: tuple[Path, ...], fmt: str, max_num_seqs: int | None, exit_zero: bool, max_bytes: int
) -> None:
    """Signals and diagnoses from saved /metrics text of ONE server.

    One file gives a lifetime view (totals since start; rates when the process start time is
    exported). Two or more files with distinct times give a windowed view: rates and percentiles
    from the increases between the first and the last (counter resets handled).

    A file's time is read from an optional first line
    `# piqc-snapshot time=2026-11-27T04:32:20Z` (ISO 8601 with offset, or Unix seconds;
    `version=0.32.0` may be added), else from the file's modification time.
    """
    pause_gc_for_this_command()
    snapshots = [read_snapshot_file(path, max_bytes) for path in files]
    configured: dict[str, Any] = {"max_num_seqs": max_num_seqs} if max_num_seqs else {}
    subject = str(files[0]) if len(files) == 1 else f"{files[0]} (+{len(files) - 1})"
    result = analyse(subject, snapshots, configured=configured)
    if result is None:
        for snap in snapshots:
            for p in snap.problems:
                where = f"{p.path}:{p.line}" if p.line else p.path
                click.echo(f"{where}: {p.severity}: {p.message}", err=True)
        sys.exit(EXIT_INPUT_ERROR)
    if _emit([result], fmt) and not exit_zero:
        sys.exit(EXIT_DIAGNOSED)


def token_from(token_env: str | None, token_file: Path | None) -> str | None:
    """The bearer token named by --token-env or --token-file (usage errors otherwise)."""
    if token_env and token_file:
        raise click.UsageError("give --token-env or --token-file, not both")
    if token_env:
        value = os.environ.get(token_env)
        if not value:
            raise click.UsageError(f"environment variable {token_env} is empty or unset")
        return value.strip()
    if token_file:
        try:
            return token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"cannot read the token file {token_file}: {exc}") from None
    return None


@click.command("probe")
@click.argument("urls", nargs=-1)
@click.option(
    "--window",
    default=None,
    help="Time the samples span [default: 30s], or the PromQL range with --prometheus [5m].",
)
@click.option("--samples", type=click.IntRange(min=1, max=1000), default=3, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option(
    "--max-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BYTES, show_default=True
)
@click.option("--token-env", metavar="VAR", help="Bearer token from this environment variable.")
@click.option("--token-file", type=click.Path(path_type=Path), help="Bearer token from a file.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates.")
@click.option("--ca-file", type=click.Path(exists=True, path_type=Path), help="CA bundle.")
@click.option(
    "--prometheus",
    metavar="URL",
    help="Read the replicas of a deployment from this Prometheus (HTTP API) instead of /metrics.",
)
@click.option(
    "--selector",
    "selectors",
    multiple=True,
    metavar="SEL",
    help='Label matchers of one deployment\'s series, e.g. namespace="llm",deployment="llama"; '
    "repeatable (one deployment each).",
)
@click.option(
    "--replica-label",
    default=DEFAULT_REPLICA_LABEL,
    show_default=True,
    help="The label that tells replicas apart (instance, pod, ...).",
)
@_max_num_seqs
@_format
@_exit_zero
def probe_command(
    urls: tuple[str, ...],
    window: str | None,
    samples: int,
    timeout: float,
    max_bytes: int,
    token_env: str | None,
    token_file: Path | None,
    insecure: bool,
    ca_file: Path | None,
    prometheus: str | None,
    selectors: tuple[str, ...],
    replica_label: str,
    max_num_seqs: int | None,
    fmt: str,
    exit_zero: bool,
) -> None:
    """Read running servers' /metrics SAMPLES times over WINDOW, plus their identity endpoints.

    Each URL is a server's base (http://host:8000). /metrics is read once per sample; /version,
    /v1/models, /health, /load and /server_info once. The token is sent as a bearer token and
    never printed; redirects to another host are refused.

    With --prometheus URL --selector SEL, every replica of the deployment SEL picks is read with
    PromQL instead (rates, latency percentiles per replica and for the fleet, replica
    imbalance); URLs are then optional and the token goes to Prometheus too.
    """
    pause_gc_for_this_command()
    if not urls and not prometheus:
        raise click.UsageError("give server URLs, or --prometheus URL with --selector")
    if prometheus and not selectors:
        raise click.UsageError("--prometheus needs --selector (which deployment's series)")
    if selectors and not prometheus:
        raise click.UsageError("--selector needs --prometheus URL")
    parsed: list[Selector] = []
    try:
        parsed = [parse_selector(s) for s in selectors]
        check_replica_label(replica_label)
        if prometheus:
            promql_duration(parse_duration(window or "5m"))
    except SelectorError as exc:
        raise click.UsageError(str(exc)) from None
    if insecure and ca_file:
        raise click.UsageError("give --insecure or --ca-file, not both")
    options = ProbeOptions(
        timeout,
        max_bytes,
        token_from(token_env, token_file),
        str(ca_file) if ca_file else not insecure,
    )
    configured: dict[str, Any] = {"max_num_seqs": max_num_seqs} if max_num_seqs else {}
    seconds = parse_duration(window or "30s")
    results, failed = _probe_urls(urls, options, samples, seconds, configured)
    fleets: list[FleetAnalysis] = []
    if prometheus:
        seconds = parse_duration(window or "5m")
        for selector in parsed:
            try:
                values = read_fleet(prometheus, selector, seconds, options, replica_label)
            except FetchError as exc:
                click.echo(f"error: {exc}", err=True)
                failed = True
                continue
            fleets.append(analyse_fleet(values, configured))
    diagnosed = _emit(results, fmt, fleets)
    if failed:
        sys.exit(EXIT_INPUT_ERROR)
    if diagnosed and not exit_zero:
        sys.exit(EXIT_DIAGNOSED)


def _probe_urls(
    urls: tuple[str, ...],
    options: ProbeOptions,
    samples: int,
    seconds: float,
    configured: dict[str, Any],
) -> tuple[list[ServerAnalysis], bool]:
    show = sys.stderr.isatty()
    results: list[ServerAnalysis] = []
    failed = False
    for url in urls:

        def progress(index: int, total: int, url: str = url) -> None:
            if show:
                click.echo(f"\r{url}: sample {index}/{total}", err=True, nl=index == total)

        try:
            snapshots, problems = probe(url, options, samples, seconds, progress)
        except FetchError as exc:
            click.echo(f"{url}: error: {exc}", err=True)
            failed = True
            continue
        result = analyse(url, snapshots, problems, configured)
        if result is None:
            for p in [*problems, *(p for s in snapshots for p in s.problems)]:
                click.echo(f"{p.path}: {p.severity}: {p.message}", err=True)
            failed = True
            continue
        results.append(result)
    return results, failed
