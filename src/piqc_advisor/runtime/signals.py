"""The 25 runtime signals computed from one snapshot (lifetime) or several (a window)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from piqc_advisor.collectors.vllm_metrics import Series, label_sets
from piqc_advisor.runtime.snapshot import Snapshot

Status = Literal["ok", "unknown"]
LATENCY_QUANTILES = (0.5, 0.95, 0.99)

# (id, number, name, unit) of the knowledge base's signals, in catalog order.
SIGNALS: tuple[tuple[str, int, str, str], ...] = (
    ("engine-type", 1, "Engine type", "enum"),
    ("engine-version", 2, "Engine version", "version"),
    ("model-id", 3, "Served model id", "name"),
    ("parameter-count", 4, "Model parameter count", "parameters"),
    ("precision", 5, "Weight precision (dtype)", "dtype"),
    ("quantization", 6, "Quantization method", "method"),
    ("gpus-per-replica", 7, "GPUs per replica", "GPUs"),
    ("tensor-parallel-size", 8, "Tensor parallel size", "GPUs"),
    ("pipeline-parallel-size", 9, "Pipeline parallel size", "stages"),
    ("max-model-len", 10, "Maximum context length", "tokens"),
    ("continuous-batching", 11, "Continuous batching", "boolean"),
    ("paged-attention", 12, "Paged KV cache (PagedAttention)", "block size (tokens)"),
    ("speculative-decoding", 13, "Speculative decoding", "boolean"),
    ("kv-cache-policy", 14, "KV cache policy", "settings"),
    ("requests-per-second", 15, "Requests per second", "requests/s"),
    ("tokens-per-second", 16, "Tokens per second", "tokens/s"),
    ("tokens-per-request", 17, "Tokens per request", "tokens"),
    ("effective-batch-size", 18, "Effective batch size", "sequences"),
    ("ttft", 19, "Time to first token", "s"),
    ("inter-token-latency", 20, "Inter-token latency", "s"),
    ("end-to-end-latency", 21, "End-to-end request latency", "s"),
    ("queue-time", 22, "Queue time", "s"),
    ("kv-cache-usage", 23, "KV cache usage", "fraction"),
    ("error-rate", 24, "Error rate", "fraction"),
    ("queue-depth", 25, "Queue depth", "requests"),
)


@dataclass(frozen=True)
class Provenance:
    """Where a signal's number came from: a metric (or endpoint), its label sets, the window."""

    metric: str
    labels: tuple[str, ...] = ()
    window: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "labels": list(self.labels), "window": self.window}


@dataclass(frozen=True)
class SignalValue:
    """One signal: its value (named statistics), or unknown with the reason."""

    id: str
    number: int
    name: str
    unit: str
    status: Status
    value: dict[str, Any] = field(default_factory=dict)
    provenance: tuple[Provenance, ...] = ()
    reason: str | None = None

    def get(self, key: str) -> Any:
        return self.value.get(key) if self.status == "ok" else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "name": self.name,
            "unit": self.unit,
            "status": self.status,
            "value": self.value if self.status == "ok" else None,
            "reason": self.reason,
            "provenance": [p.to_json() for p in self.provenance],
        }


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (upper bound -> count), with sum and count."""

    buckets: tuple[tuple[float, float], ...]
    total: float
    count: float

    def quantile(self, q: float) -> float | None:
        """Prometheus' histogram_quantile: linear within the bucket; None without data."""
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.buckets[-1][1]
        if rank <= 0:
            return 0.0
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower_bound
                if cumulative == lower_count:
                    return bound
                share = (rank - lower_count) / (cumulative - lower_count)
                return lower_bound + (bound - lower_bound) * share
            lower_bound, lower_count = bound, cumulative
        return lower_bound

    def mean(self) -> float | None:
        return self.total / self.count if self.count > 0 else None


def _increase(values: Sequence[float | None]) -> float:
    """Increase of a counter over samples, counting a drop as a restart from zero."""
    total, previous = 0.0, None
    for value in values:
        if value is None:
            continue
        if previous is None:
            previous = value
            continue
        total += value - previous if value >= previous else value
        previous = value
    return total


