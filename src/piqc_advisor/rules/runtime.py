"""Diagnoses over runtime metric facts, each tied to a knowledge-base item and a playbook."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

from piqc_advisor.rules.api import NotApplicable, Unknown
from piqc_advisor.runtime.signals import SignalValue


@dataclass(frozen=True)
class MetricFacts:
    """What is known about one server at runtime: its signals, how they were observed."""

    subject: str
    signals: dict[str, SignalValue]
    windowed: bool
    duration: float | None = None

    def value(self, signal: str, key: str) -> Any:
        found = self.signals.get(signal)
        return found.get(key) if found is not None else None


@dataclass(frozen=True)
class Diagnosis:
    """A rule's finding about a server: what is wrong and the signals that show it."""

    message: str
    signals: tuple[str, ...]
    key: str = ""


RuntimeOutcome: TypeAlias = Diagnosis | Unknown | NotApplicable
Facts = TypeVar("Facts")


@dataclass(frozen=True)
class DiagnosisRule(Generic[Facts]):
    """A diagnosis rule: kebab-case name, the item it speaks to, its playbook, its check.

    Facts is what it reads: one server's MetricFacts here, a deployment's replicas in
    runtime_fleet.py.
    """

    name: str
    item: str
    playbook: str
    summary: str
    check: Callable[[Facts, Any], Iterable[RuntimeOutcome]]
    params: Any = field(default=None)

    def run(self, facts: Facts, params: Any | None = None) -> Iterator[RuntimeOutcome]:
        yield from self.check(facts, params if params is not None else self.params)


def diagnosis_rule(
    name: str, item: str, playbook: str, summary: str, params: Any
) -> Callable[[Callable[[Facts, Any], Iterable[RuntimeOutcome]]], DiagnosisRule[Facts]]:
    def wrap(check: Callable[[Facts, Any], Iterable[RuntimeOutcome]]) -> DiagnosisRule[Facts]:
        return DiagnosisRule(name, item, playbook, summary, check, params)

    return wrap


RuntimeRule: TypeAlias = DiagnosisRule[MetricFacts]
runtime_rule = diagnosis_rule


def _fmt(value: float) -> str:
    return f"{value:.3g}"


# ------------------------------------------------------------------------------- KV pressure


@dataclass(frozen=True)
class KvPressureParams:
    """usage_high: KV-cache fill (0-1) that counts as exhausted; preemptions_max: tolerated."""

    usage_high: float = 0.9
    preemptions_max: float = 0.0


@runtime_rule(
    "runtime-kv-cache-pressure",
    "GPU-005",
    "kv-cache-pressure",
    "KV cache near full or sequences preempted: the replica is short of KV blocks.",
    KvPressureParams(),
)
def kv_cache_pressure(facts: MetricFacts, params: KvPressureParams) -> Iterator[RuntimeOutcome]:
    usage = facts.value("kv-cache-usage", "max")
    preempted = facts.value("kv-cache-usage", "preemptions")
    if usage is None and preempted is None:
        yield Unknown("KV-cache usage and preemptions are not exported")
        return
    reasons: list[str] = []
    if usage is not None and usage >= params.usage_high:
        reasons.append(f"KV-cache usage reached {_fmt(usage * 100)}%")
    if preempted is not None and preempted > params.preemptions_max:
        reasons.append(f"{_fmt(preempted)} preemptions")
    waiting = facts.value("queue-depth", "max")
    if reasons:
        if waiting:
            reasons.append(f"up to {_fmt(waiting)} requests waiting")
        yield Diagnosis(
            "KV-cache pressure: " + ", ".join(reasons) + " (" + _observed(facts) + ")",
            ("kv-cache-usage", "queue-depth"),
        )


def _observed(facts: MetricFacts) -> str:
    if facts.windowed and facts.duration:
        return f"over a {facts.duration:.0f}s window"
    return "since the server started"


# -------------------------------------------------------------------------- saturation


@dataclass(frozen=True)
class SaturationParams:
    """waiting_max: tolerated queue depth; queue_p95_s: tolerated p95 queue time (seconds)."""

    waiting_max: float = 0.0
    queue_p95_s: float = 1.0
    kv_full: float = 0.9


