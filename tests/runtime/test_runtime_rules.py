from __future__ import annotations

from typing import Any

import pytest

from piqc_advisor.knowledge.loader import load_catalog
from piqc_advisor.rules.runtime import RUNTIME_RULES, MetricFacts, diagnose
from piqc_advisor.runtime.signals import SIGNALS, SignalValue


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