@dataclass
class View:
    """Either the lifetime of the last snapshot or the window spanned by all of them."""

    snapshots: tuple[Snapshot, ...]
    windowed: bool
    duration: float | None
    label: str

    @property
    def last(self) -> Snapshot:
        return self.snapshots[-1]

    def _series_over_time(
        self, canonical: str, part: str, where: Callable[[Series], bool] | None
    ) -> tuple[dict[tuple[Any, ...], list[float | None]], list[Series]]:
        keyed: dict[tuple[Any, ...], list[float | None]] = defaultdict(
            lambda: [None] * len(self.snapshots)
        )
        seen: list[Series] = []
        for position, snap in enumerate(self.snapshots):
            for s in snap.metrics.series(canonical, part):
                if where is None or where(s):
                    keyed[s.key][position] = s.value
                    seen.append(s)
        return keyed, seen

    def counter(
        self, canonical: str, where: Callable[[Series], bool] | None = None
    ) -> tuple[float | None, list[Series]]:
        """Total (lifetime) or increase (window) of a counter, summed over its series."""
        if not self.windowed:
            found = [
                s for s in self.last.metrics.series(canonical, "total") if where is None or where(s)
            ]
            return (sum(s.value for s in found) if found else None), found
        keyed, seen = self._series_over_time(canonical, "total", where)
        if not seen:
            return None, seen
        total = 0.0
        for values in keyed.values():
            # A series that appears during the window started from zero.
            first = next(i for i, v in enumerate(values) if v is not None)
            series = [0.0, *values[first:]] if first > 0 else values
            total += _increase(series)
        return total, seen

    def histogram(self, canonical: str) -> tuple[Histogram | None, list[Series]]:
        """A histogram merged over label sets: cumulative (lifetime) or bucket increases."""
        buckets: dict[float, float] = defaultdict(float)
        seen: list[Series] = []
        sums = counts = 0.0
        if not self.windowed:
            for s in self.last.metrics.series(canonical):
                if s.part == "bucket" and s.le is not None:
                    buckets[s.le] += s.value
                elif s.part == "sum":
                    sums += s.value
                elif s.part == "count":
                    counts += s.value
                else:
                    continue
                seen.append(s)
        else:
            for part in ("bucket", "sum", "count"):
                keyed, found = self._series_over_time(canonical, part, None)
                seen.extend(found)
                for key, values in keyed.items():
                    first = next(i for i, v in enumerate(values) if v is not None)
                    increase = _increase([0.0, *values[first:]] if first > 0 else values)
                    if part == "bucket":
                        buckets[key[3]] += increase
                    elif part == "sum":
                        sums += increase
                    else:
                        counts += increase
        if not seen:
            return None, seen
        ordered = tuple(sorted(buckets.items()))
        return Histogram(ordered, sums, counts), seen

    def gauge(
        self, canonical: str, combine: Callable[[Iterable[float]], float] = sum
    ) -> tuple[list[float], list[Series]]:
        """One value per snapshot (series combined, e.g. summed over engines)."""
        values: list[float] = []
        seen: list[Series] = []
        for snap in self.snapshots:
            found = snap.metrics.series(canonical, "value")
            if found:
                values.append(combine(s.value for s in found))
                seen.extend(found)
        return values, seen


def make_view(snapshots: Sequence[Snapshot]) -> View:
    """A window when two or more snapshots carry distinct timestamps, else a lifetime view."""
    timed = sorted(
        (s for s in snapshots if s.timestamp is not None), key=lambda s: s.timestamp or 0
    )
    if len(timed) >= 2 and (timed[-1].timestamp or 0) > (timed[0].timestamp or 0):
        duration = (timed[-1].timestamp or 0) - (timed[0].timestamp or 0)
        label = f"window {duration:.1f}s ({len(timed)} samples)"
        return View(tuple(timed), True, duration, label)
    last = (timed or list(snapshots))[-1:]
    view = View(tuple(last), False, None, "lifetime")
    view.duration = _lifetime(view)
    return view


