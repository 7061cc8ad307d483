"""Adapters for LLM-serving custom resources, run on fixtures shaped like each project's examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from piqc_advisor.collectors.kubernetes.crds import CRD_ADAPTERS, RELATED_CRD_KINDS
from piqc_advisor.collectors.kubernetes.objects import K8sObject, objects_from_documents
from piqc_advisor.collectors.kubernetes.templates import AdapterContext, PodTemplate
from piqc_advisor.collectors.tree import NodeContext
from piqc_advisor.collectors.yaml_source import parse_documents

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "manifests" / "crds"


def load(relative: str) -> tuple[list[K8sObject], AdapterContext, list[NodeContext]]:
    path = FIXTURES / relative
    documents, problems = parse_documents(path.read_text(), str(path))
    assert problems == []
    objects, object_problems, contexts = objects_from_documents(documents)
    assert object_problems == []
    return objects, AdapterContext(objects), contexts


def templates(relative: str, name: str | None = None) -> list[PodTemplate]:
    objects, ctx, contexts = load(relative)
    found: list[PodTemplate] = []
    for obj in objects:
        if name is not None and obj.name != name:
            continue
        adapter = CRD_ADAPTERS.get(obj.kind)
        if adapter is not None:
            found += adapter(obj, ctx)
    # Reading the fixtures (and the containers the adapters assembled) reports no type issues.
    for template in found:
        for source in template.containers:
            source.main.get("resources")
            for env in source.env_nodes:
                env.text("name")
                env.text("value")
    assert [issue.message for c in contexts for issue in c.issues] == []
    return found


def hints(template: PodTemplate) -> dict[str, tuple[Any, int]]:
    return {key: (value.value, value.origin.line) for key, value in template.hints.items()}


def replicas(template: PodTemplate) -> tuple[int, int] | None:
    if template.replicas is None:
        return None
    return template.replicas.value, template.replicas.origin.line


def containers(template: PodTemplate) -> list[tuple[str | None, list[Any], list[Any], list[str]]]:
    result = []
    for source in template.containers:
        name = source.main.value.get("name") if isinstance(source.main.value, dict) else None
        result.append(
            (
                name,
                [n.value for n in source.command_nodes or ()],
                [n.value for n in source.arg_nodes or ()],
                [str(n.value.get("name")) for n in source.env_nodes],
            )
        )
    return result


# ----------------------------------------------------------------- vLLM production-stack


def test_vllm_runtime_reads_model_engine_settings_and_resources() -> None:
    (runtime,) = templates("production-stack/vllmruntime.yaml")
    assert runtime.role is None
    assert runtime.platform == "production-stack"
    assert runtime.engine_hint == "vllm"
    assert replicas(runtime) == (3, 27)
    assert hints(runtime) == {
        "model": ("meta-llama/Llama-3.1-8B-Instruct", 8),
        "enable_lora": (False, 9),
        "max_model_len": (8192, 10),
        "dtype": ("bfloat16", 11),
        "max_num_seqs": (64, 12),
        "enable_chunked_prefill": (True, 17),
        "enable_prefix_caching": (True, 18),
        "tensor_parallel_size": (2, 19),
        "gpu_memory_utilization": (0.85, 20),
        "port": (8000, 22),
        "accelerator_count": (2, 32),
        "accelerator_resource": ("nvidia.com/gpu", 33),
    }
    assert runtime.image_override is not None
    assert runtime.image_override[0] == "docker.io/lmcache/vllm-openai:v0.3.1"
    assert runtime.image_override[1].line == 36
    assert containers(runtime) == [(None, [], ["--disable-log-requests"], ["HF_HOME"])]
    assert runtime.containers[0].env_nodes[0].origin.line == 24


def test_vllm_runtime_topology_gives_prefill_and_decode() -> None:
    prefill, decode = templates("production-stack/vllmruntime-pd.yaml")
    assert [prefill.role, decode.role] == ["prefill", "decode"]
    assert {prefill.platform, decode.platform} == {"production-stack"}
    assert replicas(prefill) == (1, 16)
    assert replicas(decode) == (2, 30)
    assert hints(prefill) == {
        "model": ("meta-llama/Llama-3.2-1B-Instruct", 10),
        "max_model_len": (4096, 11),
        "tensor_parallel_size": (1, 13),
        "port": (8000, 14),
        "accelerator_count": (1, 18),
    }
    assert hints(decode)["accelerator_count"] == (1, 32)
    assert decode.engine_hint == "vllm"
    assert containers(decode) == [(None, [], [], [])]


# ----------------------------------------------------------------- AIBrix


def test_storm_service_roles_multiply_by_role_sets() -> None:
    prefill, decode = templates("aibrix/stormservice-1p1d.yaml")
    assert [prefill.role, decode.role] == ["prefill", "decode"]
    assert {prefill.platform, decode.platform} == {"aibrix"}
    assert replicas(prefill) == (2, 18)
    assert replicas(decode) == (6, 35)
    assert decode.replicas is not None and "spec.replicas" in decode.replicas.via
    assert hints(prefill) == {}
    assert hints(decode) == {"group_size": (2, 36)}
    assert (decode.pods_per_replica, decode.replica_gpu_share) == (2, 2)
    assert prefill.engine_hint == decode.engine_hint == "vllm"
    assert containers(prefill) == [
        ("prefill", ["vllm", "serve"], ["Qwen/Qwen3-8B", "--port", "8000"], [])
    ]
    assert decode.metadata is not None


def test_ray_cluster_fleet_reuses_the_ray_reader() -> None:
    head, worker = templates("aibrix/rayclusterfleet.yaml")
    assert [head.role, worker.role] == ["head", "worker:small-group"]
    assert {head.platform, worker.platform} == {"aibrix"}
    assert replicas(head) == (2, 6)
    assert replicas(worker) == (2, 32)
    assert hints(head) == hints(worker) == {}
    assert head.engine_hint is None
    assert [c[0] for c in containers(head)] == ["ray-head"]
    assert [c[0] for c in containers(worker)] == ["ray-worker"]


def test_pod_autoscaler_is_related_not_a_workload() -> None:
    objects, _, _ = load("aibrix/rayclusterfleet.yaml")
    assert "PodAutoscaler" not in CRD_ADAPTERS
    assert RELATED_CRD_KINDS["PodAutoscaler"] == "autoscaling.aibrix.ai"
    assert [o.kind for o in objects] == ["RayClusterFleet", "PodAutoscaler"]


# ----------------------------------------------------------------- KubeAI


def test_kubeai_model_engine_args_env_and_resource_profile() -> None:
    model, _ = templates("kubeai/model.yaml")
    assert model.role is None
    assert model.platform == "kubeai"
    assert model.engine_hint == "vllm"
    assert replicas(model) == (1, 15)
    assert hints(model) == {
        "model": ("hf://neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", 7),
        "accelerator_count": (2, 18),
        "accelerator_resource": ("nvidia.com/gpu", 18),
        "accelerator_type": ("l4", 18),
        "min_replicas": (1, 15),
        "max_replicas": (3, 16),
        "features": (("TextGeneration",), 6),
    }
    assert containers(model) == [
        (
            None,
            [],
            ["--max-model-len=16384", "--tensor-parallel-size=2", "--gpu-memory-utilization=0.9"],
            ["VLLM_ATTENTION_BACKEND"],
        )
    ]
    (env,) = model.containers[0].env_nodes
    assert env.origin.line == 14
    assert env.text("value") == "FLASHINFER"
    assert model.containers[0].arg_nodes is not None
    assert model.containers[0].arg_nodes[1].origin.line == 11


def test_kubeai_cpu_profile_declares_no_accelerator() -> None:
    _, cpu = templates("kubeai/model.yaml")
    assert cpu.engine_hint == "ollama"
    assert replicas(cpu) == (1, 28)
    assert hints(cpu) == {
        "model": ("ollama://gemma2:2b", 26),
        "features": (("TextGeneration",), 25),
    }
    assert containers(cpu) == [(None, [], [], [])]


# ----------------------------------------------------------------- NVIDIA NIM Operator


def test_nim_service_image_env_resources_and_scale() -> None:
    (nim,) = templates("nim-operator/nimservice.yaml")
    assert nim.role is None
    assert nim.platform == "nim-operator"
    assert nim.engine_hint == "nim"
    assert replicas(nim) == (2, 21)
    assert hints(nim) == {
        "port": (8000, 33),
        "min_replicas": (1, 28),
        "max_replicas": (4, 29),
        "nim_cache": ("llama3-8b-instruct", 16),
        "nim_profile": ("", 17),
    }
    assert nim.image_override is not None
    assert nim.image_override[0] == "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8"
    assert nim.image_override[1].line == 8
    assert containers(nim) == [(None, [], [], ["NIM_MAX_MODEL_LEN"])]
    main = nim.containers[0].main
    # The image mapping and wrapped probes stay out of the container view; resources stay in.
    assert main.get("image") is None and main.get("resources") is not None


# ----------------------------------------------------------------- NVIDIA Dynamo


def test_dynamo_v1alpha1_services_become_roles() -> None:
    frontend, decode, prefill = templates("dynamo/disagg-v1alpha1.yaml")
    assert [frontend.role, decode.role, prefill.role] == ["Frontend", "decode", "prefill"]
    assert {t.platform for t in (frontend, decode, prefill)} == {"dynamo"}
    assert [replicas(frontend), replicas(decode), replicas(prefill)] == [(1, 10), (2, 18), (1, 38)]
    assert [frontend.engine_hint, decode.engine_hint, prefill.engine_hint] == [
        None,
        "vllm",
        "sglang",
    ]
    assert hints(frontend) == {"component_type": ("frontend", 9)}
    assert hints(decode) == {"accelerator_count": (2, 22), "component_type": ("worker", 16)}
    assert hints(prefill) == {
        "accelerator_count": (4, 43),
        "node_count": (2, 40),
        "component_type": ("worker", 36),
    }
    assert (prefill.pods_per_replica, prefill.replica_gpu_share) == (2, 2)
    assert containers(decode) == [
        (
            None,
            ["python3", "-m", "dynamo.vllm"],
            ["--model", "Qwen/Qwen3-0.6B", "--tensor-parallel-size", "2"],
            ["HF_HOME"],
        )
    ]
    assert containers(frontend) == [(None, ["python3", "-m", "dynamo.frontend"], [], [])]
    assert prefill.spec.get("tolerations") is not None


def test_dynamo_v1beta1_components() -> None:
    frontend, decode = templates("dynamo/disagg-v1beta1.yaml")
    assert [frontend.role, decode.role] == ["Frontend", "decode"]
    assert [replicas(frontend), replicas(decode)] == [(1, 9), (2, 17)]
    assert [frontend.engine_hint, decode.engine_hint] == [None, "trtllm"]
    assert hints(decode) == {}
    assert containers(decode) == [
        (
            "main",
            ["python3", "-m", "dynamo.trtllm"],
            ["--model-path", "Qwen/Qwen3-0.6B", "--disaggregation-mode", "decode"],
            [],
        )
    ]


# ----------------------------------------------------------------- llm-d


def test_model_service_prefill_and_decode() -> None:
    prefill, decode = templates("llm-d/modelservice.yaml")
    assert [prefill.role, decode.role] == ["prefill", "decode"]
    assert {prefill.platform, decode.platform} == {"llm-d"}
    assert prefill.engine_hint == decode.engine_hint == "vllm"
    assert replicas(prefill) == (1, 29)
    assert replicas(decode) == (2, 17)
    shared = {
        "model": ("pvc://llama-pvc/path/to/llama4", 15),
        "served_model_name": ("meta-llama/Llama-4-Scout-17B-16E", 10),
    }
    assert hints(prefill) == {
        **shared,
        "tensor_parallel_size": (4, 31),
        "accelerator_count": (4, 31),
    }
    assert hints(decode) == {
        **shared,
        "tensor_parallel_size": (8, 19),
        "accelerator_count": (8, 19),
        "accelerator_type": ("NVIDIA-H100-80GB-HBM3", 23),
    }
    assert containers(decode) == [("vllm", [], ["{{ .ModelPath }}"], [])]


# ----------------------------------------------------------------- KAITO


def test_kaito_workspace_preset_instance_and_config_map() -> None:
    (phi,) = templates("kaito/workspace.yaml", "workspace-phi-3-5-mini")
    assert phi.role is None
    assert phi.platform == "kaito"
    assert phi.engine_hint == "vllm"
    assert phi.replicas is None
    assert (phi.pods_per_replica, phi.replica_gpu_share) == (2, 2)
    assert hints(phi) == {
        "model": ("phi-3.5-mini-instruct", 13),
        "instance_type": ("Standard_NC24ads_A100_v4", 7),
        "accelerator_type": ("Standard_NC24ads_A100_v4", 7),
        "node_count": (2, 6),
        "enable_lora": (True, 15),
        "gpu_memory_utilization": (0.95, 27),
        "tensor_parallel_size": (2, 28),
        "max_model_len": (16384, 29),
    }
    assert containers(phi) == []


def test_kaito_runtime_annotation_selects_transformers() -> None:
    (falcon,) = templates("kaito/workspace.yaml", "workspace-falcon-7b")
    assert falcon.engine_hint == "transformers"
    assert falcon.replicas is None
    assert hints(falcon) == {
        "model": ("falcon-7b", 44),
        "instance_type": ("Standard_NC12s_v3", 38),
        "accelerator_type": ("Standard_NC12s_v3", 38),
    }


# ----------------------------------------------------------------- llmaz


def test_llmaz_playground_resolves_open_model() -> None:
    (playground,) = templates("llmaz/playground.yaml")
    assert playground.role is None
    assert playground.platform == "llmaz"
    assert playground.engine_hint == "sglang"
    assert replicas(playground) == (2, 21)
    assert hints(playground) == {
        "model": ("Qwen/Qwen2-0.5B-Instruct", 9),
        "accelerator_count": (1, 14),
        "accelerator_resource": ("nvidia.com/gpu", 14),
        "min_replicas": (1, 33),
        "max_replicas": (3, 34),
    }
    assert containers(playground) == [
        (None, [], ["--context-length", "4096"], ["SGLANG_LOG_LEVEL"])
    ]


def test_llmaz_service_is_told_apart_from_core_service() -> None:
    leader, worker = templates("llmaz/service.yaml")
    assert [leader.role, worker.role] == ["leader", "worker"]
    assert {leader.platform, worker.platform} == {"llmaz"}
    assert replicas(leader) == replicas(worker) == (2, 19)
    assert (
        hints(leader)
        == hints(worker)
        == {
            "model": ("meta-llama/Llama-3.1-405B", 9),
            "group_size": (2, 21),
        }
    )
    assert (leader.pods_per_replica, leader.replica_gpu_share) == (2, 1)
    assert (worker.pods_per_replica, worker.replica_gpu_share) == (2, 1)
    assert leader.engine_hint is None
    assert [c[0] for c in containers(leader)] == ["model-runner"]
    assert templates("llmaz/service.yaml", "plain-service") == []


# ----------------------------------------------------------------- dispatch


@pytest.mark.parametrize(
    ("kind", "api_version"),
    [
        ("Model", "serving.example.com/v1"),
        ("Workspace", "other.example.com/v1"),
        ("ModelService", "example.com/v1"),
    ],
)
def test_shared_kind_names_of_other_groups_are_read_by_shape(kind: str, api_version: str) -> None:
    text = f"""apiVersion: {api_version}
