from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from piqc_advisor.knowledge.loader import load_catalog
from piqc_advisor.rules.runtime import RUNTIME_RULES, MetricFacts, diagnose
from piqc_advisor.runtime.analysis import analyse
from piqc_advisor.runtime.signals import SIGNALS, SignalValue
from piqc_advisor.runtime.snapshot import snapshot_from_text


def facts(windowed: bool = True, **values: dict[str, Any]) -> MetricFacts:
    signals = {}
    for sid, number, name, unit in SIGNALS:
        key = sid.replace("-", "_")
        if key in values:
            signals[sid] = SignalValue(sid, number, name, unit, "ok", values[key])
        else:
            signals[sid] = SignalValue(sid, number, name, unit, "unknown", reason="test")
    return MetricFacts("srv", signals, windowed, 30.0)


def outcomes(f: MetricFacts) -> dict[str, str]:
    return {r.rule.name: r.outcome for r in diagnose(f)}


def test_rules_link_to_existing_items_and_playbooks() -> None:
    catalog = load_catalog()
    for rule in RUNTIME_RULES:
        assert rule.item in catalog.items, rule.name
        assert rule.playbook in catalog.playbooks, rule.name
        assert rule.params.__doc__


def test_kv_pressure_and_scaling_will_not_help() -> None:
    f = facts(
        kv_cache_usage={"max": 0.98, "preemptions": 4},
        queue_depth={"max": 6},
        effective_batch_size={"max": 3, "p95": 3, "configured_max": 8},
        requests_per_second={"rps": 2.0, "requests": 60},
    )
    results = {r.rule.name: r for r in diagnose(f)}
    assert results["runtime-kv-cache-pressure"].outcome == "diagnosed"
    assert "will not help" in results["runtime-saturation"].message
    assert results["runtime-batching-collapse"].outcome == "diagnosed"


def test_full_batch_says_add_replicas() -> None:
    f = facts(
        kv_cache_usage={"max": 0.4, "preemptions": 0},
        queue_depth={"max": 5},
        effective_batch_size={"max": 4, "p95": 4, "configured_max": 4},
    )
    results = {r.rule.name: r for r in diagnose(f)}
    assert "add replicas" in results["runtime-saturation"].message
    assert results["runtime-kv-cache-pressure"].outcome == "passed"
    assert results["runtime-batching-collapse"].outcome == "passed"


def test_tail_error_prefix_idle() -> None:
    f = facts(
        end_to_end_latency={"p50": 0.5, "p99": 4.0, "count": 100},
        error_rate={"finished": 100, "failure_rate": 0.05, "errors": 3, "aborts": 2},
        kv_cache_policy={
            "enable_prefix_caching": True,
            "prefix_cache_hits": 10,
            "prefix_cache_queries": 5000,
        },
        requests_per_second={"rps": 0.0, "requests": 0},
        effective_batch_size={"max": 0, "p95": 0},
        queue_depth={"max": 0},
    )
    got = outcomes(f)
    for name in (
        "runtime-tail-latency",
        "runtime-error-rate",
        "runtime-prefix-cache-ineffective",
        "runtime-idle-server",
    ):
        assert got[name] == "diagnosed", name


@pytest.mark.parametrize("rule", RUNTIME_RULES, ids=lambda r: r.name)
def test_every_rule_is_unknown_without_data(rule: Any) -> None:
    result = diagnose(facts(), [rule])[0]
    assert result.outcome in ("unknown", "not_applicable"), result.message


def result(f: MetricFacts, name: str) -> tuple[str, str]:
    found = [r for r in diagnose(f) if r.rule.name == name]
    assert len(found) == 1
    return found[0].outcome, found[0].message


PREFILL_ADVICE = (
    "raise --max-num-batched-tokens so that chunked prefill takes more of a prompt per step"
)


def test_slow_prefill_from_the_prefill_histogram() -> None:
    f = facts(
        ttft={"p95": 3.0, "mean": 2.0, "count": 50, "prefill_mean": 1.8},
        queue_time={"p95": 0.2, "mean": 0.1},
        tokens_per_request={"prompt_mean": 1200.0},
        kv_cache_policy={"enable_prefix_caching": False},
    )
    assert result(f, "runtime-slow-prefill") == (
        "diagnosed",
        "Slow prefill: TTFT p95 3s; prefill is 90% of the mean TTFT 2s (prefill mean 1.8s) "
        "for prompts of 1200 tokens on average, 1.5s per 1k prompt tokens (over a 30s "
        f"window); {PREFILL_ADVICE}, turn on prefix caching if prompts share a prefix, or "
        "serve long prompts with disaggregated prefill",
    )


