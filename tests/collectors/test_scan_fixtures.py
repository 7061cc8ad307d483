"""The scanner on fixtures in the styles of public projects: every fact and line, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.collectors.scan_summary import summary

from piqc_advisor.collectors.scan import scan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "gke": [
        {
            "id": "Deployment/default/vllm-llama3-70b/inference-server",
            "engine": ("vllm", None),
            "serving": {
                "model": ("meta-llama/Llama-3.1-70B-Instruct", "--model", 36),
                "tensor_parallel_size": (4, "--tensor-parallel-size", 37),
                "max_model_len": (8192, "--max-model-len", 40),
                "max_num_seqs": (32, "--max-num-seqs", 41),
                "port": (8000, "--port", 39),
                "host": ("0.0.0.0", "--host", 38),
            },
            "gpus": 4,
            "accel": ("nvidia.com/gpu", 4, "nvidia-h100-80gb", 33),
            "replicas": (1, 9),
            "probes": {},
            "image": ("20250312_0916_RC01", False, 22),
            "shm": (True, 54),
            "hf_token": ("secret", 45),
            "storage": "download-at-start",
            "related": ["PodMonitoring/vllm-llama3-70b", "Service/llm-service"],
            "issues": [],
        }
    ],
    "lws": [
        {
            "id": "LeaderWorkerSet/default/vllm#leader/vllm-leader",
            "engine": ("vllm", "0.8.5"),
            "serving": {
                "model": ("meta-llama/Meta-Llama-3.1-405B-Instruct", "--model", 25),
                "tensor_parallel_size": (8, "--tensor-parallel-size", 25),
                "pipeline_parallel_size": (2, "--pipeline_parallel_size", 25),
                "port": (8080, "--port", 25),
            },
            "gpus": 16,
            "accel": ("nvidia.com/gpu", 8, None, 29),
            "replicas": (2, 7),
            "probes": {"readiness": ("tcpSocket", None, 45, 37)},
            "image": ("v0.8.5", False, 18),
            "shm": (True, 46),
            "hf_token": ("literal", 20),
            "storage": "download-at-start",
            "related": ["Service/vllm-leader"],
            "issues": [],
        },
        {
            "id": "LeaderWorkerSet/default/vllm#worker/vllm-worker",
            "engine": ("vllm", "0.8.5"),
            "serving": {},
            "gpus": 16,
            "accel": ("nvidia.com/gpu", 8, None, 61),
            "replicas": (2, 7),
            "probes": {},
            "image": ("v0.8.5", False, 54),
            "shm": (True, 74),
            "hf_token": ("literal", 68),
            "storage": "unknown",
            "related": [],
            "issues": [],
        },
    ],
    "kserve": [
        {
            "id": "InferenceService/kserve-test/huggingface-llama3#predictor/kserve-container",
            "engine": ("kserve-huggingface", "0.15.0"),
            "serving": {
                "model": ("meta-llama/meta-llama-3-8b-instruct", "--model_id", 16),
                "served_model_name": (["llama3"], "--model_name", 15),
                "max_model_len": (4096, "--max_model_len", 17),
            },
            "gpus": 1,
            "accel": ("nvidia.com/gpu", 1, None, 29),
            "replicas": (1, 9),
            "probes": {},
            "image": ("v0.15.0", False, 50),
            "shm": None,
            "hf_token": ("secret", 19),
            "storage": "download-at-start",
            "related": [],
            "issues": [],
        },
        {
            "id": "ClusterServingRuntime/default/kserve-huggingfaceserver#runtime/kserve-container",
            "engine": ("kserve-huggingface", "0.15.0"),
            "serving": {"served_model_name": (["{{.Name}}"], "--model_name", 52)},
            "gpus": None,
            "accel": None,
            "replicas": None,
            "probes": {},
            "image": ("v0.15.0", False, 50),
            "shm": None,
            "hf_token": None,
            "storage": "unknown",
            "related": [],
            "issues": [],
        },
    ],
    "kuberay": [
        {
            "id": "RayService/default/ray-serve-llm#head/ray-head",
            "engine": ("vllm", None),
            "serving": {
                "model": ("Qwen/Qwen2.5-7B-Instruct", "serveConfigV2 model", 16),
                "served_model_name": (["qwen2.5-7b-instruct"], "serveConfigV2 model_id", 15),
                "tensor_parallel_size": (2, "engine_kwargs.tensor_parallel_size", 20),
                "dtype": ("bfloat16", "engine_kwargs.dtype", 18),
                "max_model_len": (4096, "engine_kwargs.max_model_len", 19),
                "gpu_memory_utilization": (0.9, "engine_kwargs.gpu_memory_utilization", 21),
            },
            "gpus": None,
            "accel": None,
            "replicas": None,
            "probes": {},
            "image": ("2.46.0-py311-cu124", False, 35),
            "shm": None,
            "hf_token": None,
            "storage": "download-at-start",
            "related": [],
            "issues": [],
        },
        {
            "id": "RayService/default/ray-serve-llm#worker:gpu-group/llm",
            "engine": ("vllm", None),
            "serving": {
                "model": ("Qwen/Qwen2.5-7B-Instruct", "serveConfigV2 model", 16),
                "served_model_name": (["qwen2.5-7b-instruct"], "serveConfigV2 model_id", 15),
                "tensor_parallel_size": (2, "engine_kwargs.tensor_parallel_size", 20),
                "dtype": ("bfloat16", "engine_kwargs.dtype", 18),
                "max_model_len": (4096, "engine_kwargs.max_model_len", 19),
                "gpu_memory_utilization": (0.9, "engine_kwargs.gpu_memory_utilization", 21),
            },
            "gpus": 2,
            "accel": ("nvidia.com/gpu", 2, None, 58),
            "replicas": (1, 45),
            "probes": {},
            "image": ("2.46.0-py311-cu124", False, 53),
            "shm": None,
            "hf_token": None,
            "storage": "download-at-start",
            "related": [],
            "issues": [],
        },
    ],
    "misc": [
        {
            "id": "Pod/default/wrong-types/c",
            "engine": ("vllm", "0.9.2"),
            "serving": {},
            "gpus": None,
            "accel": None,
            "replicas": None,
            "probes": {},
            "image": ("v0.9.2", False, 25),
            "shm": None,
            "hf_token": None,
            "storage": "unknown",
            "related": [],
            "issues": [("no_model", None, 24)],
        },
        {
            "id": "Deployment/default/sglang-qwen/server",
            "engine": ("sglang", "0.4.6.post1"),
            "serving": {
                "model": ("Qwen/Qwen2.5-7B-Instruct", "--model", 17),
                "tensor_parallel_size": (2, "--tensor-parallel-size", 17),
                "port": (8000, "--port", 17),
                "host": ("0.0.0.0", "--host", 17),
            },
            "gpus": 2,
            "accel": ("nvidia.com/gpu", 2, None, 20),
            "replicas": (1, 6),
            "probes": {},
            "image": ("v0.4.6.post1-cu124", False, 15),
            "shm": None,
            "hf_token": None,
            "storage": "download-at-start",
            "related": [],
            "issues": [],
        },
        {
            "id": "Pod/default/sidecar-first/engine",
            "engine": ("vllm", None),
            "serving": {
                "model": ("mistralai/Mistral-7B-Instruct-v0.3", "positional", 17),
                "tensor_parallel_size": (2, "--tensor-parallel-size", 18),
                "dtype": ("bfloat16", "--dtype", 18),
                "max_num_seqs": (128, "--max-num-seq", 18),
                "api_key": ("<redacted>", "--api-key", 16),
            },
            "gpus": 2,
            "accel": ("nvidia.com/gpu", 2, None, 24),
            "replicas": None,
            "probes": {},
            "image": (None, True, 13),
            "shm": None,
            "hf_token": None,
            "storage": "download-at-start",
            "related": [],
            "issues": [("abbreviated_flag", "--max-num-seqs", 18)],
        },
        {
            "id": "Deployment/default/tgi-mistral/tgi",
            "engine": ("tgi", "3.0.1"),
            "serving": {
                "model": ("mistralai/Mistral-7B-Instruct-v0.3", "env MODEL_ID", 16),
                "tensor_parallel_size": (2, "env NUM_SHARD", 18),
                "max_model_len": (8192, "env MAX_TOTAL_TOKENS", 20),
            },
            "gpus": 2,
            "accel": ("nvidia.com/gpu", 2, None, 24),
            "replicas": None,
            "probes": {},
            "image": ("3.0.1", False, 14),
            "shm": None,
            "hf_token": None,
            "storage": "download-at-start",
            "related": [],
            "issues": [],
        },
        {
            "id": "LlmServer/default/homegrown#runner/template/main",
            "engine": ("vllm", "0.9.2"),
            "serving": {"model": ("ibm-granite/granite-3.3-8b-instruct", "--model", 14)},
            "gpus": None,
            "accel": None,
            "replicas": None,
            "probes": {},
            "image": ("v0.9.2", False, 13),
            "shm": None,
            "hf_token": None,
            "storage": "download-at-start",
            "related": [],
            "issues": [],
        },
    ],
    "helm": [
        {
            "id": "Deployment/default/demo-opt125m-deployment-vllm/vllm",
            "engine": ("vllm", None),
            "serving": {
                "model": ("facebook/opt-125m", "positional", 34),
                "max_model_len": (2048, "--max-model-len", 40),
                "port": (8000, "--port", 38),
                "host": ("0.0.0.0", "--host", 36),
            },
            "gpus": 1,
            "accel": ("nvidia.com/gpu", 1, None, 47),
            "replicas": (1, 17),
            "probes": {},
            "image": ("latest", False, 30),
            "shm": None,
            "hf_token": None,
            "storage": "download-at-start",
            "related": [],
            "issues": [],
        }
    ],
}


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_fixture_facts(folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    store = scan([f"tests/fixtures/manifests/{folder}"])
    assert [summary(w) for w in store.workloads] == EXPECTED[folder]


def test_broken_documents_are_problems_and_the_rest_is_scanned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    store = scan(["tests/fixtures/manifests/misc/broken-multidoc.yaml"])
    path = "tests/fixtures/manifests/misc/broken-multidoc.yaml"
    assert [(p.path, p.line, p.severity, p.code) for p in store.problems] == [
        (path, 11, "error", "yaml-syntax"),
        (path, 16, "error", "yaml-syntax"),
        (path, 26, "error", "wrong-type"),
        (path, 27, "error", "wrong-type"),
    ]
    assert store.objects == 2  # the Service before the broken ones and the Pod after them
    assert [w.id for w in store.workloads] == ["Pod/default/wrong-types/c"]


def test_unknown_crd_is_reported_and_its_pod_template_analysed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    store = scan(["tests/fixtures/manifests/misc/unknown-crd.yaml"])
    assert [(p.line, p.severity, p.code, p.message) for p in store.problems] == [
        (
            1,
            "warning",
            "not-understood",
            "serving.example.com/v1 LlmServer 'homegrown' is not understood; "
            "1 pod template(s) inside were analysed",
        )
    ]
    assert store.not_understood == ("LlmServer/-/homegrown",)


def test_helm_source_comments_map_values_to_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    (workload,) = scan(["tests/fixtures/manifests/helm/rendered.yaml"]).workloads
    model = workload.serving["model"]
    assert model is not None
    assert (model.origin.template, model.origin.line, model.origin.template_line) == (
        "vllm-stack/templates/deployment-vllm.yaml",
        34,
        26,
    )