@runtime_rule(
    "runtime-saturation",
    "OBS-212",
    "gpu-utilization",
    "Requests queue for capacity; says whether more replicas would help.",
    SaturationParams(),
)
def saturation(facts: MetricFacts, params: SaturationParams) -> Iterator[RuntimeOutcome]:
    waiting = facts.value("queue-depth", "max")
    queue_p95 = facts.value("queue-time", "p95")
    if waiting is None and queue_p95 is None:
        yield Unknown("neither queue depth nor queue time is exported")
        return
    queued = (waiting is not None and waiting > params.waiting_max) or (
        queue_p95 is not None and queue_p95 > params.queue_p95_s
    )
    if not queued:
        return
    what = []
    if waiting:
        what.append(f"up to {_fmt(waiting)} requests waiting")
    if queue_p95 is not None:
        what.append(f"queue time p95 {_fmt(queue_p95)}s")
    usage = facts.value("kv-cache-usage", "max")
    preempted = facts.value("kv-cache-usage", "preemptions") or 0
    running = facts.value("effective-batch-size", "max")
    limit = facts.value("effective-batch-size", "configured_max")
    if (usage is not None and usage >= params.kv_full) or preempted > 0:
        verdict = (
            "the KV cache is the limit: more replicas of the same shape will not help; "
            "give each replica more KV memory, a shorter max-model-len or a quantized KV cache"
        )
    elif running is not None and limit is not None and running >= limit:
        verdict = (
            f"the batch is full ({_fmt(running)} of max-num-seqs {limit}) with KV headroom: "
            "add replicas or raise max-num-seqs"
        )
    else:
        verdict = "add replicas, or check the batching limits"
    yield Diagnosis(
        "Saturation: " + ", ".join(what) + f" ({_observed(facts)}); {verdict}",
        ("queue-depth", "queue-time", "effective-batch-size", "kv-cache-usage"),
    )


# ---------------------------------------------------------------------- batching collapse


@dataclass(frozen=True)
class BatchingParams:
    """running_share: running p95 below this share of max-num-seqs while requests wait."""

    running_share: float = 0.5


@runtime_rule(
    "runtime-batching-collapse",
    "PRF-006",
    "gpu-utilization",
    "Requests wait while the running batch stays far below the configured maximum.",
    BatchingParams(),
)
def batching_collapse(facts: MetricFacts, params: BatchingParams) -> Iterator[RuntimeOutcome]:
    limit = facts.value("effective-batch-size", "configured_max")
    running = facts.value("effective-batch-size", "p95")
    waiting = facts.value("queue-depth", "max")
    if limit is None:
        yield Unknown("max-num-seqs is unknown (pass --max-num-seqs or read /server_info)")
        return
    if running is None or waiting is None:
        yield Unknown("running or waiting request gauges are not exported")
        return
    if waiting > 0 and running < params.running_share * limit:
        yield Diagnosis(
            f"Batching collapse: running p95 {_fmt(running)} of max-num-seqs {limit} while up "
            f"to {_fmt(waiting)} requests wait ({_observed(facts)})",
            ("effective-batch-size", "queue-depth", "kv-cache-usage"),
        )


# ---------------------------------------------------------------------------- tail latency


@dataclass(frozen=True)
class TailParams:
    """ratio: p99/p50 of end-to-end latency that counts as a heavy tail; min_requests."""

    ratio: float = 4.0
    min_requests: float = 20
    min_p99_s: float = 0.5


@runtime_rule(
    "runtime-tail-latency",
    "OBS-522",
    "kv-cache-pressure",
    "End-to-end p99 latency far above p50: queueing or KV thrash in the tail.",
    TailParams(),
)
def tail_latency(facts: MetricFacts, params: TailParams) -> Iterator[RuntimeOutcome]:
    p50 = facts.value("end-to-end-latency", "p50")
    p99 = facts.value("end-to-end-latency", "p99")
    count = facts.value("end-to-end-latency", "count")
    if p50 is None or p99 is None:
        yield Unknown("no end-to-end latency observations")
        return
    if count is None or count < params.min_requests:
        yield NotApplicable(f"fewer than {params.min_requests:g} requests observed")
        return
    if p50 > 0 and p99 >= params.min_p99_s and p99 / p50 >= params.ratio:
        yield Diagnosis(
            f"Tail latency: p99 {_fmt(p99)}s is {_fmt(p99 / p50)}x p50 {_fmt(p50)}s "
            f"({_observed(facts)}); compare queue time and KV usage",
            ("end-to-end-latency", "queue-time", "kv-cache-usage"),
        )