def _lifetime(view: View) -> float | None:
    """Seconds the server has run at the snapshot (process start or counter creation)."""
    snap = view.last
    if snap.timestamp is None:
        return None
    starts = [s.value for s in snap.metrics.series("process_start_time_seconds", "value")]
    if not starts:
        starts = [s.value for s in snap.metrics.engine if s.part == "created"]
    if not starts:
        return None
    elapsed = snap.timestamp - min(starts)
    return elapsed if elapsed > 0 else None


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]


class _Builder:
    def __init__(self, view: View) -> None:
        self.view = view
        self.out: dict[str, SignalValue] = {}
        self.meta = {sid: (num, name, unit) for sid, num, name, unit in SIGNALS}

    def ok(self, sid: str, value: dict[str, Any], *prov: Provenance) -> None:
        num, name, unit = self.meta[sid]
        self.out[sid] = SignalValue(sid, num, name, unit, "ok", value, tuple(prov))

    def unknown(self, sid: str, reason: str, *prov: Provenance) -> None:
        num, name, unit = self.meta[sid]
        self.out[sid] = SignalValue(sid, num, name, unit, "unknown", {}, tuple(prov), reason)

    def prov(self, metric: str, series: Iterable[Series]) -> Provenance:
        return Provenance(metric, label_sets(series), self.view.label)


def _cache_config(snap: Snapshot) -> dict[str, str]:
    found = snap.metrics.series("vllm:cache_config_info", "value")
    return dict(found[0].labels) if found else {}


def _is_vllm(snap: Snapshot) -> bool:
    return bool(snap.metrics.engine) or snap.version is not None


def _number(text: str | None) -> float | int | str | None:
    if text is None or text == "None":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def compute_signals(
    snapshots: Sequence[Snapshot], configured: dict[str, Any] | None = None
) -> dict[str, SignalValue]:
    """Every signal of the catalog for one server; unknown (never 0) when not derivable."""
    view = make_view(snapshots)
    b = _Builder(view)
    snap = view.last
    configured = configured or {}
    _identity(b, snap)
    _static_config(b, snap, configured)
    _throughput(b, view)
    _batching(b, view, configured)
    _latency(b, view)
    _stability(b, view)
    return {sid: b.out[sid] for sid, *_ in SIGNALS}


def _identity(b: _Builder, snap: Snapshot) -> None:
    if snap.metrics.engine:
        family = min(s.raw for s in snap.metrics.engine)
        b.ok("engine-type", {"engine": "vllm"}, Provenance(family, (), "/metrics"))
    elif snap.version is not None:
        b.ok("engine-type", {"engine": "vllm"}, Provenance("/version"))
    else:
        b.unknown("engine-type", "no vllm: metric families and no /version answer")
    if snap.version is not None:
        b.ok("engine-version", {"version": snap.version}, Provenance("/version"))
    else:
        b.unknown("engine-version", "/version not read (vLLM /metrics has no version family)")
    if snap.models:
        ids = [m.id for m in snap.models]
        b.ok("model-id", {"models": ids}, Provenance("/v1/models"))
    elif snap.metrics.models():
        series = [s for s in snap.metrics.engine if s.label("model_name")]
        b.ok(
            "model-id",
            {"models": list(snap.metrics.models())},
            b.prov("label model_name", series[:1]),
        )
    else:
        b.unknown("model-id", "no /v1/models answer and no model_name label")
    lengths = [m.max_model_len for m in snap.models if m.max_model_len is not None]
    if lengths:
        b.ok("max-model-len", {"tokens": max(lengths)}, Provenance("/v1/models max_model_len"))
    else:
        b.unknown("max-model-len", "/v1/models not read or without max_model_len")


def _server_config(snap: Snapshot, key: str) -> Any:
    info = snap.server_info or {}
    for section in ("vllm_config", "model_config", "parallel_config", "scheduler_config"):
        part = info.get(section)
        if isinstance(part, dict) and key in part:
            return part[key]
    return info.get(key)


