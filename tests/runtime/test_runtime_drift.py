from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from piqc_advisor.collectors.scan import scan
from piqc_advisor.facts.workload import Workload
from piqc_advisor.knowledge.loader import load_catalog
from piqc_advisor.rules import OTHER_RULE_ITEMS
from piqc_advisor.runtime.drift import (
    DRIFT_ITEM,
    DRIFT_PLAYBOOK,
    DRIFT_RULE,
    compare,
    config_drift,
    server_settings,
)
from piqc_advisor.runtime.snapshot import Snapshot, models_from_json, snapshot_from_text

HERE = Path(__file__).parent / "fixtures" / "drift"
URL = "http://10.0.0.7:8000"
CATALOG = load_catalog()
SUBJECT = "Deployment/default/tiny-llama/vllm"
TAIL = f" [server {URL}; playbook training-serving-skew]"


def workload(name: str) -> Workload:
    found = scan([str(HERE / name)]).workloads
    assert len(found) == 1
    return found[0]


def snapshot(
    metrics: str | None = None, info: dict[str, Any] | None = None, models: bool = True
) -> Snapshot:
    body = (HERE / "metrics.txt").read_text() if metrics is None else metrics
    listed = models_from_json(json.loads((HERE / "v1_models.json").read_text())) if models else ()
    return snapshot_from_text(body, URL + "/metrics", 1.0, models=listed, server_info=info)


def server_info() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((HERE / "server_info.json").read_text())
    return loaded


def test_registered_for_the_running_configuration_item() -> None:
    assert OTHER_RULE_ITEMS[DRIFT_RULE] == DRIFT_ITEM == "SRV-017"
    assert DRIFT_PLAYBOOK in CATALOG.playbooks


def test_what_the_recorded_server_reports() -> None:
    reported, missing = server_settings(URL + "/", [snapshot()])
    assert {k: (v.value, v.where) for k, v in reported.items()} == {
        "served_model_name": (["tiny-llama"], f"{URL}/v1/models"),
        "max_model_len": (512, f"{URL}/v1/models max_model_len"),
        "gpu_memory_utilization": (
            "0.92",
            f"{URL}/metrics vllm:cache_config_info label gpu_memory_utilization",
        ),
        "kv_cache_dtype": ("auto", f"{URL}/metrics vllm:cache_config_info label cache_dtype"),
        "enable_prefix_caching": (
            "True",
            f"{URL}/metrics vllm:cache_config_info label enable_prefix_caching",
        ),
    }
    not_served = (
        f"{URL}/server_info was not served (vLLM serves it only with VLLM_SERVER_DEV_MODE=1)"
    )
    assert missing == {
        "max_num_seqs": not_served,
        "max_num_batched_tokens": not_served,
        "tensor_parallel_size": not_served,
        "pipeline_parallel_size": not_served,
    }


def test_each_mismatch_is_a_finding_with_both_sides() -> None:
    findings, outcomes = config_drift(URL, [snapshot()], workload("declared.yaml"), CATALOG)
    manifest = "tests/runtime/fixtures/drift/declared.yaml"
    assert [(f.message, f.evidence.short(), f.key) for f in findings] == [
        (
            f"max_model_len: the server runs 512 ({URL}/v1/models max_model_len), the manifests "
            f"declare 1024 (--max-model-len at {manifest}:21)" + TAIL,
            f"{manifest}:21",
            f"{URL} max_model_len",
        ),
        (
            f"kv_cache_dtype: the server runs 'auto' ({URL}/metrics vllm:cache_config_info label "
            f"cache_dtype), the manifests declare 'fp8' (--kv-cache-dtype at {manifest}:23)" + TAIL,
            f"{manifest}:23",
            f"{URL} kv_cache_dtype",
        ),
    ]
    item = CATALOG.items["SRV-017"]
    assert {(f.item, f.rule, f.subject, f.severity, f.title) for f in findings} == {
        ("SRV-017", "runtime-config-drift", SUBJECT, item.severity, item.title)
    }
    assert [(o.rule, o.item, o.subject, o.outcome, o.reason) for o in outcomes] == [
        (
            "runtime-config-drift",
            "SRV-017",
            SUBJECT,
            "failed",
            "differs from the manifests: max_model_len, kv_cache_dtype; "
            "could not compare: max_num_seqs",
        )
    ]


def test_server_info_json_form_is_compared() -> None:
    findings, outcomes = config_drift(
        URL, [snapshot(info=server_info())], workload("declared.yaml"), CATALOG
    )
    assert findings[-1].message == (
        f"max_num_seqs: the server runs 8 ({URL}/server_info max_num_seqs), the manifests "
        "declare 4 (--max-num-seqs at tests/runtime/fixtures/drift/declared.yaml:24)" + TAIL
    )
    assert [f.key for f in findings] == [
        f"{URL} max_model_len",
        f"{URL} kv_cache_dtype",
        f"{URL} max_num_seqs",
    ]
    assert outcomes[0].reason == (
        "differs from the manifests: max_model_len, kv_cache_dtype, max_num_seqs"
    )