# ---------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorParams:
    """max_rate: tolerated share of errored, aborted or rejected requests; min_requests."""

    max_rate: float = 0.01
    min_requests: float = 10


@runtime_rule(
    "runtime-error-rate",
    "OBS-013",
    "gpu-utilization",
    "Requests end in error, abort or admission rejection above the tolerated rate.",
    ErrorParams(),
)
def error_rate(facts: MetricFacts, params: ErrorParams) -> Iterator[RuntimeOutcome]:
    rate = facts.value("error-rate", "failure_rate")
    finished = facts.value("error-rate", "finished")
    if finished is None:
        yield Unknown("vllm:request_success_total is not exported")
        return
    if rate is None or finished < params.min_requests:
        yield NotApplicable(f"fewer than {params.min_requests:g} requests observed")
        return
    if rate > params.max_rate:
        parts = [
            f"{_fmt(facts.value('error-rate', k) or 0)} {k.replace('_', ' ')}"
            for k in ("errors", "aborts", "admission_rejections")
        ]
        yield Diagnosis(
            f"Error rate {_fmt(rate * 100)}% ({', '.join(parts)} of {_fmt(finished)} finished, "
            f"{_observed(facts)})",
            ("error-rate",),
        )


# ---------------------------------------------------------------------------- prefix cache


@dataclass(frozen=True)
class PrefixParams:
    """min_hit_rate: prefix-cache hit rate below which caching is not paying off."""

    min_hit_rate: float = 0.1
    min_queries: float = 1000


@runtime_rule(
    "runtime-prefix-cache-ineffective",
    "PRF-504",
    "kv-cache-pressure",
    "Prefix caching is on but few prompt tokens hit the cache.",
    PrefixParams(),
)
def prefix_cache(facts: MetricFacts, params: PrefixParams) -> Iterator[RuntimeOutcome]:
    enabled = facts.value("kv-cache-policy", "enable_prefix_caching")
    if enabled is None:
        yield Unknown("whether prefix caching is on is unknown (no vllm:cache_config_info)")
        return
    if not enabled:
        yield NotApplicable("prefix caching is off")
        return
    hits = facts.value("kv-cache-policy", "prefix_cache_hits")
    queries = facts.value("kv-cache-policy", "prefix_cache_queries")
    if hits is None or queries is None:
        yield Unknown("prefix-cache counters are not exported")
        return
    if queries < params.min_queries:
        yield NotApplicable(f"fewer than {params.min_queries:g} prompt tokens looked up")
        return
    if hits / queries < params.min_hit_rate:
        yield Diagnosis(
            f"Prefix-cache hit rate {_fmt(hits / queries * 100)}% of {_fmt(queries)} prompt "
            f"tokens ({_observed(facts)}); put the static prefix first or route by session",
            ("kv-cache-policy",),
        )


# ------------------------------------------------------------------------------------ idle


@dataclass(frozen=True)
class IdleParams:
    """max_rps: request rate that counts as idle; busy_share: running p95 share of max-num-seqs."""

    max_rps: float = 0.01
    busy_share: float = 0.1


@runtime_rule(
    "runtime-idle-server",
    "CST-009",
    "gpu-utilization",
    "The server finishes (almost) no requests or runs far below its batch capacity.",
    IdleParams(),
)
def idle_server(facts: MetricFacts, params: IdleParams) -> Iterator[RuntimeOutcome]:
    rps = facts.value("requests-per-second", "rps")
    running = facts.value("effective-batch-size", "max")
    waiting = facts.value("queue-depth", "max")
    if rps is None:
        yield Unknown("request rate unknown (needs a window or the process start time)")
        return
    requests = facts.value("requests-per-second", "requests")
    if not facts.windowed and requests:
        return  # a lifetime average says nothing about being idle now
    if rps <= params.max_rps and not running and not waiting:
        yield Diagnosis(
            f"Idle server: {_fmt(rps)} requests/s and nothing running ({_observed(facts)}); "
            "the accelerators are paid for but unused",
            ("requests-per-second", "effective-batch-size"),
            key="idle",
        )
        return
    limit = facts.value("effective-batch-size", "configured_max")
    p95 = facts.value("effective-batch-size", "p95")
    busy = params.busy_share * limit if limit else None
    if facts.windowed and busy is not None and p95 is not None and not waiting and p95 < busy:
        yield Diagnosis(
            f"Underused server: running p95 {_fmt(p95)} of max-num-seqs {limit} with no "
            f"queue ({_observed(facts)}); consolidate replicas",
            ("effective-batch-size", "queue-depth"),
            key="underused",
        )


