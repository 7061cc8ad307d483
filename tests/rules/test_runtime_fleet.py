from __future__ import annotations

import pytest

from piqc_advisor.knowledge.loader import load_catalog
from piqc_advisor.rules import OTHER_RULE_ITEMS
from piqc_advisor.rules.runtime_fleet import (
    FLEET_RULES,
    FleetFacts,
    ImbalanceParams,
    diagnose_fleet,
    replica_imbalance,
)

Measures = dict[str, float | None]


def fleet(*replicas: Measures, window: float = 300.0) -> FleetFacts:
    return FleetFacts(
        'http://prom:9090 {deployment="llama"}',
        window,
        {f"10.0.0.{i}:8000": m for i, m in enumerate(replicas, start=1)},
        "instance",
    )


def load(rps: float | None, running: float | None = 0.0, waiting: float | None = 0.0,
         kv: float | None = 0.0, samples: float | None = 300.0) -> Measures:  # fmt: skip
    return {
        "requests_per_s": rps,
        "running_mean": running,
        "waiting_mean": waiting,
        "kv_usage_mean": kv,
        "window_samples": samples,
    }


def outcome(facts: FleetFacts) -> tuple[str, str]:
    (result,) = diagnose_fleet(facts)
    return result.outcome, result.message


def test_rule_is_registered_with_its_item_and_playbook() -> None:
    catalog = load_catalog()
    assert [r.name for r in FLEET_RULES] == ["runtime-replica-imbalance"]
    assert OTHER_RULE_ITEMS["runtime-replica-imbalance"] == "NET-501"
    assert replica_imbalance.item in catalog.items
    assert replica_imbalance.playbook in catalog.playbooks
    assert ImbalanceParams.__doc__


def test_balanced_fleet_passes() -> None:
    facts = fleet(load(1.0, 4.0, 0.0, 0.5), load(1.2, 4.5, 0.0, 0.55), load(0.9, 3.8, 0.0, 0.45))
    assert outcome(facts) == ("passed", replica_imbalance.summary)


def test_request_rate_imbalance_is_diagnosed() -> None:
    facts = fleet(load(3.0, 2.0), load(1.0, 2.0))
    assert outcome(facts) == (
        "diagnosed",
        "Replica imbalance over 300s: finished requests: instance 10.0.0.1:8000 has "
        "3 requests/s, 1.5x the mean of 2 replicas; balance on engine load (waiting requests, "
        "KV usage)",
    )


def test_every_imbalanced_measure_is_named() -> None:
    facts = fleet(load(1.0, 6.0, 3.0, 0.9), load(1.0, 2.0, 0.0, 0.3), load(1.0, 1.0, 0.0, 0.3))
    status, message = outcome(facts)
    assert status == "diagnosed"
    assert message == (
        "Replica imbalance over 300s: running requests (mean): instance 10.0.0.1:8000 has 6, "
        "2x the mean of 3 replicas; waiting requests (mean): instance 10.0.0.1:8000 has 3, "
        "3x the mean of 3 replicas; KV-cache usage (mean): instance 10.0.0.1:8000 has 90%, "
        "1.8x the mean of 3 replicas; balance on engine load (waiting requests, KV usage)"
    )


def test_just_under_the_threshold_passes() -> None:
    # 2.9 vs 1.1: max / mean = 1.45 < 1.5.
    assert outcome(fleet(load(2.9), load(1.1)))[0] == "passed"


def test_one_replica_is_unknown() -> None:
    assert outcome(fleet(load(5.0, 3.0))) == (
        "unknown",
        '1 replica under http://prom:9090 {deployment="llama"}: balance needs at least 2 to '
        "compare",
    )
    assert outcome(fleet())[1].startswith("0 replicas under")


def test_too_little_traffic_is_unknown_not_a_pass() -> None:
    # 0.05 requests/s over 300s is 15 requests for 2 replicas (needs 40); nothing else is busy.
    facts = fleet(load(0.04, 0.2, 0.0, 0.01), load(0.01, 0.0, 0.0, 0.0))
    assert outcome(facts) == (
        "unknown",
        "too little load over 300s to judge balance: 15 requests (needs 40), running mean 0.1 "
        "per replica, waiting mean at most 0, KV-cache usage mean 0.5%",
    )


def test_no_known_measure_is_unknown() -> None:
    facts = fleet(load(None, None, None, None), load(1.0, None, None, None))
    assert outcome(facts) == (
        "unknown",
        "no load measure (requests, running, waiting, KV usage) for 2 replicas",
    )


def test_replicas_that_started_in_the_window_are_left_out() -> None:
    # The third replica was scraped for 100 of 300 samples: its low rate is not imbalance.
    facts = fleet(load(2.0), load(2.2), load(0.3, samples=100.0))
    assert outcome(facts)[0] == "passed"
    skewed = fleet(load(3.0), load(1.0), load(0.1, samples=100.0))
    status, message = outcome(skewed)
    assert status == "diagnosed"
    assert "; 10.0.0.3:8000 left out (not in the whole window);" in message
    alone = fleet(load(3.0), load(0.1, samples=50.0))
    assert outcome(alone) == (
        "unknown",
        "1 of 2 replicas ran through the whole 300s window (10.0.0.2:8000 started or stopped "
        "in it): compare over a shorter window",
    )


@pytest.mark.parametrize(("max_ratio", "diagnosed"), [(1.2, True), (1.5, False)])
def test_threshold_is_a_parameter(max_ratio: float, diagnosed: bool) -> None:
    facts = fleet(load(1.5), load(1.0))  # 1.5 / 1.25 = 1.2
    found = list(replica_imbalance.run(facts, ImbalanceParams(max_ratio=max_ratio)))
    assert bool(found) is diagnosed


def test_zero_thresholds_do_not_divide_by_zero() -> None:
    params = ImbalanceParams(
        min_requests_per_replica=0, min_running=0, min_waiting=0, min_kv_usage=0
    )
    assert list(replica_imbalance.run(fleet(load(0.0), load(0.0)), params)) == []