def test_flat_server_info_sections_are_read_too() -> None:
    flat = {"scheduler_config": {"max_num_seqs": 4}, "tensor_parallel_size": 1}
    reported, missing = server_settings(URL, [snapshot(info=flat)])
    assert reported["max_num_seqs"].value == 4
    assert reported["tensor_parallel_size"].where == f"{URL}/server_info tensor_parallel_size"
    assert (
        missing["max_num_batched_tokens"]
        == f"{URL}/server_info does not give max_num_batched_tokens"
    )


def test_matching_server_passes() -> None:
    findings, outcomes = config_drift(URL, [snapshot()], workload("matching.yaml"), CATALOG)
    assert findings == []
    assert [(o.outcome, o.reason) for o in outcomes] == [
        (
            "passed",
            "equal on both sides: served_model_name, max_model_len, gpu_memory_utilization, "
            "enable_prefix_caching; not declared in the manifests: kv_cache_dtype, "
            "max_num_seqs, max_num_batched_tokens, tensor_parallel_size, pipeline_parallel_size",
        )
    ]


def test_an_engine_default_is_not_drift() -> None:
    comparisons = compare(workload("bare.yaml"), URL, [snapshot(info=server_info())])
    assert [(c.key, c.status) for c in comparisons] == [
        ("served_model_name", "match"),
        ("max_model_len", "undeclared"),
        ("gpu_memory_utilization", "undeclared"),
        ("kv_cache_dtype", "undeclared"),
        ("enable_prefix_caching", "undeclared"),
        ("max_num_seqs", "undeclared"),
        ("max_num_batched_tokens", "undeclared"),
        ("tensor_parallel_size", "undeclared"),
        ("pipeline_parallel_size", "undeclared"),
    ]
    assert comparisons[0].reason == (
        f"served_model_name: the server runs ['tiny-llama'] ({URL}/v1/models), the manifests "
        "declare ['tiny-llama'] (--model at tests/runtime/fixtures/drift/bare.yaml:17)"
    )
    assert comparisons[2].reason == (
        "gpu_memory_utilization: not declared in the manifests (the server runs '0.92'); "
        "a default is not drift"
    )
    findings, outcomes = config_drift(URL, [snapshot()], workload("bare.yaml"), CATALOG)
    assert findings == []
    assert outcomes[0].outcome == "passed"


def test_unknown_when_the_server_does_not_report_a_declared_setting() -> None:
    findings, outcomes = config_drift(
        URL, [snapshot(metrics="")], workload("matching.yaml"), CATALOG
    )
    manifest = "tests/runtime/fixtures/drift/matching.yaml"
    assert findings == []
    assert [(o.outcome, o.reason) for o in outcomes] == [
        (
            "unknown",
            "gpu_memory_utilization: the manifests declare 0.92 (--gpu-memory-utilization at "
            f"{manifest}:21), the server does not report it: {URL}/metrics has no "
            "vllm:cache_config_info; enable_prefix_caching: the manifests declare True "
            f"(--enable-prefix-caching at {manifest}:22), the server does not report it: "
            f"{URL}/metrics has no vllm:cache_config_info; equal: served_model_name, "
            "max_model_len",
        )
    ]


def test_max_model_len_auto_lets_vllm_choose(tmp_path: Path) -> None:
    text = (HERE / "probe.yaml").read_text().replace("--max-model-len=1024", "--max-model-len=auto")
    (tmp_path / "auto.yaml").write_text(text)
    declared = scan([str(tmp_path / "auto.yaml")]).workloads[0]
    comparisons = {c.key: c for c in compare(declared, URL, [snapshot()])}
    assert comparisons["max_model_len"].status == "undeclared"
    assert comparisons["max_model_len"].reason == (
        f"max_model_len: the manifests declare -1 (--max-model-len at {tmp_path}/auto.yaml:20), "
        "which lets vLLM choose (the server runs 512)"
    )


def test_a_value_that_cannot_be_compared_is_unknown() -> None:
    odd = snapshot(info={"scheduler_config": {"max_num_seqs": "many"}})
    comparisons = {c.key: c for c in compare(workload("declared.yaml"), URL, [odd])}
    assert comparisons["max_num_seqs"].status == "unknown"
    assert comparisons["max_num_seqs"].reason == (
        f"max_num_seqs: {URL}/server_info max_num_seqs gives 'many', not a whole number, so "
        "the two cannot be compared"
    )


@pytest.mark.parametrize("models", [True, False])
def test_a_server_linked_to_no_workload_is_unknown(models: bool) -> None:
    findings, outcomes = config_drift(URL, [snapshot(models=models)], None, CATALOG)
    why = (
        "no single serving workload in the inputs serves tiny-llama"
        if models
        else f"{URL}/v1/models lists no model"
    )
    assert findings == []
    assert [(o.rule, o.subject, o.outcome, o.reason) for o in outcomes] == [
        (
            "runtime-config-drift",
            URL,
            "unknown",
            f"not linked to a workload: {why}",
        )
    ]
