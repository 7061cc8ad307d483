"""The `sizing` block of `facts`: exact estimates, reasons when unsized, fresh cached copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from piqc_advisor.collectors.scan import scan
from piqc_advisor.facts.workload import Workload
from piqc_advisor.sizing.from_workload import sizing_cell, workload_sizing

ROOT = Path(__file__).resolve().parents[2]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: m, namespace: ns}}
spec:
  selector: {{matchLabels: {{app: m}}}}
  template:
    metadata: {{labels: {{app: m}}}}
    spec:
      nodeSelector: {selector}
      containers:
        - name: server
          image: {image}
          args: {args}
          resources: {{limits: {{nvidia.com/gpu: "{gpus}"}}}}
"""


def workload(
    tmp_path: Path,
    args: list[str],
    selector: str = "{nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}",
    image: str = "vllm/vllm-openai:v0.10.1",
    gpus: int = 1,
) -> Workload:
    path = tmp_path / "deployment.yaml"
    text = DEPLOYMENT.format(selector=selector, image=image, args=json.dumps(args), gpus=gpus)
    path.write_text(text)
    (found,) = scan([str(path)]).workloads
    return found


def test_example_estimate_has_exact_values() -> None:
    (w,) = scan([str(ROOT / "examples" / "vllm-llama-3.1-8b")]).workloads
    block = workload_sizing(w)
    assert block == {
        "status": "estimated",
        "model": "meta-llama/Llama-3.1-8B",
        "gpu": "L4",
        "tensor_parallel_size": 1,
        "pipeline_parallel_size": 1,
        "weight_format": "bfloat16",
        "kv_cache_dtype": "auto",
        "max_model_len": 8192,
        "max_num_seqs": 64,
        "weights_gib_per_gpu": 14.96,
        "kv_cache_gib_per_gpu": 4.09,
        "kv_bytes_per_token": 131072,
        "kv_cache_tokens": 33472,
        "max_concurrency_at_max_model_len": 4.09,
        "fits": True,
        "weights_fit": True,
        "margin_gib": 3.09,
        # 64 sequences of 8,192 tokens need 64 GiB of KV cache: no 80 GB card holds them
        "cheapest_tier": {
            "gpu": "H100-NVL",
            "max_concurrency": 69.01,
            "usd_per_hour_difference": 1.8,
        },
        "problems": [],
        "assumptions": [
            "usable memory 22.0 GiB per L4 (what CUDA reports), x gpu_memory_utilization 0.92",
            "weights: bfloat16 linear layers (2.000 B/param incl. scales), embeddings/head at "
            "bfloat16, split over TP 1 x PP 1",
            "activation peak of a 2048-token profiling batch plus 64 x vocab fp32 logits",
            "non-torch memory 0.5 GiB, CUDA graphs 0.5 GiB",
            "KV 2 B/element, block size 16; every layer keeps every token",
        ],
        "notes": [],
    }
    assert sizing_cell(block) == "fits 4.1 x 8,192"


def test_tensor_parallel_70b_and_a_cheaper_tier(tmp_path: Path) -> None:
    w = workload(
        tmp_path,
        ["--model", "meta-llama/Llama-3.1-70B-Instruct", "--tensor-parallel-size", "4",
         "--max-model-len", "8192", "--max-num-seqs", "8"],
        gpus=4,
    )  # fmt: skip
    block = workload_sizing(w)
    picked = {k: block[k] for k in ("gpu", "weights_gib_per_gpu", "kv_bytes_per_token")}
    assert picked == {"gpu": "H100-SXM", "weights_gib_per_gpu": 32.85, "kv_bytes_per_token": 81920}
    # (40.85 GiB budget - 32.85 weights - 1.63 runtime) / 640 MiB per 8,192-token sequence
    assert block["cheapest_tier"] == {
        "gpu": "L40",
        "max_concurrency": 10.18,
        "usd_per_hour_difference": -6.0,
    }
    assert sizing_cell(block) == f"fits {block['max_concurrency_at_max_model_len']:.1f} x 8,192"


