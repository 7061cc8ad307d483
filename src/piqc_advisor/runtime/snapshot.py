"""One scrape of a server: its /metrics (normalised), identity endpoints and a timestamp."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from piqc_advisor.collectors.prometheus_text import DEFAULT_MAX_BYTES, parse_exposition
from piqc_advisor.collectors.vllm_metrics import MetricSet, normalise
from piqc_advisor.collectors.yaml_source import Problem

#: First line of a saved /metrics file that carries its scrape time (and optionally the URL):
#: `# piqc-snapshot time=2026-11-27T04:32:20Z url=http://host:8000/metrics`
#: `time` is ISO 8601 (with an offset or Z) or Unix seconds. Without it the file's mtime is used.
HEADER = re.compile(r"^#\s*piqc-snapshot\b(?P<rest>.*)$")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    max_model_len: int | None = None
    root: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What one scrape of one server saw."""

    source: str
    timestamp: float | None
    metrics: MetricSet
    problems: tuple[Problem, ...] = ()
    version: str | None = None
    models: tuple[ModelInfo, ...] = ()
    health: str | None = None
    load: float | None = None
    server_info: dict[str, Any] | None = field(default=None)


def parse_time(text: str) -> float | None:
    """Unix seconds from Unix seconds or ISO 8601 text; None when unreadable or naive."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment.timestamp()


def header_fields(text: str) -> dict[str, str] | None:
    """The key=value fields of a piqc-snapshot header line, when the text starts with one."""
    first = text.split("\n", 1)[0].strip()
    match = HEADER.match(first)
    if match is None:
        return None
    fields: dict[str, str] = {}
    for token in match.group("rest").split():
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value
    return fields


def models_from_json(data: Any) -> tuple[ModelInfo, ...]:
    """Served models from a /v1/models answer (OpenAI list format)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        return ()
    found: list[ModelInfo] = []
    for entry in data["data"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        length = entry.get("max_model_len")
        found.append(
            ModelInfo(
                entry["id"],
                length if isinstance(length, int) and not isinstance(length, bool) else None,
                entry.get("root") if isinstance(entry.get("root"), str) else None,
                entry.get("parent") if isinstance(entry.get("parent"), str) else None,
            )
        )
    return tuple(found)


def version_from_json(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("version"), str):
        return str(data["version"])
    return None


def snapshot_from_text(
    body: str | bytes,
    source: str,
    timestamp: float | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **identity: Any,
) -> Snapshot:
    """A snapshot from a /metrics body and whatever identity is already known."""
    exposition = parse_exposition(body, source, max_bytes=max_bytes)
    metrics = normalise(exposition)
    skipped = tuple(
        Problem(source, None, None, "warning", "metrics-bad-bucket", message)
        for message in dict.fromkeys(
            f"{name}: bucket bound le={bound!r} is not a number; the bucket was left out"
            for name, bound in metrics.bad_buckets
        )
    )
    return Snapshot(source, timestamp, metrics, (*exposition.problems, *skipped), **identity)


def read_snapshot_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Snapshot:
    """A saved /metrics file; its header line or, failing that, its mtime gives the time."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            message = f"file of {size} bytes exceeds the {max_bytes}-byte limit"
            problem = Problem(source, None, None, "error", "metrics-too-large", message)
            return Snapshot(source, None, MetricSet(), (problem,))
        data = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError as exc:
        problem = Problem(source, None, None, "error", "metrics-unreadable", str(exc.strerror))
        return Snapshot(source, None, MetricSet(), (problem,))
    head = data[:512].decode("utf-8", errors="replace")
    fields = header_fields(head) or {}
    timestamp = mtime
    problems: list[Problem] = []
    if "time" in fields:
        parsed = parse_time(fields["time"])
        if parsed is None:
            message = f"unreadable time {fields['time']!r} in the piqc-snapshot header"
            problems.append(Problem(source, 1, None, "error", "metrics-bad-time", message))
        else:
            timestamp = parsed
    snap = snapshot_from_text(data, source, timestamp, max_bytes=max_bytes)
    version = fields.get("version")
    if problems or version:
        return Snapshot(
            snap.source,
            snap.timestamp,
            snap.metrics,
            (*problems, *snap.problems),
            version=version,
        )
    return snap


def load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