def test_slow_prefill_from_ttft_minus_queue_time() -> None:
    f = facts(
        windowed=False,
        ttft={"p95": 2.5, "mean": 2.0, "count": 50},
        queue_time={"p95": 0.5, "mean": 0.4},
        tokens_per_request={"prompt_mean": 800.0},
        kv_cache_policy={"enable_prefix_caching": True},
    )
    assert result(f, "runtime-slow-prefill") == (
        "diagnosed",
        "Slow prefill: TTFT p95 2.5s; prefill is 80% of the mean TTFT 2s (TTFT minus queue "
        "time 1.6s on average) for prompts of 800 tokens on average, 2s per 1k prompt tokens "
        f"(since the server started); {PREFILL_ADVICE}, or serve long prompts with "
        "disaggregated prefill",
    )


@pytest.mark.parametrize(
    ("ttft", "prompt"),
    [
        ({"p95": 0.8, "mean": 0.5, "count": 50, "prefill_mean": 0.5}, 100.0),  # TTFT fine
        ({"p95": 3.0, "mean": 2.0, "count": 50, "prefill_mean": 0.4}, 100.0),  # mostly queue
        ({"p95": 3.0, "mean": 2.0, "count": 50, "prefill_mean": 1.8}, 8000.0),  # long prompts
    ],
)
def test_slow_prefill_passes(ttft: dict[str, float], prompt: float) -> None:
    f = facts(ttft=ttft, queue_time={"mean": 0.1}, tokens_per_request={"prompt_mean": prompt})
    assert result(f, "runtime-slow-prefill") == (
        "passed",
        "Time to first token is high and mostly prefill, slow for the prompt lengths served.",
    )


@pytest.mark.parametrize(
    ("values", "outcome", "message"),
    [
        ({}, "unknown", "no time-to-first-token observations"),
        (
            {"ttft": {"p95": 3.0, "mean": 2.0, "count": 5}},
            "not_applicable",
            "fewer than 20 requests observed",
        ),
        (
            {"ttft": {"p95": 3.0, "mean": 2.0, "count": 50, "prefill_mean": 1.8}},
            "unknown",
            "TTFT p95 3s is high but the prompt lengths are unknown "
            "(no vllm:request_prompt_tokens)",
        ),
        (
            {
                "ttft": {"p95": 3.0, "mean": 2.0, "count": 50},
                "tokens_per_request": {"prompt_mean": 500.0},
            },
            "unknown",
            "TTFT p95 3s is high but neither prefill time nor queue time is exported, so "
            "queueing cannot be told from prefill",
        ),
    ],
)
def test_slow_prefill_unknown(values: dict[str, Any], outcome: str, message: str) -> None:
    assert result(facts(**values), "runtime-slow-prefill") == (outcome, message)


ITL = {"p95": 0.25, "mean": 0.12, "count": 5000}
SLOW = "Slow decode: inter-token latency p95 250 ms, above 100 ms (over a 30s window); "


def test_slow_decode_under_kv_pressure() -> None:
    f = facts(
        inter_token_latency=ITL,
        kv_cache_usage={"max": 0.97, "preemptions": 3},
        effective_batch_size={"p95": 60, "configured_max": 64},
    )
    assert result(f, "runtime-slow-decode") == (
        "diagnosed",
        SLOW + "KV pressure (usage up to 97%, 3 preemptions): preempted sequences are "
        "recomputed; see runtime-kv-cache-pressure",
    )


def test_slow_decode_with_a_large_batch() -> None:
    f = facts(
        inter_token_latency=ITL,
        kv_cache_usage={"max": 0.5, "preemptions": 0},
        effective_batch_size={"p95": 60, "configured_max": 64},
    )
    assert result(f, "runtime-slow-decode") == (
        "diagnosed",
        SLOW + "the batch is large (running p95 60 of max-num-seqs 64): every step carries "
        "many sequences; lower --max-num-seqs or add replicas to trade throughput for token "
        "speed",
    )