def _static_config(b: _Builder, snap: Snapshot, configured: dict[str, Any]) -> None:
    for sid, key in (
        ("precision", "dtype"),
        ("quantization", "quantization"),
        ("tensor-parallel-size", "tensor_parallel_size"),
        ("pipeline-parallel-size", "pipeline_parallel_size"),
    ):
        value = configured.get(key, _server_config(snap, key))
        if value is not None:
            b.ok(
                sid, {key: value}, Provenance("/server_info" if key not in configured else "given")
            )
        else:
            b.unknown(
                sid, f"{key} is not exported on /metrics (read /server_info or the manifests)"
            )
    b.unknown("parameter-count", "needs the model catalog or hub metadata, not a runtime metric")
    b.unknown("gpus-per-replica", "a pod-spec fact (nvidia.com/gpu), not on /metrics")
    cache = _cache_config(snap)
    cache_series = snap.metrics.series("vllm:cache_config_info", "value")
    if _is_vllm(snap):
        b.ok("continuous-batching", {"enabled": True}, Provenance("engine-type vllm"))
    else:
        b.unknown("continuous-batching", "engine not identified")
    if cache:
        block = _number(cache.get("block_size"))
        b.ok(
            "paged-attention",
            {"enabled": True, "block_size": block},
            b.prov("vllm:cache_config_info", cache_series),
        )
        keys = (
            "num_gpu_blocks",
            "block_size",
            "cache_dtype",
            "enable_prefix_caching",
            "gpu_memory_utilization",
            "kv_cache_memory_bytes",
            "kv_cache_size_tokens",
            "kv_offloading_backend",
            "num_cpu_blocks",
        )
        policy = {k: _number(cache[k]) for k in keys if k in cache}
        if "enable_prefix_caching" in cache:
            policy["enable_prefix_caching"] = cache["enable_prefix_caching"] == "True"
        provs = [b.prov("vllm:cache_config_info", cache_series)]
        hits, hit_series = b.view.counter("vllm:prefix_cache_hits")
        queries, query_series = b.view.counter("vllm:prefix_cache_queries")
        if hits is not None and queries is not None:
            policy["prefix_cache_hits"] = hits
            policy["prefix_cache_queries"] = queries
            if queries > 0:
                policy["prefix_cache_hit_rate"] = hits / queries
            provs.append(b.prov(hit_series[0].raw + "_total" if hit_series else "", hit_series))
            provs.append(
                b.prov(query_series[0].raw + "_total" if query_series else "", query_series)
            )
        b.ok("kv-cache-policy", policy, *provs)
    else:
        b.unknown("paged-attention", "vllm:cache_config_info not exported")
        b.unknown("kv-cache-policy", "vllm:cache_config_info not exported")
    drafts = snap.metrics.series("vllm:spec_decode_num_drafts", "total")
    if drafts:
        view = b.view
        accepted, _ = view.counter("vllm:spec_decode_num_accepted_tokens")
        drafted, _ = view.counter("vllm:spec_decode_num_draft_tokens")
        spec: dict[str, Any] = {"enabled": True}
        if accepted is not None and drafted:
            spec["acceptance_rate"] = accepted / drafted
        b.ok("speculative-decoding", spec, b.prov("vllm:spec_decode_num_drafts_total", drafts))
    elif snap.metrics.has("vllm:request_success"):
        b.ok(
            "speculative-decoding",
            {"enabled": False},
            Provenance("absent vllm:spec_decode_num_drafts_total", (), "/metrics"),
        )
    else:
        b.unknown("speculative-decoding", "no vLLM engine metrics")


def _rate(amount: float | None, view: View) -> float | None:
    if amount is None or not view.duration:
        return None
    return amount / view.duration