kind: {kind}
metadata:
  name: other
spec:
  template:
    spec:
      containers:
        - name: server
          image: example/server:1
"""
    documents, _ = parse_documents(text, "other.yaml")
    objects, _, _ = objects_from_documents(documents)
    (found,) = CRD_ADAPTERS[kind](objects[0], AdapterContext(objects))
    assert found.platform == "unknown-crd"
    assert found.role == "template"


# ----------------------------------------------------------------- whole scanner

# Known wrong results, as (fixture, role) -> reason; strict xfails turn red once fixed.
KNOWN_GAPS: dict[tuple[str, str | None], str] = {}

SCANNED = [
    ("production-stack/vllmruntime.yaml", None, "vllm", "meta-llama/Llama-3.1-8B-Instruct", 2, 2),
    (
        "production-stack/vllmruntime-pd.yaml",
        "prefill",
        "vllm",
        "meta-llama/Llama-3.2-1B-Instruct",
        1,
        1,
    ),
    (
        "production-stack/vllmruntime-pd.yaml",
        "decode",
        "vllm",
        "meta-llama/Llama-3.2-1B-Instruct",
        1,
        1,
    ),
    ("aibrix/stormservice-1p1d.yaml", "prefill", "vllm", "Qwen/Qwen3-8B", 1, 1),
    ("aibrix/stormservice-1p1d.yaml", "decode", "vllm", "Qwen/Qwen3-8B", 2, 1),
    ("aibrix/rayclusterfleet.yaml", "head", "vllm", "Qwen/Qwen2.5-Coder-7B-Instruct", 2, 1),
    ("kubeai/model.yaml", None, "vllm", "hf://neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", 2, 2),
    ("nim-operator/nimservice.yaml", None, "nim", "meta/llama-3.1-8b-instruct", None, 1),
    ("dynamo/disagg-v1alpha1.yaml", "Frontend", None, None, None, None),
    ("dynamo/disagg-v1alpha1.yaml", "decode", "vllm", "Qwen/Qwen3-0.6B", 2, 2),
    ("dynamo/disagg-v1alpha1.yaml", "prefill", "sglang", "Qwen/Qwen3-0.6B", 8, 4),
    ("dynamo/disagg-v1beta1.yaml", "decode", "trtllm", "Qwen/Qwen3-0.6B", 1, 1),
    ("llm-d/modelservice.yaml", "prefill", "vllm", "pvc://llama-pvc/path/to/llama4", 4, 4),
    ("llm-d/modelservice.yaml", "decode", "vllm", "pvc://llama-pvc/path/to/llama4", 8, 8),
    ("kaito/workspace.yaml", None, "vllm", "phi-3.5-mini-instruct", 2, None),
    ("llmaz/playground.yaml", None, "sglang", "Qwen/Qwen2-0.5B-Instruct", 1, 1),
    ("llmaz/service.yaml", "leader", "sglang", "/models/llama", 16, 8),
]


@pytest.mark.parametrize(
    ("relative", "role", "engine", "model", "tensor_parallel", "gpus"),
    [
        pytest.param(
            *row,
            id=f"{row[0]}#{row[1]}",
            marks=[pytest.mark.xfail(reason=KNOWN_GAPS[(row[0], row[1])], strict=True)]
            if (row[0], row[1]) in KNOWN_GAPS
            else [],
        )
        for row in SCANNED
    ],
)
def test_scanned_workload(
    relative: str,
    role: str | None,
    engine: str | None,
    model: str | None,
    tensor_parallel: int | None,
    gpus: int | None,
) -> None:
    from piqc_advisor.collectors.scan import scan

    store = scan([str(FIXTURES / relative)])
    (workload,) = [w for w in store.workloads if w.role == role][:1]
    assert (workload.engine.name if workload.engine else None) == engine
    assert workload.effective.get("model") == model
    assert workload.effective.get("tensor_parallel_size") == tensor_parallel
    assert workload.gpus_per_replica == gpus