@pytest.mark.parametrize(
    ("args", "selector", "image", "expected"),
    [
        (
            ["--model", "acme/SuperLM-70B"],
            "{nvidia.com/gpu.product: NVIDIA-L4}",
            "vllm/vllm-openai:v0.10.1",
            {
                "status": "unknown",
                "reason": "model 'acme/SuperLM-70B' is not in the sizing catalog; its "
                "architecture is unknown",
            },
        ),
        (
            ["--model", "meta-llama/Llama-3.1-8B-Instruct"],
            "{}",
            "vllm/vllm-openai:v0.10.1",
            {
                "status": "unknown",
                "reason": "GPU type unknown: no GPU product label in a node selector or affinity",
            },
        ),
        (
            ["--model", "meta-llama/Llama-3.1-8B-Instruct"],
            "{nvidia.com/gpu.product: NVIDIA-Z9000}",
            "vllm/vllm-openai:v0.10.1",
            {
                "status": "unknown",
                "reason": "GPU type 'NVIDIA-Z9000' is not in the accelerator catalog",
            },
        ),
        (
            ["--model-path", "meta-llama/Llama-3.1-8B-Instruct"],
            "{nvidia.com/gpu.product: NVIDIA-L4}",
            "lmsysorg/sglang:v0.4.6",
            {
                "status": "unknown",
                "reason": "memory accounting of sglang is not modelled (vLLM only)",
            },
        ),
        (
            ["sleep", "infinity"],
            "{nvidia.com/gpu.product: NVIDIA-L4}",
            "busybox:1.36",
            {"status": "not_applicable", "reason": "no model server detected"},
        ),
    ],
)
def test_unsized_workloads_say_why(
    tmp_path: Path, args: list[str], selector: str, image: str, expected: dict[str, Any]
) -> None:
    block = workload_sizing(workload(tmp_path, args, selector, image))
    assert block == expected
    assert sizing_cell(block) == ("-" if expected["status"] == "not_applicable" else "unknown")


@pytest.mark.parametrize(
    ("args", "cell"),
    [
        (["--model", "meta-llama/Llama-3.1-70B-Instruct"], "NO: weights"),
        (["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "131072"],
         "NO: KV cache"),
        (["--model", "Qwen/Qwen2.5-7B-Instruct", "--tensor-parallel-size", "8"], "invalid"),
        (["--model", "BAAI/bge-large-en-v1.5"], "fits (no KV cache)"),
    ],
)  # fmt: skip
def test_table_cell(tmp_path: Path, args: list[str], cell: str) -> None:
    selector = "{nvidia.com/gpu.product: NVIDIA-L4}"
    block = workload_sizing(workload(tmp_path, args, selector))
    assert sizing_cell(block) == cell
    json.dumps(block, allow_nan=False)  # no Infinity for models without a KV cache


def test_cached_blocks_are_fresh_copies(tmp_path: Path) -> None:
    w = workload(tmp_path, ["--model", "meta-llama/Llama-3.1-8B-Instruct"])
    first = workload_sizing(w)
    first["assumptions"].clear()
    first["cheapest_tier"]["gpu"] = "changed"
    second = workload_sizing(w)
    assert second["assumptions"] and second["cheapest_tier"]["gpu"] == "L40"
    # YAML output must not turn shared objects into &id001 anchors.
    text = yaml.safe_dump([workload_sizing(w), workload_sizing(w)])
    assert "&id" not in text and "*id" not in text


def test_unhashable_serving_value_is_sized_without_the_cache(tmp_path: Path) -> None:
    w = workload(tmp_path, ["--model", "meta-llama/Llama-3.1-8B-Instruct"])
    w.effective["max_num_batched_tokens"] = ["not", "hashable"]
    assert workload_sizing(w)["status"] == "estimated"