def _throughput(b: _Builder, view: View) -> None:
    finished, fin_series = view.counter("vllm:request_success")
    if finished is None:
        b.unknown("requests-per-second", "vllm:request_success_total not exported")
    else:
        value: dict[str, Any] = {"requests": finished}
        rate = _rate(finished, view)
        if rate is not None:
            value["rps"] = rate
        b.ok("requests-per-second", value, b.prov("vllm:request_success_total", fin_series))
    prompt, p_series = view.counter("vllm:prompt_tokens")
    generated, g_series = view.counter("vllm:generation_tokens")
    if prompt is None and generated is None:
        avg_p, ap = view.gauge("vllm:avg_prompt_throughput")
        avg_g, ag = view.gauge("vllm:avg_generation_throughput")
        if avg_p or avg_g:
            b.ok(
                "tokens-per-second",
                {
                    "prompt_tps": avg_p[-1] if avg_p else None,
                    "generation_tps": avg_g[-1] if avg_g else None,
                },
                b.prov("vllm:avg_prompt_throughput_toks_per_s", ap),
                b.prov("vllm:avg_generation_throughput_toks_per_s", ag),
            )
        else:
            b.unknown("tokens-per-second", "token counters not exported")
    else:
        tokens: dict[str, Any] = {"prompt_tokens": prompt, "generation_tokens": generated}
        if view.duration:
            tokens["prompt_tps"] = _rate(prompt, view)
            tokens["generation_tps"] = _rate(generated, view)
        b.ok(
            "tokens-per-second",
            tokens,
            b.prov("vllm:prompt_tokens_total", p_series),
            b.prov("vllm:generation_tokens_total", g_series),
        )
    hist_p, hp = view.histogram("vllm:request_prompt_tokens")
    hist_g, hg = view.histogram("vllm:request_generation_tokens")
    per: dict[str, Any] = {}
    provs: list[Provenance] = []
    for prefix, hist, series, metric in (
        ("prompt", hist_p, hp, "vllm:request_prompt_tokens"),
        ("generation", hist_g, hg, "vllm:request_generation_tokens"),
    ):
        if hist is not None and hist.count > 0:
            per[f"{prefix}_mean"] = hist.mean()
            per[f"{prefix}_p50"] = hist.quantile(0.5)
            per[f"{prefix}_p95"] = hist.quantile(0.95)
            provs.append(b.prov(metric, series))
    if not per and finished:
        if prompt is not None:
            per["prompt_mean"] = prompt / finished
        if generated is not None:
            per["generation_mean"] = generated / finished
        provs = [b.prov("vllm:prompt_tokens_total / vllm:request_success_total", p_series)]
    if per:
        b.ok("tokens-per-request", per, *provs)
    else:
        b.unknown("tokens-per-request", "no finished requests to measure")


def _batching(b: _Builder, view: View, configured: dict[str, Any]) -> None:
    running, r_series = view.gauge("vllm:num_requests_running")
    steps, s_series = view.histogram("vllm:iteration_tokens_total")
    if not running:
        b.unknown("effective-batch-size", "vllm:num_requests_running not exported")
    else:
        value: dict[str, Any] = {
            "p50": percentile(running, 0.5),
            "p95": percentile(running, 0.95),
            "max": max(running),
            "samples": len(running),
        }
        max_seqs = configured.get("max_num_seqs", _server_config(view.last, "max_num_seqs"))
        if max_seqs is not None:
            value["configured_max"] = max_seqs
        provs = [b.prov("vllm:num_requests_running", r_series)]
        if steps is not None and steps.count > 0:
            value["tokens_per_step_p50"] = steps.quantile(0.5)
            value["tokens_per_step_mean"] = steps.mean()
            provs.append(b.prov("vllm:iteration_tokens_total", s_series))
        b.ok("effective-batch-size", value, *provs)
    usage, u_series = view.gauge("vllm:kv_cache_usage_perc", max)
    preempt, pr_series = view.counter("vllm:num_preemptions")
    if not usage:
        b.unknown(
            "kv-cache-usage", "vllm:kv_cache_usage_perc (or gpu_cache_usage_perc) not exported"
        )
    else:
        kv: dict[str, Any] = {"current": usage[-1], "max": max(usage), "samples": len(usage)}
        provs = [b.prov(u_series[0].raw if u_series else "vllm:kv_cache_usage_perc", u_series)]
        if preempt is not None:
            kv["preemptions"] = preempt
            provs.append(b.prov("vllm:num_preemptions_total", pr_series))
        b.ok("kv-cache-usage", kv, *provs)