def test_slow_decode_on_a_slow_gpu() -> None:
    f = facts(
        inter_token_latency=ITL,
        kv_cache_usage={"max": 0.3, "preemptions": 0},
        effective_batch_size={"p95": 4, "configured_max": 64},
    )
    assert result(f, "runtime-slow-decode") == (
        "diagnosed",
        SLOW + "the batch is small (running p95 4 of max-num-seqs 64) and the KV cache has "
        "headroom (up to 30%): the accelerator is slow for this model (memory bandwidth, "
        "tensor-parallel traffic, --enforce-eager) or long prefills share the decode steps "
        "(lower --max-num-batched-tokens)",
    )


def test_slow_decode_cause_undetermined() -> None:
    f = facts(inter_token_latency=ITL, effective_batch_size={"p95": 4})
    assert result(f, "runtime-slow-decode") == (
        "diagnosed",
        SLOW + "a large batch cannot be told from a slow GPU: max-num-seqs is unknown, "
        "KV-cache usage is not exported",
    )


@pytest.mark.parametrize(
    ("itl", "outcome", "message"),
    [
        (
            {"p95": 0.08, "mean": 0.05, "count": 5000},
            "passed",
            "Inter-token latency p95 above the limit; says whether the batch, KV or the GPU "
            "is why.",
        ),
        (
            {"p95": 0.25, "mean": 0.12, "count": 40},
            "not_applicable",
            "fewer than 100 output tokens observed",
        ),
        (None, "unknown", "no inter-token latency observations"),
    ],
)
def test_slow_decode_pass_and_unknown(
    itl: dict[str, float] | None, outcome: str, message: str
) -> None:
    f = facts(inter_token_latency=itl) if itl is not None else facts()
    assert result(f, "runtime-slow-decode") == (outcome, message)


def test_new_rules_point_at_their_items_and_playbooks() -> None:
    named = {r.name: (r.item, r.playbook) for r in RUNTIME_RULES}
    assert named["runtime-slow-prefill"] == ("OBS-532", "kv-cache-pressure")
    assert named["runtime-slow-decode"] == ("OBS-533", "kv-cache-pressure")


def test_slow_phases_from_an_exposition() -> None:
    body = (Path(__file__).parent / "fixtures" / "slow_phases.txt").read_text()
    found = analyse(
        "srv", [snapshot_from_text(body, "slow_phases.txt", 1.0)], (), {"max_num_seqs": 64}
    )
    assert found is not None
    ttft = found.signals["ttft"]
    assert (ttft.value["prefill_mean"], ttft.value["prefill_count"]) == (1.8, 50.0)
    assert [p.metric for p in ttft.provenance] == [
        "vllm:time_to_first_token_seconds",
        "vllm:request_prefill_time_seconds",
    ]
    got = {d.rule.name: (d.outcome, d.message) for d in found.diagnoses}
    assert got["runtime-slow-prefill"] == (
        "diagnosed",
        "Slow prefill: TTFT p95 4.38s; prefill is 90% of the mean TTFT 2s (prefill mean 1.8s) "
        "for prompts of 1200 tokens on average, 1.5s per 1k prompt tokens (since the server "
        f"started); {PREFILL_ADVICE}, or serve long prompts with disaggregated prefill",
    )
    assert got["runtime-slow-decode"] == (
        "diagnosed",
        "Slow decode: inter-token latency p95 288 ms, above 100 ms (since the server started); "
        "the batch is large (running p95 60 of max-num-seqs 64): every step carries many "
        "sequences; lower --max-num-seqs or add replicas to trade throughput for token speed",
    )


def test_slow_prefill_when_prefix_caching_is_unknown() -> None:
    f = facts(
        ttft={"p95": 3.0, "mean": 2.0, "count": 50, "prefill_mean": 1.8},
        tokens_per_request={"prompt_mean": 1200.0},
    )
    outcome, message = result(f, "runtime-slow-prefill")
    assert outcome == "diagnosed"
    assert message.endswith(
        f"window); {PREFILL_ADVICE}, use prefix caching if prompts share a prefix, or serve "
        "long prompts with disaggregated prefill"
    )