# --------------------------------------------------------------------------- slow prefill


@dataclass(frozen=True)
class PrefillParams:
    """ttft_p95_s: TTFT p95 worth a look; max_s_per_1k_tokens: prefill s per 1k prompt tokens."""

    ttft_p95_s: float = 1.0
    max_s_per_1k_tokens: float = 0.5
    prefill_share: float = 0.5
    min_requests: float = 20


@runtime_rule(
    "runtime-slow-prefill",
    "OBS-532",
    "kv-cache-pressure",
    "Time to first token is high and mostly prefill, slow for the prompt lengths served.",
    PrefillParams(),
)
def slow_prefill(facts: MetricFacts, params: PrefillParams) -> Iterator[RuntimeOutcome]:
    ttft_p95 = facts.value("ttft", "p95")
    ttft_mean = facts.value("ttft", "mean")
    count = facts.value("ttft", "count")
    if ttft_p95 is None or ttft_mean is None:
        yield Unknown("no time-to-first-token observations")
        return
    if count is None or count < params.min_requests:
        yield NotApplicable(f"fewer than {params.min_requests:g} requests observed")
        return
    if ttft_p95 <= params.ttft_p95_s:
        return
    high = f"TTFT p95 {_fmt(ttft_p95)}s is high but"
    prompt = facts.value("tokens-per-request", "prompt_mean")
    if not prompt:
        yield Unknown(f"{high} the prompt lengths are unknown (no vllm:request_prompt_tokens)")
        return
    prefill = facts.value("ttft", "prefill_mean")
    queue = facts.value("queue-time", "mean")
    if prefill is not None:
        part = f"prefill mean {_fmt(prefill)}s"
    elif queue is not None:
        prefill = max(0.0, ttft_mean - queue)
        part = f"TTFT minus queue time {_fmt(prefill)}s on average"
    else:
        yield Unknown(
            f"{high} neither prefill time nor queue time is exported, so queueing cannot be "
            "told from prefill"
        )
        return
    share = prefill / ttft_mean if ttft_mean > 0 else 0.0
    per_1k = prefill / prompt * 1000
    if share < params.prefill_share or per_1k <= params.max_s_per_1k_tokens:
        return  # mostly queueing (runtime-saturation), or long prompts at a normal speed
    caching = facts.value("kv-cache-policy", "enable_prefix_caching")
    advice = [
        "raise --max-num-batched-tokens so that chunked prefill takes more of a prompt per step"
    ]
    if caching is None:
        advice.append("use prefix caching if prompts share a prefix")
    elif not caching:
        advice.append("turn on prefix caching if prompts share a prefix")
    advice.append("or serve long prompts with disaggregated prefill")
    yield Diagnosis(
        f"Slow prefill: TTFT p95 {_fmt(ttft_p95)}s; prefill is {_fmt(share * 100)}% of the "
        f"mean TTFT {_fmt(ttft_mean)}s ({part}) for prompts of {prompt:.0f} tokens on "
        f"average, {_fmt(per_1k)}s per 1k prompt tokens ({_observed(facts)}); " + ", ".join(advice),
        ("ttft", "queue-time", "tokens-per-request", "kv-cache-policy"),
    )


# ---------------------------------------------------------------------------- slow decode


@dataclass(frozen=True)
class DecodeParams:
    """itl_p95_s: tolerated inter-token latency p95 (s); busy_share: large-batch share."""

    itl_p95_s: float = 0.1
    min_tokens: float = 100
    busy_share: float = 0.75
    kv_full: float = 0.9


