"""Per-replica and fleet values of a vLLM deployment, read with PromQL from Prometheus."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from piqc_advisor.collectors.vllm_metrics import ALIASES
from piqc_advisor.rules.runtime import MetricFacts
from piqc_advisor.rules.runtime_fleet import FleetFacts
from piqc_advisor.runtime.probe import FetchError, ProbeOptions, Prober
from piqc_advisor.runtime.promql import QUERY_PATH, VectorSample, query
from piqc_advisor.runtime.signals import SIGNALS, Provenance, SignalValue

DEFAULT_REPLICA_LABEL = "instance"
QUANTILES = (0.5, 0.95, 0.99)


class SelectorError(ValueError):
    """A --selector or --replica-label that is not usable PromQL; the message says why."""


# ------------------------------------------------------------------------------- selector

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_MATCHER = re.compile(
    r"""\s*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"""
    r"""(?P<literal>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)\s*"""
)
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}
_EXAMPLE = 'namespace="llm",deployment="llama"'


def _unquote(literal: str) -> str:
    """The text of a PromQL string literal (Go escapes, as Prometheus' lexer reads them)."""
    quote, body = literal[0], literal[1:-1]
    if quote == "`":
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        nxt = body[index + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            index += 2
        elif nxt == quote:
            out.append(quote)
            index += 2
        elif nxt in "xuU01234567":
            width = {"x": 2, "u": 4, "U": 8}.get(nxt, 3)
            start = index + 1 if nxt.isdigit() else index + 2
            digits = body[start : start + width]
            base = 8 if nxt.isdigit() else 16
            try:
                out.append(chr(int(digits, base)) if len(digits) == width else "")
            except ValueError:
                digits = ""
            if len(digits) != width:
                raise SelectorError(f"bad escape \\{nxt} in {literal}")
            index = start + width
        else:
            raise SelectorError(
                f"unknown escape \\{nxt} in {literal} (inside quotes write \\\\{nxt}, "
                "or quote a regular expression with backticks)"
            )
    return "".join(out)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    literal: str

    @property
    def value(self) -> str:
        return _unquote(self.literal)

    def render(self) -> str:
        return f"{self.name}{self.op}{self.literal}"


@dataclass(frozen=True)
class Selector:
    """Label matchers that pick one deployment's series, as written by the user."""

    matchers: tuple[Matcher, ...]

    def inner(self) -> str:
        return ",".join(m.render() for m in self.matchers)

    def render(self) -> str:
        return "{" + self.inner() + "}"

    def equals(self, name: str) -> str | None:
        """The value an equality matcher requires of label `name`, if there is one."""
        for matcher in self.matchers:
            if matcher.name == name and matcher.op == "=":
                return matcher.value
        return None


def parse_selector(text: str) -> Selector:
    """Label matchers `a="x",b=~"y.*"`, with or without braces; SelectorError when broken."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise SelectorError(f"selector {text!r}: '{{' without a closing '}}'")
        body = body[1:-1]
    elif "{" in body:
        raise SelectorError(
            f"selector {text!r}: give label matchers only (like {_EXAMPLE}), not a metric name"
        )
    matchers: list[Matcher] = []
    position = 0
    while position < len(body):
        if not body[position:].strip():
            break
        found = _MATCHER.match(body, position)
        if found is None:
            rest = body[position:].strip()
            raise SelectorError(
                f'selector {text!r}: expected a matcher like name="value" at {rest[:40]!r} '
                f"(matchers: =, !=, =~, !~ with a quoted value; e.g. {_EXAMPLE})"
            )
        name = found.group("name")
        if name == "__name__" or name == "le":
            raise SelectorError(f"selector {text!r}: the selector cannot constrain {name}")
        matcher = Matcher(name, found.group("op"), found.group("literal"))
        matcher.value  # noqa: B018 - validates the escapes now, not at query time
        matchers.append(matcher)
        position = found.end()
        if position < len(body):
            if body[position] != ",":
                raise SelectorError(
                    f"selector {text!r}: expected ',' between matchers at {body[position:][:40]!r}"
                )
            position += 1
    if not matchers:
        raise SelectorError(f"selector {text!r} has no label matcher (e.g. {_EXAMPLE})")
    return Selector(tuple(matchers))


def check_replica_label(name: str) -> str:
    if not LABEL_NAME.match(name) or name in ("le", "__name__"):
        raise SelectorError(f"replica label {name!r} is not a usable Prometheus label name")
    return name


def promql_duration(seconds: float) -> str:
    """A PromQL duration for a window in seconds: 300 -> 5m, 90 -> 90s, 0.5 -> 500ms."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise SelectorError(f"window {seconds}s is not positive")
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    for unit, size in (("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


# ------------------------------------------------------------------------- metric families

Kind = Literal["counter", "gauge", "histogram", "info"]


@dataclass(frozen=True)
class Family:
    """A vLLM metric family under its canonical (0.32) name, and its kind."""

    canonical: str
    kind: Kind

    @property
    def bases(self) -> tuple[str, ...]:
        """Family names in every vLLM generation, newest first (from the alias table)."""
        raws = [self.canonical]
        raws += [raw for raw, (canon, _) in ALIASES.items() if canon == self.canonical]
        if self.kind == "counter":
            raws = [raw.removesuffix("_total") for raw in raws]
        return tuple(dict.fromkeys(raws))

    def series(self, suffix: str = "") -> tuple[str, ...]:
        """Series names with a suffix (_bucket, _sum, _count); counters end in _total."""
        if self.kind == "counter":
            suffix = "_total"
        return tuple(base + suffix for base in self.bases)

    @property
    def names(self) -> tuple[str, ...]:
        """The series names that tell whether a replica exports the family."""
        return self.series("_bucket" if self.kind == "histogram" else "")


REQUESTS = Family("vllm:request_success", "counter")
REJECTIONS = Family("vllm:admission_rejections", "counter")
PROMPT = Family("vllm:prompt_tokens", "counter")
GENERATION = Family("vllm:generation_tokens", "counter")
PREEMPTIONS = Family("vllm:num_preemptions", "counter")
PREFIX_HITS = Family("vllm:prefix_cache_hits", "counter")
PREFIX_QUERIES = Family("vllm:prefix_cache_queries", "counter")
CACHE_CONFIG = Family("vllm:cache_config_info", "info")
RUNNING = Family("vllm:num_requests_running", "gauge")
WAITING = Family("vllm:num_requests_waiting", "gauge")
KV_USAGE = Family("vllm:kv_cache_usage_perc", "gauge")
TTFT = Family("vllm:time_to_first_token_seconds", "histogram")
ITL = Family("vllm:inter_token_latency_seconds", "histogram")
E2E = Family("vllm:e2e_request_latency_seconds", "histogram")
QUEUE = Family("vllm:request_queue_time_seconds", "histogram")
FAMILIES = (
    REQUESTS,
    REJECTIONS,
    PROMPT,
    GENERATION,
    PREEMPTIONS,
    PREFIX_HITS,
    PREFIX_QUERIES,
    CACHE_CONFIG,
    RUNNING,
    WAITING,
    KV_USAGE,
    TTFT,
    ITL,
    E2E,
    QUEUE,
)
LATENCIES = (
    ("ttft", "Time to first token", TTFT),
    ("itl", "Inter-token latency", ITL),
    ("e2e", "End-to-end latency", E2E),
    ("queue_time", "Queue time", QUEUE),
)

# ------------------------------------------------------------------------------ quantities

Fleet = Literal["sum", "max", "mean", "query", "derived"]


@dataclass(frozen=True)
class Quantity:
    """One number per replica: key, name, unit, how the fleet value is formed, its inputs."""

    key: str
    name: str
    unit: str
    fleet: Fleet
    inputs: tuple[str, ...] = ()


FLEET_HOW: dict[Fleet, str] = {
    "sum": "sum over replicas",
    "max": "largest replica",
    "mean": "mean over replicas",
    "query": "the same query over all replicas together",
    "derived": "the same formula over the fleet values",
}
_FAILURE_INPUTS = ("requests_per_s", "errors_per_s", "aborts_per_s", "rejections_per_s")


def _latency_quantities() -> Iterator[Quantity]:
    for prefix, title, _ in LATENCIES:
        for q in QUANTILES:
            yield Quantity(
                f"{prefix}_p{round(q * 100)}", f"{title} p{round(q * 100)}", "s", "query"
            )
        yield Quantity(f"{prefix}_mean", f"{title} mean", "s", "query")
        yield Quantity(f"{prefix}_per_s", f"{title} observations", "1/s", "sum")


QUANTITIES: tuple[Quantity, ...] = (
    Quantity("requests_per_s", "Requests finished", "requests/s", "sum"),
    Quantity("errors_per_s", "Requests ended in error", "requests/s", "sum"),
    Quantity("aborts_per_s", "Requests aborted", "requests/s", "sum"),
    Quantity("rejections_per_s", "Admission rejections", "requests/s", "sum"),
    Quantity("failure_share", "Errors, aborts, rejections", "fraction", "derived", _FAILURE_INPUTS),
    Quantity("prompt_tokens_per_s", "Prompt tokens", "tokens/s", "sum"),
    Quantity("generation_tokens_per_s", "Generation tokens", "tokens/s", "sum"),
    Quantity(
        "prompt_tokens_per_request",
        "Prompt tokens per request",
        "tokens",
        "derived",
        ("prompt_tokens_per_s", "requests_per_s"),
    ),
    Quantity(
        "generation_tokens_per_request",
        "Generation tokens per request",
        "tokens",
        "derived",
        ("generation_tokens_per_s", "requests_per_s"),
    ),
    Quantity("preemptions_per_s", "Preemptions", "preemptions/s", "sum"),
    Quantity("window_samples", "Scrapes in the window (running gauge)", "samples", "max"),
    Quantity("running_mean", "Running requests, mean", "requests", "sum"),
    Quantity("running_p95", "Running requests, p95 over time", "requests", "max"),
    Quantity("running_max", "Running requests, max", "requests", "max"),
    Quantity("waiting_mean", "Waiting requests, mean", "requests", "sum"),
    Quantity("waiting_max", "Waiting requests, max", "requests", "max"),
    Quantity("kv_usage_mean", "KV-cache usage, mean", "fraction", "mean"),
    Quantity("kv_usage_max", "KV-cache usage, max", "fraction", "max"),
    Quantity("prefix_caching_enabled", "Prefix caching on (1) or off (0)", "boolean", "max"),
    Quantity("prefix_cache_queries_per_s", "Prefix-cache lookups", "tokens/s", "sum"),
    Quantity("prefix_cache_hits_per_s", "Prefix-cache hits", "tokens/s", "sum"),
    Quantity(
        "prefix_cache_hit_rate",
        "Prefix-cache hit rate",
        "fraction",
        "derived",
        ("prefix_cache_hits_per_s", "prefix_cache_queries_per_s"),
    ),
    *_latency_quantities(),
)
QUANTITY = {q.key: q for q in QUANTITIES}


@dataclass(frozen=True)
class PromValue:
    """One number from Prometheus, or unknown with the reason; never a made-up zero."""

    value: float | None
    reason: str | None = None

    @property
    def status(self) -> Literal["ok", "unknown"]:
        return "ok" if self.value is not None else "unknown"

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class QuantityResult:
    """A quantity's values per replica and for the fleet, with the PromQL that gave them."""

    quantity: Quantity
    query: str
    replicas: dict[str, PromValue]
    fleet: PromValue
    fleet_how: str

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.quantity.key,
            "name": self.quantity.name,
            "unit": self.quantity.unit,
            "query": self.query,
            "inputs": list(self.quantity.inputs),
            "fleet_how": self.fleet_how,
            "fleet": self.fleet.to_json(),
            "replicas": {r: v.to_json() for r, v in self.replicas.items()},
        }


@dataclass(frozen=True)
class FleetValues:
    """Everything one Prometheus read found about the replicas a selector picks."""

    prometheus: str
    selector: Selector
    replica_label: str
    window: float
    evaluated_at: float
    replicas: tuple[str, ...]
    models: tuple[str, ...]
    names: dict[str, tuple[str, ...]]
    results: dict[str, QuantityResult]
    queries: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def duration(self) -> str:
        return promql_duration(self.window)

    @property
    def subject(self) -> str:
        return f"{self.prometheus} {self.selector.render()}"

    def read(self, key: str, replica: str | None = None) -> PromValue:
        result = self.results[key]
        if replica is None:
            return result.fleet
        return result.replicas.get(replica, PromValue(None, "no sample from this replica"))

    def value(self, key: str, replica: str | None = None) -> float | None:
        return self.read(key, replica).value

    def sources(self, key: str) -> tuple[str, ...]:
        """The PromQL behind a quantity (a derived one's inputs' queries)."""
        quantity = self.results[key].quantity
        if quantity.fleet != "derived":
            return (self.results[key].query,)
        return tuple(dict.fromkeys(q for k in quantity.inputs for q in self.sources(k)))

    def to_json(self) -> dict[str, Any]:
        return {
            "prometheus": self.prometheus,
            "selector": self.selector.render(),
            "replica_label": self.replica_label,
            "window_s": self.window,
            "window": self.duration,
            "evaluated_at": self.evaluated_at,
            "replicas": list(self.replicas),
            "models": list(self.models),
            "metric_names": {k: list(v) for k, v in self.names.items()},
            "quantities": [r.to_json() for r in self.results.values()],
            "queries": list(self.queries),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------- queries


@dataclass
class _Reader:
    prober: Prober
    selector: Selector
    label: str
    duration: str
    at: float | None = None
    sent: list[str] = field(default_factory=list)

    def run(self, promql: str) -> list[VectorSample]:
        self.sent.append(promql)
        return query(self.prober, promql, self.at)

    def series(self, name: str) -> str:
        return f"{name}{{{self.selector.inner()}}}"

    def over(self, fn: str, names: Sequence[str], arg: str = "") -> str:
        """`fn(name{sel}[w])` of each name joined with `or` (the functions drop the name)."""
        return " or ".join(f"{fn}({arg}{self.series(n)}[{self.duration}])" for n in names)


def _discovery(reader: _Reader) -> str:
    names = "|".join(n for f in FAMILIES for n in f.names)
    by = ", ".join(dict.fromkeys(("__name__", reader.label, "model_name")))
    return f'count by ({by}) ({{__name__=~"{names}",{reader.selector.inner()}}})'


class _Collect:
    """Per-replica values of the quantities, filled query by query."""

    def __init__(self, reader: _Reader, present: dict[str, set[str]], discovery: str) -> None:
        self.reader = reader
        self.present = present
        self.discovery = discovery
        self.values: dict[str, dict[str, PromValue]] = defaultdict(dict)
        self.queries: dict[str, str] = {}
        self.missing: dict[str, str] = {}
        self.fleet: dict[str, PromValue] = {}
        self.seen: set[str] = set()

    def exported(self, family: Family, keys: Sequence[str]) -> bool:
        """Whether any replica exports the family; if none does, its keys are unknown."""
        if any(n in self.present for n in family.names):
            return True
        reason = f"{' / '.join(family.names)} not exported under {self.reader.selector.render()}"
        for key in keys:
            self.queries[key] = self.discovery
            self.missing[key] = reason
            self.fleet[key] = PromValue(None, reason)
        return False

    def names(self, family: Family, suffix: str = "") -> list[str]:
        """The family's series names (with suffix) whose generation some replica exports."""
        return [
            with_suffix
            for name, with_suffix in zip(family.names, family.series(suffix), strict=True)
            if name in self.present
        ]

    def gather(self, key: str, promql: str, samples: Iterable[VectorSample], no_data: str) -> None:
        """Per-replica values of a query; the sample without the replica label is the fleet's."""
        self.queries[key] = promql
        self.missing[key] = no_data
        for s in samples:
            replica = s.labels.get(self.reader.label, "")
            value = PromValue(s.value) if math.isfinite(s.value) else PromValue(None, no_data)
            if not replica:
                self.fleet[key] = value
                continue
            self.seen.add(replica)
            self.values[key][replica] = value


def _counters(c: _Collect) -> None:
    r = c.reader
    no_rate = f"fewer than two samples in the {r.duration} window"
    keys = ("requests_per_s", "errors_per_s", "aborts_per_s")
    if c.exported(REQUESTS, keys):
        promql = f"sum by ({r.label}, finished_reason) ({r.over('rate', c.names(REQUESTS))})"
        totals: dict[str, float] = defaultdict(float)
        by_reason: dict[str, dict[str, float]] = defaultdict(dict)
        for s in r.run(promql):
            replica = s.labels.get(r.label, "")
            if replica:
                totals[replica] += s.value
                by_reason[replica][s.labels.get("finished_reason", "")] = s.value
        for key in keys:
            c.queries[key] = promql
            c.missing[key] = no_rate
        for replica, total in totals.items():
            c.seen.add(replica)
            c.values["requests_per_s"][replica] = PromValue(total)
            for key, reason in (("errors_per_s", "error"), ("aborts_per_s", "abort")):
                amount = by_reason[replica].get(reason)
                c.values[key][replica] = (
                    PromValue(amount)
                    if amount is not None
                    else PromValue(None, f'no finished_reason="{reason}" series on this replica')
                )
    for family, key in (
        (REJECTIONS, "rejections_per_s"),
        (PROMPT, "prompt_tokens_per_s"),
        (GENERATION, "generation_tokens_per_s"),
        (PREEMPTIONS, "preemptions_per_s"),
        (PREFIX_QUERIES, "prefix_cache_queries_per_s"),
        (PREFIX_HITS, "prefix_cache_hits_per_s"),
    ):
        if c.exported(family, (key,)):
            promql = f"sum by ({r.label}) ({r.over('rate', c.names(family))})"
            c.gather(key, promql, r.run(promql), no_rate)


def _gauges(c: _Collect) -> None:
    r = c.reader
    no_data = f"no sample in the {r.duration} window"
    for family, prefix, combine in (
        (RUNNING, "running", "sum"),
        (WAITING, "waiting", "sum"),
        (KV_USAGE, "kv_usage", "max"),
    ):
        stats = [("mean", "avg_over_time", ""), ("max", "max_over_time", "")]
        if prefix == "running":
            stats.insert(1, ("p95", "quantile_over_time", "0.95, "))
        keys = [f"{prefix}_{stat}" for stat, _, _ in stats]
        if prefix == "running":
            keys.insert(0, "window_samples")
        if not c.exported(family, keys):
            continue
        if prefix == "running":
            # How much of the window each replica was scraped: who started or stopped in it.
            promql = f"max by ({r.label}) ({r.over('count_over_time', c.names(family))})"
            c.gather("window_samples", promql, r.run(promql), no_data)
        for stat, fn, arg in stats:
            # Engines of one replica (data parallel) are summed, or maxed for KV usage.
            promql = f"{combine} by ({r.label}) ({r.over(fn, c.names(family), arg)})"
            c.gather(f"{prefix}_{stat}", promql, r.run(promql), no_data)
    key = "prefix_caching_enabled"
    if c.exported(CACHE_CONFIG, (key,)):
        promql = (
            f"max by ({r.label}, enable_prefix_caching) "
            f"({' or '.join(r.series(n) for n in c.names(CACHE_CONFIG))})"
        )
        flags = {"True": 1.0, "False": 0.0}
        c.queries[key] = promql
        c.missing[key] = "no vllm:cache_config_info sample with enable_prefix_caching"
        for s in r.run(promql):
            replica = s.labels.get(r.label, "")
            flag = flags.get(s.labels.get("enable_prefix_caching", ""))
            if replica and flag is not None:
                c.seen.add(replica)
                c.values[key][replica] = PromValue(flag)


def _latencies(c: _Collect) -> None:
    r = c.reader
    no_obs = f"no observations in the {r.duration} window"
    for prefix, _, family in LATENCIES:
        keys = [f"{prefix}_p{round(q * 100)}" for q in QUANTILES]
        if not c.exported(family, [*keys, f"{prefix}_mean", f"{prefix}_per_s"]):
            continue
        rates = r.over("rate", c.names(family, "_bucket"))
        for q, key in zip(QUANTILES, keys, strict=True):
            # Per replica (grouped by the replica label) and the fleet (buckets summed) at once.
            promql = (
                f"histogram_quantile({q}, sum by ({r.label}, le) ({rates}) "
                f"or sum by (le) ({rates}))"
            )
            c.gather(key, promql, r.run(promql), no_obs)
        sums = r.over("rate", c.names(family, "_sum"))
        counts = r.over("rate", c.names(family, "_count"))
        promql = (
            f"sum by ({r.label}) ({sums}) / sum by ({r.label}) ({counts}) "
            f"or sum({sums}) / sum({counts})"
        )
        c.gather(f"{prefix}_mean", promql, r.run(promql), no_obs)
        promql = f"sum by ({r.label}) ({counts})"
        c.gather(f"{prefix}_per_s", promql, r.run(promql), no_obs)
    for key in c.queries:
        # A query kind of fleet value that got no fleet sample (empty result).
        if QUANTITY[key].fleet == "query" and key not in c.fleet:
            c.fleet[key] = PromValue(None, c.missing[key])


def _fleet_value(
    quantity: Quantity, per: dict[str, PromValue], replicas: Sequence[str]
) -> tuple[PromValue, str]:
    how = FLEET_HOW[quantity.fleet]
    numbers = [v for v in (per[r].value for r in replicas) if v is not None]
    if not numbers:
        reasons = [per[r].reason for r in replicas if per[r].reason]
        return PromValue(None, reasons[0] if reasons else "no replica has data"), how
    if len(numbers) < len(replicas):
        how += f" ({len(numbers)} of {len(replicas)} replicas have data)"
    if quantity.fleet == "sum":
        return PromValue(sum(numbers)), how
    if quantity.fleet == "max":
        return PromValue(max(numbers)), how
    return PromValue(sum(numbers) / len(numbers)), how


def _ratio(top: PromValue, bottom: PromValue, nothing: str) -> PromValue:
    for part in (top, bottom):
        if part.value is None:
            return PromValue(None, part.reason)
    if not bottom.value:
        return PromValue(None, nothing)
    return PromValue((top.value or 0.0) / bottom.value)


def _formula(quantity: Quantity) -> str:
    if quantity.key == "failure_share":
        return (
            "(errors_per_s + aborts_per_s + rejections_per_s) / "
            "(requests_per_s + rejections_per_s); rejections 0 when not exported"
        )
    return " / ".join(quantity.inputs)


def _derive(key: str, get: Callable[[str], PromValue]) -> PromValue:
    """A derived quantity from its inputs (all of one replica, or all of the fleet)."""
    if key != "failure_share":
        top, bottom = (get(k) for k in QUANTITY[key].inputs)
        if key == "prefix_cache_hit_rate":
            return _ratio(top, bottom, "no prompt token was looked up in the prefix cache")
        return _ratio(top, bottom, "no request finished in the window")
    requests, errors, aborts, rejected = (get(k) for k in _FAILURE_INPUTS)
    for part in (requests, errors, aborts):
        if part.value is None:
            return PromValue(None, part.reason)
    rejections = rejected.value or 0.0  # no counter: a vLLM without an admission limit
    failed = PromValue((errors.value or 0.0) + (aborts.value or 0.0) + rejections)
    attempts = PromValue((requests.value or 0.0) + rejections)
    return _ratio(failed, attempts, "no request finished or was rejected in the window")


def _replica_getter(
    results: Mapping[str, QuantityResult], replica: str | None
) -> Callable[[str], PromValue]:
    def get(key: str) -> PromValue:
        result = results[key]
        return result.fleet if replica is None else result.replicas[replica]

    return get


def _discover(reader: _Reader, discovery: str) -> tuple[dict[str, set[str]], set[str]]:
    """Which series names each replica exports, and the model names seen."""
    found = reader.run(discovery)
    where = f"{reader.prober.base}{QUERY_PATH}"
    if not found:
        raise FetchError(f"{where}: no vLLM series match {reader.selector.render()}")
    lacking = sum(1 for s in found if not s.labels.get(reader.label))
    if lacking:
        raise FetchError(
            f"{where}: {lacking} of {len(found)} vLLM series groups under "
            f"{reader.selector.render()} have no {reader.label!r} label; "
            "pick another --replica-label"
        )
    if math.isfinite(found[0].timestamp):
        reader.at = found[0].timestamp
    present: dict[str, set[str]] = defaultdict(set)
    models: set[str] = set()
    for s in found:
        present[s.labels.get("__name__", "")].add(s.labels[reader.label])
        if s.labels.get("model_name"):
            models.add(s.labels["model_name"])
    return present, models


def read_fleet(
    base: str,
    selector: Selector,
    window: float,
    options: ProbeOptions,
    replica_label: str = DEFAULT_REPLICA_LABEL,
) -> FleetValues:
    """Every quantity per replica and for the fleet: one discovery query, then one per value.

    All queries are evaluated at the time of the discovery answer, so they describe the same
    window. FetchError when Prometheus cannot be read or the selector matches no vLLM series.
    """
    label = check_replica_label(replica_label)
    prober = Prober(base, options)
    try:
        reader = _Reader(prober, selector, label, promql_duration(window))
        discovery = _discovery(reader)
        present, models = _discover(reader, discovery)
        collect = _Collect(reader, present, discovery)
        collect.seen.update(r for replicas in present.values() for r in replicas)
        _counters(collect)
        _gauges(collect)
        _latencies(collect)
    finally:
        prober.close()
    replicas = tuple(sorted(collect.seen))
    results: dict[str, QuantityResult] = {}
    derived = [q for q in QUANTITIES if q.fleet == "derived"]
    for quantity in QUANTITIES:
        key = quantity.key
        if quantity.fleet == "derived":
            continue
        missing = PromValue(None, collect.missing.get(key, "no sample from this replica"))
        per = {r: collect.values[key].get(r, missing) for r in replicas}
        if key in collect.fleet:
            fleet, how = collect.fleet[key], FLEET_HOW[quantity.fleet]
        else:
            fleet, how = _fleet_value(quantity, per, replicas)
        results[key] = QuantityResult(quantity, collect.queries[key], per, fleet, how)
    for quantity in derived:
        per = {r: _derive(quantity.key, _replica_getter(results, r)) for r in replicas}
        fleet = _derive(quantity.key, _replica_getter(results, None))
        results[quantity.key] = QuantityResult(
            quantity, _formula(quantity), per, fleet, FLEET_HOW["derived"]
        )
    names = {f.canonical: tuple(n for n in f.names if n in present) for f in FAMILIES}
    notes = tuple(
        f"{canonical}: replicas export {' and '.join(found)} (vLLM generations mixed); "
        "a replica exporting both counts under the newest name"
        for canonical, found in names.items()
        if len(found) > 1
    )
    return FleetValues(
        prober.base,
        selector,
        label,
        window,
        reader.at if reader.at is not None else math.nan,
        replicas,
        tuple(sorted(models)),
        names,
        {q.key: results[q.key] for q in QUANTITIES},
        tuple(reader.sent),
        notes,
    )


# ------------------------------------------------------------------------ facts for rules

NOT_FROM_PROMETHEUS = (
    "not read from Prometheus (identity and configuration come from the server itself: "
    "probe its URL)"
)
_LATENCY_SIGNALS = {
    "ttft": "ttft",
    "inter-token-latency": "itl",
    "end-to-end-latency": "e2e",
    "queue-time": "queue_time",
}


class _Signals:
    """Builds SignalValues of one replica (or the fleet) from the values read."""

    def __init__(self, values: FleetValues, replica: str | None) -> None:
        self.values = values
        self.replica = replica
        self.window = f"{values.duration} window (Prometheus, at {values.evaluated_at:.3f})"
        self.meta = {sid: (number, name, unit) for sid, number, name, unit in SIGNALS}

    def get(self, key: str) -> float | None:
        return self.values.value(key, self.replica)

    def in_window(self, key: str) -> float | None:
        """A rate times the window: the increase over it, as PromQL's increase() gives."""
        rate = self.get(key)
        return rate * self.values.window if rate is not None else None

    def build(self, sid: str, value: dict[str, Any], keys: Sequence[str]) -> SignalValue:
        number, name, unit = self.meta[sid]
        queries = dict.fromkeys(q for k in keys for q in self.values.sources(k))
        selector = (self.values.selector.render(),)
        prov = tuple(Provenance(q, selector, self.window) for q in queries)
        known = {k: v for k, v in value.items() if v is not None}
        if known:
            return SignalValue(sid, number, name, unit, "ok", known, prov)
        reasons = (self.values.read(k, self.replica).reason for k in keys)
        reason = next((r for r in reasons if r), "no data")
        return SignalValue(sid, number, name, unit, "unknown", {}, prov, reason)


def replica_signals(
    values: FleetValues, replica: str | None, configured: Mapping[str, Any] | None = None
) -> dict[str, SignalValue]:
    """The 25 signals of one replica (or of the fleet, replica None) from the values read.

    Counts over the window are rate x window (what PromQL's increase() gives); signals that
    need the server itself (identity, configuration) are unknown.
    """
    s = _Signals(values, replica)
    out = {
        sid: SignalValue(sid, number, name, unit, "unknown", {}, (), NOT_FROM_PROMETHEUS)
        for sid, number, name, unit in SIGNALS
    }
    finished = s.in_window("requests_per_s")
    out["requests-per-second"] = s.build(
        "requests-per-second",
        {"rps": s.get("requests_per_s"), "requests": finished},
        ("requests_per_s",),
    )
    out["tokens-per-second"] = s.build(
        "tokens-per-second",
        {
            "prompt_tps": s.get("prompt_tokens_per_s"),
            "generation_tps": s.get("generation_tokens_per_s"),
            "prompt_tokens": s.in_window("prompt_tokens_per_s"),
            "generation_tokens": s.in_window("generation_tokens_per_s"),
        },
        ("prompt_tokens_per_s", "generation_tokens_per_s"),
    )
    out["tokens-per-request"] = s.build(
        "tokens-per-request",
        {
            "prompt_mean": s.get("prompt_tokens_per_request"),
            "generation_mean": s.get("generation_tokens_per_request"),
        },
        ("prompt_tokens_per_request", "generation_tokens_per_request"),
    )
    batch = {k: s.get(f"running_{k}") for k in ("mean", "p95", "max")}
    if batch["max"] is not None and configured and configured.get("max_num_seqs"):
        batch["configured_max"] = configured["max_num_seqs"]
    out["effective-batch-size"] = s.build(
        "effective-batch-size", batch, ("running_mean", "running_p95", "running_max")
    )
    kv = {"mean": s.get("kv_usage_mean"), "max": s.get("kv_usage_max")}
    if kv["mean"] is not None or kv["max"] is not None:
        kv["preemptions"] = s.in_window("preemptions_per_s")
    out["kv-cache-usage"] = s.build(
        "kv-cache-usage", kv, ("kv_usage_mean", "kv_usage_max", "preemptions_per_s")
    )
    enabled = s.get("prefix_caching_enabled")
    policy: dict[str, Any] = {
        "enable_prefix_caching": None if enabled is None else enabled > 0,
        "prefix_cache_hits": s.in_window("prefix_cache_hits_per_s"),
        "prefix_cache_queries": s.in_window("prefix_cache_queries_per_s"),
        "prefix_cache_hit_rate": s.get("prefix_cache_hit_rate"),
    }
    out["kv-cache-policy"] = s.build(
        "kv-cache-policy", policy, ("prefix_caching_enabled", "prefix_cache_hit_rate")
    )
    out["queue-depth"] = s.build(
        "queue-depth",
        {"mean": s.get("waiting_mean"), "max": s.get("waiting_max")},
        ("waiting_mean", "waiting_max"),
    )
    errors: dict[str, Any] = {
        "finished": finished,
        "errors": s.in_window("errors_per_s"),
        "aborts": s.in_window("aborts_per_s"),
        "admission_rejections": s.in_window("rejections_per_s"),
    }
    share = s.get("failure_share")
    if share is not None:
        attempts = (finished or 0.0) + (errors["admission_rejections"] or 0.0)
        errors["error_rate"] = (errors["errors"] or 0.0) / attempts
        errors["abort_rate"] = (errors["aborts"] or 0.0) / attempts
        errors["failure_rate"] = share
    out["error-rate"] = s.build("error-rate", errors, ("failure_share",))
    for sid, prefix in _LATENCY_SIGNALS.items():
        keys = [f"{prefix}_p{round(q * 100)}" for q in QUANTILES]
        latency: dict[str, Any] = {key.rsplit("_", 1)[1]: s.get(key) for key in keys}
        if any(v is not None for v in latency.values()):
            latency["mean"] = s.get(f"{prefix}_mean")
            latency["count"] = s.in_window(f"{prefix}_per_s")
        out[sid] = s.build(sid, latency, [*keys, f"{prefix}_mean", f"{prefix}_per_s"])
    return out


def replica_facts(
    values: FleetValues, replica: str, configured: Mapping[str, Any] | None = None
) -> MetricFacts:
    """What the per-server runtime rules need about one replica, over the window."""
    return MetricFacts(replica, replica_signals(values, replica, configured), True, values.window)


IMBALANCE_MEASURES = (
    "requests_per_s",
    "running_mean",
    "waiting_mean",
    "kv_usage_mean",
    "window_samples",
)


def fleet_facts(values: FleetValues) -> FleetFacts:
    """Per-replica load measures for the fleet rules."""
    return FleetFacts(
        values.subject,
        values.window,
        {r: {k: values.value(k, r) for k in IMBALANCE_MEASURES} for r in values.replicas},
        values.replica_label,
    )
