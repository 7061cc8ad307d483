"""vLLM 0.32's batch defaults, the fused-MoE activation term, Meta's FP8 layers, fast tier search."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import product
from pathlib import Path

import jsonschema
import pytest

from piqc_advisor.safe_yaml import load_yaml_file
from piqc_advisor.sizing.accelerators import builtin_gpu_catalog, resolve_gpu
from piqc_advisor.sizing.architectures import builtin_models, resolve_model
from piqc_advisor.sizing.estimator import (
    Estimate,
    SizingInput,
    cheapest_tier,
    estimate,
    profile_activation_bytes,
    vllm_batch_defaults,
)

DATA = Path(__file__).resolve().parents[2] / "src" / "piqc_advisor" / "sizing" / "data"


def arch(name: str):  # type: ignore[no-untyped-def]
    match = resolve_model(name)
    assert match is not None, name
    return match.architecture


def gpu(name: str):  # type: ignore[no-untyped-def]
    match = resolve_gpu(name)
    assert match is not None, name
    return match.accelerator


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("H100", (8192, 1024)),
        ("H200", (8192, 1024)),
        ("A100-SXM4-80GB", (2048, 256)),  # vLLM keeps A100s on the small defaults
        ("B200", (16384, 1024)),
        ("MI300X", (16384, 1024)),
        ("L4", (2048, 256)),
        ("tpu-v5-lite-podslice", (512, 256)),
    ],
)
def test_batch_defaults_follow_vllm_serve(name: str, expected: tuple[int, int]) -> None:
    assert vllm_batch_defaults(gpu(name)) == expected


def test_dense_activation_term() -> None:
    # tokens x (hidden + residual + QKV + gate/up) x 2 B: 2048 x (8192 + 6144 + 28672) x 2
    assert profile_activation_bytes(arch("meta-llama/Llama-3.1-8B"), 1, 2048, 2) == 176_160_768


@pytest.mark.parametrize(
    ("model", "tp", "expected"),
    [
        # 8192 x (2 x 4096 + 9216 / 4 + 8 experts x (max(384, 4096) + max(768, 4096))) x 2 B
        ("Qwen/Qwen3-235B-A22B", 4, 1_245_708_288),
        # 8192 x (2 x 4096 + 6144 + 2 x (14336 + 28672)) x 2 B
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", 1, 1_644_167_168),
        # moe_intermediate_size 2048, not the dense 18432: 8192 x (14336 + 9216 + 8 x 14336) x 2
        ("deepseek-ai/DeepSeek-V3", 8, 2_264_924_160),
    ],
)
def test_moe_activation_term_counts_fused_moe_workspaces(
    model: str, tp: int, expected: int
) -> None:
    assert profile_activation_bytes(arch(model), tp, 8192, 2) == expected


def test_qwen3_235b_fp8_tp4_kv_tokens_as_documented() -> None:
    e = estimate(
        SizingInput(arch("Qwen/Qwen3-235B-A22B"), gpu("H100"), tensor_parallel=4),
        name_quantization="fp8",
        search_cheaper=False,
    )
    assert (round(e.weights_gib, 2), round(e.activation_gib, 2)) == (55.03, 1.74)
    assert e.kv_tokens == 290_320  # docs/sizing.md row 7; vLLM reported 178,880


@pytest.mark.parametrize(
    ("model", "quant"),
    [
        ("meta-llama/Meta-Llama-3.1-405B-Instruct-FP8", "fp8-mixed"),
        ("meta-llama/Llama-3.1-405B-FP8", "fp8-mixed"),
        ("neuralmagic/Meta-Llama-3.1-405B-Instruct-FP8", "fp8"),
        ("/models/Meta-Llama-3.1-405B-Instruct-FP8", "fp8"),
        ("meta-llama/Llama-4-Scout-17B-16E-Instruct-FP8", "fp8"),
    ],
)
def test_meta_fp8_checkpoints_are_mixed(model: str, quant: str) -> None:
    match = resolve_model(model)
    assert match is not None and match.name_quantization == quant


def test_meta_fp8_405b_keeps_attention_and_edge_mlps_in_bf16() -> None:
    request = SizingInput(arch("meta-llama/Llama-3.1-405B"), gpu("H100"), tensor_parallel=8)
    mixed = estimate(request, name_quantization="fp8-mixed", search_cheaper=False)
    every = estimate(request, name_quantization="fp8", search_cheaper=False)
    assert round(mixed.weights_gib, 2) == 56.71  # vLLM issue 6746 logged 57.75 GiB
    assert round(every.weights_gib, 2) == 47.74
    assert "attention and first/last MLP at bfloat16" in mixed.assumptions[1]
    declared = replace(request, quantization="fbgemm_fp8")
    kept = estimate(declared, name_quantization="fp8-mixed", search_cheaper=False)
    assert kept.weight_format == "fp8-mixed"
    t4 = estimate(replace(request, accelerator=gpu("T4")), name_quantization="fp8-mixed")
    assert "T4 cannot run FP8 weights" in t4.problems


def _every_tier(request: SizingInput, need: int, quant: str | None) -> str | None:
    """The tier search without shortcuts: every priced same-vendor GPU, lowest price wins."""
    best: tuple[float, float, str] | None = None
    for acc in builtin_gpu_catalog().accelerators:
        if acc.price_low is None or acc.vendor != request.accelerator.vendor:
            continue
        trial: Estimate = estimate(
            replace(request, accelerator=acc), name_quantization=quant, search_cheaper=False
        )
        if trial.problems or not trial.fits or trial.max_concurrency < need:
            continue
        if best is None or (acc.price_low, acc.usable_gib) < best[:2]:
            best = (acc.price_low, acc.usable_gib, acc.id)
    return best[2] if best else None


@pytest.mark.parametrize(
    "model",
    ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "Qwen/Qwen3-235B-A22B",
     "google/gemma-3-27b-it", "deepseek-ai/DeepSeek-V3"],
)  # fmt: skip
def test_tier_search_shortcut_finds_what_the_full_search_finds(model: str) -> None:
    for name, tp, length, seqs in product(
        ["H100", "L4", "MI300X"], [1, 8], [4096, 131072], [None, 1, 64]
    ):
        request = SizingInput(
            arch(model), gpu(name), tensor_parallel=tp, max_model_len=length, max_num_seqs=seqs
        )
        need = seqs or 1
        found = cheapest_tier(request, need)
        assert (found[0].id if found else None) == _every_tier(request, need, None)


@pytest.mark.parametrize(
    ("data", "schema"),
    [("models.yaml", "models.schema.json"), ("accelerators.yaml", "accelerators.schema.json")],
)
def test_bundled_catalogs_match_their_schemas(data: str, schema: str) -> None:
    # Only user catalogs are validated at run time; the bundled ones are checked here.
    document = load_yaml_file(DATA / data)
    validator = jsonschema.Draft202012Validator(json.loads((DATA / schema).read_text()))
    assert [e.message for e in validator.iter_errors(document)] == []


def test_catalog_reads_every_entry_once() -> None:
    ids = [a.id for a in builtin_models()]
    assert len(ids) == len(set(ids)) == len(load_yaml_file(DATA / "models.yaml")["models"])
