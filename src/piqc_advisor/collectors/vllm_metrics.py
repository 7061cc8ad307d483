"""vLLM metric names of every generation mapped onto one canonical set, engine and router apart."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from piqc_advisor.collectors.prometheus_text import Exposition, Labels

# Canonical names are the family names vLLM 0.32 exposes, as the Prometheus parser names them
# (a counter family without its _total suffix). Each alias names the generation that used it.
# Sources: vLLM's documented v0-engine metrics (0.4-0.9), the V1 renames and deprecations of
# 0.10-0.13, and the 0.32 names (shared/reference/vllm-0.32-metrics.tsv, real captures).
ALIASES: dict[str, tuple[str, str]] = {
    # raw family -> (canonical family, generation that exposed the raw name)
    "vllm:gpu_cache_usage_perc": ("vllm:kv_cache_usage_perc", "v0 engine; renamed in 0.10"),
    "vllm:cpu_cache_usage_perc": ("vllm:cpu_kv_cache_usage_perc", "v0 engine (swap space)"),
    "vllm:gpu_prefix_cache_queries": ("vllm:prefix_cache_queries", "0.7-0.9; renamed in 0.10"),
    "vllm:gpu_prefix_cache_hits": ("vllm:prefix_cache_hits", "0.7-0.9; renamed in 0.10"),
    "vllm:gpu_prefix_cache_hit_rate": ("vllm:prefix_cache_hit_rate", "v0 engine gauge"),
    "vllm:cpu_prefix_cache_hit_rate": ("vllm:cpu_prefix_cache_hit_rate", "v0 engine gauge"),
    "vllm:time_per_output_token_seconds": (
        "vllm:inter_token_latency_seconds",
        "v0 engine and V1 up to 0.10; renamed in 0.11",
    ),
    "vllm:avg_prompt_throughput_toks_per_s": ("vllm:avg_prompt_throughput", "v0 engine gauge"),
    "vllm:avg_generation_throughput_toks_per_s": (
        "vllm:avg_generation_throughput",
        "v0 engine gauge",
    ),
    "vllm:num_requests_swapped": ("vllm:num_requests_swapped", "v0 engine"),
    "vllm:num_preemptions_total": ("vllm:num_preemptions", "v0 counter without a TYPE line"),
    "vllm:spec_decode_draft_acceptance_rate": (
        "vllm:spec_decode_acceptance_rate",
        "v0 engine gauge",
    ),
    "vllm:request_success_total": ("vllm:request_success", "exposition without a TYPE line"),
    "vllm:prompt_tokens_total": ("vllm:prompt_tokens", "exposition without a TYPE line"),
    "vllm:generation_tokens_total": ("vllm:generation_tokens", "exposition without a TYPE line"),
}

#: Families that only the vLLM production-stack router exposes (always with a `server` label).
ROUTER_ONLY = frozenset(
    {
        "vllm:current_qps",
        "vllm:avg_decoding_length",
        "vllm:num_prefill_requests",
        "vllm:num_decoding_requests",
        "vllm:avg_latency",
        "vllm:avg_itl",
        "vllm:healthy_pods_total",
        "vllm:num_incoming_requests",
    }
)

_PARTS = ("_bucket", "_count", "_sum", "_created", "_total")


def canonical_family(raw: str) -> str:
    """The canonical family of a raw family name (itself when no alias applies)."""
    return ALIASES.get(raw, (raw, ""))[0]


class Series(NamedTuple):
    """One normalised sample: canonical family, the part of it, labels without `le`.

    A named tuple for the same reason as MetricSample: tens of thousands are built per body.
    """

    canonical: str
    raw: str
    kind: str
    part: str  # "value" | "total" | "bucket" | "sum" | "count" | "created"
    labels: Labels
    value: float
    le: float | None = None

    def label(self, key: str) -> str | None:
        for name, value in self.labels:
            if name == key:
                return value
        return None

    @property
    def key(self) -> tuple[str, str, Labels, float | None]:
        return (self.canonical, self.part, self.labels, self.le)


def _split(sample_name: str, family: str, kind: str) -> tuple[str, str]:
    """(raw family, part) of a sample."""
    if sample_name == family:
        if kind == "untyped" and sample_name.endswith("_total"):
            return sample_name, "total"
        return family, "value"
    rest = sample_name[len(family) :] if sample_name.startswith(family) else ""
    if rest in _PARTS:
        return family, rest[1:]
    return sample_name, "value"


def _created_base(family: str) -> str | None:
    return family[: -len("_created")] if family.endswith("_created") else None


@dataclass
class MetricSet:
    """The normalised vLLM series of one /metrics body, engine and router series apart."""

    engine: list[Series] = field(default_factory=list)
    router: list[Series] = field(default_factory=list)
    other: list[Series] = field(default_factory=list)
    aliases_used: dict[str, str] = field(default_factory=dict)
    # Histogram buckets left out because their `le` is not a number: (sample name, le).
    bad_buckets: list[tuple[str, str]] = field(default_factory=list)
    _index: dict[str, list[Series]] = field(default_factory=dict, repr=False)

    def series(self, canonical: str, part: str | None = None) -> list[Series]:
        found = self._index.get(canonical, [])
        return [s for s in found if part is None or s.part == part]

    def has(self, canonical: str) -> bool:
        return canonical in self._index

    def families(self) -> frozenset[str]:
        return frozenset(self._index)

    def _label_values(self, key: str) -> set[str | None]:
        # Thousands of series share a few label sets: look each set up once.
        return {dict(labels).get(key) for labels in {s.labels for s in self.engine}}

    def engines(self) -> tuple[str, ...]:
        return tuple(sorted({name or "0" for name in self._label_values("engine")}))

    def models(self) -> tuple[str, ...]:
        return tuple(sorted(n for n in self._label_values("model_name") if n))


def normalise(exposition: Exposition) -> MetricSet:
    """Sort a parsed body into engine, router and other series under canonical names."""
    result = MetricSet()
    index: dict[str, list[Series]] = defaultdict(list)
    names: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    for sample in exposition.samples:
        # A body repeats a few dozen names over thousands of samples: sort each out once.
        name_key = (sample.name, sample.family, sample.kind)
        known = names.get(name_key)
        if known is None:
            raw, part = _split(sample.name, sample.family, sample.kind)
            created_of = _created_base(raw)
            if created_of is not None and part == "value":
                raw, part = created_of, "created"
            if part == "value" and sample.kind == "counter":
                part = "total"
            canonical = canonical_family(raw)
            if canonical != raw:
                result.aliases_used[raw] = canonical
            known = names[name_key] = (canonical, raw, part)
        canonical, raw, part = known
        le: float | None = None
        labels = sample.labels
        if part == "bucket":
            kept = []
            bound: str | None = None
            for item in labels:
                if item[0] == "le":
                    bound = item[1]
                else:
                    kept.append(item)
            if bound is None:
                continue
            try:
                le = float(bound)
            except ValueError:
                result.bad_buckets.append((sample.name, bound))
                continue
            labels = tuple(kept)
        series = Series(canonical, raw, sample.kind, part, labels, sample.value, le)
        if not canonical.startswith("vllm:"):
            result.other.append(series)
            index[canonical].append(series)
            continue
        has_server = has_engine = False
        for name, _ in labels:
            has_server = has_server or name == "server"
            has_engine = has_engine or name == "engine"
        if canonical in ROUTER_ONLY or (has_server and not has_engine):
            result.router.append(series)
            continue
        result.engine.append(series)
        index[canonical].append(series)
    result._index = dict(index)
    return result


def label_sets(series: Iterable[Series]) -> tuple[str, ...]:
    """Distinct label sets of some series, rendered as {k="v",...}, for provenance."""
    distinct = {s.labels for s in series if s.labels}
    return tuple(
        sorted("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" for labels in distinct)
    )