@runtime_rule(
    "runtime-slow-decode",
    "OBS-533",
    "kv-cache-pressure",
    "Inter-token latency p95 above the limit; says whether the batch, KV or the GPU is why.",
    DecodeParams(),
)
def slow_decode(facts: MetricFacts, params: DecodeParams) -> Iterator[RuntimeOutcome]:
    p95 = facts.value("inter-token-latency", "p95")
    count = facts.value("inter-token-latency", "count")
    if p95 is None:
        yield Unknown("no inter-token latency observations")
        return
    if count is None or count < params.min_tokens:
        yield NotApplicable(f"fewer than {params.min_tokens:g} output tokens observed")
        return
    if p95 <= params.itl_p95_s:
        return
    usage = facts.value("kv-cache-usage", "max")
    preempted = facts.value("kv-cache-usage", "preemptions") or 0
    running = facts.value("effective-batch-size", "p95")
    limit = facts.value("effective-batch-size", "configured_max")
    if (usage is not None and usage >= params.kv_full) or preempted > 0:
        shown = f"{_fmt(usage * 100)}%" if usage is not None else "unknown"
        verdict = (
            f"KV pressure (usage up to {shown}, {_fmt(preempted)} preemptions): preempted "
            "sequences are recomputed; see runtime-kv-cache-pressure"
        )
    elif running is not None and limit and running >= params.busy_share * limit:
        verdict = (
            f"the batch is large (running p95 {_fmt(running)} of max-num-seqs {limit}): "
            "every step carries many sequences; lower --max-num-seqs or add replicas to "
            "trade throughput for token speed"
        )
    elif running is not None and limit and usage is not None:
        verdict = (
            f"the batch is small (running p95 {_fmt(running)} of max-num-seqs {limit}) and "
            f"the KV cache has headroom (up to {_fmt(usage * 100)}%): the accelerator is slow "
            "for this model (memory bandwidth, tensor-parallel traffic, --enforce-eager) or "
            "long prefills share the decode steps (lower --max-num-batched-tokens)"
        )
    else:
        missing = [
            text
            for text, absent in (
                ("running requests are not exported", running is None),
                ("max-num-seqs is unknown", not limit),
                ("KV-cache usage is not exported", usage is None),
            )
            if absent
        ]
        verdict = "a large batch cannot be told from a slow GPU: " + ", ".join(missing)
    yield Diagnosis(
        f"Slow decode: inter-token latency p95 {_fmt(p95 * 1000)} ms, above "
        f"{_fmt(params.itl_p95_s * 1000)} ms ({_observed(facts)}); {verdict}",
        ("inter-token-latency", "effective-batch-size", "kv-cache-usage"),
    )


RUNTIME_RULES: tuple[RuntimeRule, ...] = (
    kv_cache_pressure,
    saturation,
    batching_collapse,
    tail_latency,
    error_rate,
    prefix_cache,
    idle_server,
    slow_prefill,
    slow_decode,
)


@dataclass(frozen=True)
class RuntimeResult:
    """One diagnosis rule's outcome, for a server or for a deployment's replicas."""

    rule: DiagnosisRule[Any]
    outcome: str  # diagnosed | passed | unknown | not_applicable | error
    message: str
    signals: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "item": self.rule.item,
            "playbook": self.rule.playbook,
            "outcome": self.outcome,
            "message": self.message,
            "signals": list(self.signals),
        }


def run_diagnoses(facts: Facts, rules: Iterable[DiagnosisRule[Facts]]) -> list[RuntimeResult]:
    """Run diagnosis rules on one set of facts; a crash is an `error` outcome."""
    results: list[RuntimeResult] = []
    for rule in rules:
        try:
            outcomes = list(rule.run(facts))
        except Exception as exc:  # a broken rule must not stop the others
            results.append(RuntimeResult(rule, "error", f"{type(exc).__name__}: {exc}"))
            continue
        found = [o for o in outcomes if isinstance(o, Diagnosis)]
        unknown = [o for o in outcomes if isinstance(o, Unknown)]
        skipped = [o for o in outcomes if isinstance(o, NotApplicable)]
        if found:
            results.extend(RuntimeResult(rule, "diagnosed", d.message, d.signals) for d in found)
        elif unknown:
            results.append(RuntimeResult(rule, "unknown", unknown[0].reason))
        elif skipped:
            results.append(RuntimeResult(rule, "not_applicable", skipped[0].reason))
        else:
            results.append(RuntimeResult(rule, "passed", rule.summary))
    return results


def diagnose(
    facts: MetricFacts, rules: Iterable[RuntimeRule] = RUNTIME_RULES
) -> list[RuntimeResult]:
    """Run every runtime rule on one server."""
    return run_diagnoses(facts, rules)
