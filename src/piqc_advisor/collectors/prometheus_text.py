"""Prometheus text exposition parsed into typed samples, with size caps and located problems."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, TextIO, cast

from prometheus_client.parser import text_fd_to_metric_families

from piqc_advisor.collectors.yaml_source import Problem

#: The largest body parsed; a real vLLM /metrics is ~60 KB, 64 engines with LoRA labels ~5 MB.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: The most samples kept from one body (a cardinality explosion is reported, not absorbed).
DEFAULT_MAX_SAMPLES = 500_000
#: The longest line accepted; anything longer is garbage, not a metric.
MAX_LINE_CHARS = 64 * 1024

Labels = tuple[tuple[str, str], ...]


class MetricSample(NamedTuple):
    """One sample: its name as written (with _total/_bucket/...), sorted labels and value.

    A named tuple rather than a dataclass: bodies of 5 MB hold ~40,000 samples, and a
    frozen dataclass costs several times more to build.
    """

    name: str
    labels: Labels
    value: float
    family: str
    kind: str

    def label(self, key: str, default: str | None = None) -> str | None:
        for name, value in self.labels:
            if name == key:
                return value
        return default


@dataclass(frozen=True)
class Exposition:
    """A parsed body: samples in order of appearance, family types, problems found."""

    source: str
    samples: tuple[MetricSample, ...]
    types: dict[str, str]
    problems: tuple[Problem, ...] = field(default=())
    size: int = 0

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class _CountingLines:
    """Feeds the parser one line at a time and remembers where it is."""

    def __init__(self, text: str) -> None:
        self._text = text
        self.line = 0
        self.current = ""

    def __iter__(self) -> Iterator[str]:
        for line in self._text.splitlines():
            self.line += 1
            self.current = line
            if len(line) > MAX_LINE_CHARS:
                raise ValueError(f"line longer than {MAX_LINE_CHARS} characters")
            yield line


def _problem(source: str, line: int | None, code: str, message: str) -> Problem:
    return Problem(source, line, None, "error", code, message)


def decode_body(data: bytes, source: str) -> tuple[str | None, Problem | None]:
    """UTF-8 text of a body, or a problem saying why it is not exposition text."""
    if b"\x00" in data:
        return None, _problem(source, None, "metrics-binary", "body contains NUL bytes")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, _problem(source, None, "metrics-encoding", f"not UTF-8 text: {exc.reason}")


_SAMPLE = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+([^ \t]+)(?:[ \t]+-?[0-9]+)?[ \t]*"
)
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_ESCAPED = re.compile(r'\\[\\"n]')


class _NotSimple(Exception):
    """A line the fast path does not handle; the reference parser takes the whole body."""


_SIMPLE_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
_SIMPLE_LABELS = re.compile(f"{_PAIR}(?:, ?{_PAIR})*,?")


def _labels(text: str) -> Labels:
    if _SIMPLE_LABELS.fullmatch(text) is not None:
        # The usual case: plain k="v" pairs, checked and then split at regex speed.
        simple = _SIMPLE_LABEL.findall(text)
        simple.sort()
        return tuple(simple)
    pairs: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        if match is None or match.end() == position:
            raise _NotSimple
        value = match.group(2)
        if "\\" in value:
            value = _ESCAPED.sub(lambda m: _UNESCAPE[m.group(0)], value)
        pairs.append((match.group(1), value))
        position = match.end()
    pairs.sort()
    return tuple(pairs)


def _fast_parse(text: str, max_samples: int) -> tuple[list[MetricSample], dict[str, str]] | None:
    """The common exposition grammar at regex speed; None where the reference parser is needed.

    Families follow `# TYPE` lines exactly as prometheus_client names them (a counter's
    family drops `_total`); a test checks both parsers agree on real vLLM captures.
    """
    samples: list[MetricSample] = []
    types: dict[str, str] = {}
    family, kind = "", "unknown"
    for line in text.split("\n"):
        if not line or line.isspace():
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                kind = parts[3].strip()
                kind = "unknown" if kind == "untyped" else kind
                family = parts[2]
                if kind == "counter" and family.endswith("_total"):
                    family = family[: -len("_total")]
                types[family] = kind
            continue
        if len(line) > MAX_LINE_CHARS:
            return None
        match = _SAMPLE.fullmatch(line)
        if match is None:
            return None
        name, label_text, raw = match.groups()
        try:
            labels = _labels(label_text) if label_text else ()
            value = float(raw)
        except (_NotSimple, ValueError):
            return None
        if family and name.startswith(family):
            sample_family, sample_kind = family, kind
        else:
            sample_family, sample_kind = name, "unknown"
            family, kind = "", "unknown"
        if math.isnan(value) and sample_kind in ("counter", "histogram"):
            continue
        samples.append(MetricSample(name, labels, value, sample_family, sample_kind))
        if len(samples) > max_samples:
            return None
    return samples, types


def parse_exposition(
    body: str | bytes,
    source: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> Exposition:
    """Parse a /metrics body. Garbage gives an Exposition whose problem names the line."""
    size = len(body)
    if size > max_bytes:
        message = f"body of {size} bytes exceeds the {max_bytes}-byte limit"
        return Exposition(source, (), {}, (_problem(source, None, "metrics-too-large", message),))
    if isinstance(body, bytes):
        text, bad = decode_body(body, source)
        if text is None:
            return Exposition(source, (), {}, (bad,) if bad else (), size)
    else:
        text = body
        if "\x00" in text:
            problem = _problem(source, None, "metrics-binary", "body contains NUL characters")
            return Exposition(source, (), {}, (problem,), size)
    if text.lstrip().startswith(("<", "{")):
        message = "body is HTML or JSON, not Prometheus exposition text"
        return Exposition(source, (), {}, (_problem(source, 1, "metrics-not-text", message),), size)
    fast = _fast_parse(text, max_samples)
    if fast is not None:
        return Exposition(source, tuple(fast[0]), fast[1], (), size)
    lines = _CountingLines(text)
    samples: list[MetricSample] = []
    types: dict[str, str] = {}
    try:
        for family in text_fd_to_metric_families(cast(TextIO, lines)):
            types[family.name] = family.type
            for sample in family.samples:
                value = float(sample.value)
                if math.isnan(value) and family.type in ("counter", "histogram"):
                    continue
                samples.append(
                    MetricSample(
                        sample.name,
                        tuple(sorted(sample.labels.items())),
                        value,
                        family.name,
                        family.type,
                    )
                )
            if len(samples) > max_samples:
                message = f"more than {max_samples} samples; the body is not analysed"
                problem = _problem(source, lines.line, "metrics-too-many-samples", message)
                return Exposition(source, (), types, (problem,), size)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        shown = lines.current if len(lines.current) <= 120 else lines.current[:117] + "..."
        detail = f": {exc}" if str(exc) else ""
        message = f"malformed exposition line {shown!r}{detail}"
        problem = _problem(source, lines.line or None, "metrics-malformed", message)
        return Exposition(source, tuple(samples), types, (problem,), size)
    return Exposition(source, tuple(samples), types, (), size)