def _latency(b: _Builder, view: View) -> None:
    for sid, metric in (
        ("ttft", "vllm:time_to_first_token_seconds"),
        ("inter-token-latency", "vllm:inter_token_latency_seconds"),
        ("end-to-end-latency", "vllm:e2e_request_latency_seconds"),
        ("queue-time", "vllm:request_queue_time_seconds"),
    ):
        hist, series = view.histogram(metric)
        if hist is None:
            b.unknown(sid, f"{metric} not exported")
            continue
        if hist.count <= 0:
            b.unknown(sid, "no observations in the " + view.label, b.prov(metric, series))
            continue
        value: dict[str, Any] = {f"p{round(q * 100)}": hist.quantile(q) for q in LATENCY_QUANTILES}
        value["mean"] = hist.mean()
        value["count"] = hist.count
        raw = series[0].raw if series else metric
        b.ok(sid, value, b.prov(raw, series))
    _prefill_part(b, view)


def _prefill_part(b: _Builder, view: View) -> None:
    """The prefill part of TTFT (scheduled to first token): vllm:request_prefill_time_seconds."""
    ttft = b.out["ttft"]
    metric = "vllm:request_prefill_time_seconds"
    hist, series = view.histogram(metric)
    if ttft.status != "ok" or hist is None or hist.count <= 0:
        return
    # Its first bucket ends at 0.3s, so only the exact mean and count are kept, not quantiles.
    value = dict(ttft.value)
    value["prefill_mean"] = hist.mean()
    value["prefill_count"] = hist.count
    b.ok("ttft", value, *ttft.provenance, b.prov(metric, series))


def _reason_is(reason: str) -> Callable[[Series], bool]:
    def match(series: Series) -> bool:
        return series.label("finished_reason") == reason

    return match


def _stability(b: _Builder, view: View) -> None:
    finished, fin_series = view.counter("vllm:request_success")
    if finished is None:
        b.unknown("error-rate", "vllm:request_success_total not exported")
    else:
        by_reason: dict[str, float] = defaultdict(float)
        for reason in ("error", "abort"):
            amount, _ = view.counter("vllm:request_success", _reason_is(reason))
            by_reason[reason] = amount or 0.0
        rejected, rej_series = view.counter("vllm:admission_rejections")
        value: dict[str, Any] = {
            "finished": finished,
            "errors": by_reason["error"],
            "aborts": by_reason["abort"],
        }
        provs = [b.prov("vllm:request_success_total", fin_series)]
        if rejected is not None:
            value["admission_rejections"] = rejected
            provs.append(b.prov("vllm:admission_rejections_total", rej_series))
        attempts = finished + (rejected or 0.0)
        if attempts > 0:
            value["error_rate"] = by_reason["error"] / attempts
            value["abort_rate"] = by_reason["abort"] / attempts
            value["failure_rate"] = (
                by_reason["error"] + by_reason["abort"] + (rejected or 0.0)
            ) / attempts
        b.ok("error-rate", value, *provs)
    waiting, w_series = view.gauge("vllm:num_requests_waiting")
    if not waiting:
        b.unknown("queue-depth", "vllm:num_requests_waiting not exported")
        return
    depth: dict[str, Any] = {"current": waiting[-1], "max": max(waiting), "samples": len(waiting)}
    provs = [b.prov("vllm:num_requests_waiting", w_series)]
    by_reason_series = view.last.metrics.series("vllm:num_requests_waiting_by_reason", "value")
    if by_reason_series:
        reasons: dict[str, float] = defaultdict(float)
        for s in by_reason_series:
            reasons[s.label("reason") or "?"] += s.value
        depth["by_reason"] = dict(reasons)
        provs.append(b.prov("vllm:num_requests_waiting_by_reason", by_reason_series))
    b.ok("queue-depth", depth, *provs)
