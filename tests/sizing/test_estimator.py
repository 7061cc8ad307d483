"""Exact KV formulas, weight sizes, name resolution, catalogs and the size command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from piqc_advisor.cli import main
from piqc_advisor.collectors.command_line import Token
from piqc_advisor.collectors.vllm_args import parse_vllm_args
from piqc_advisor.safe_yaml import DataFileError
from piqc_advisor.sizing.accelerators import load_gpu_catalog, resolve_gpu
from piqc_advisor.sizing.architectures import (
    architecture_from_config,
    builtin_models,
    load_config_json,
    resolve_model,
)
from piqc_advisor.sizing.command import DTYPES, KV_DTYPES
from piqc_advisor.sizing.estimator import (
    GIB,
    SizingInput,
    estimate,
    kv_bytes_per_token,
)


def arch(name: str):  # type: ignore[no-untyped-def]
    match = resolve_model(name)
    assert match is not None, name
    return match.architecture


def gpu(name: str):  # type: ignore[no-untyped-def]
    match = resolve_gpu(name)
    assert match is not None, name
    return match.accelerator


@pytest.mark.parametrize(
    ("model", "kv_dtype", "tp", "expected"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "auto", 1, 131072),  # 2*32*8*128*2
        ("meta-llama/Llama-3.1-70B-Instruct", "auto", 1, 327680),  # 2*80*8*128*2
        ("meta-llama/Llama-3.1-70B-Instruct", "auto", 4, 81920),
        ("meta-llama/Llama-3.1-70B-Instruct", "fp8", 1, 163840),
        ("meta-llama/Llama-3.1-405B", "auto", 8, 2 * 126 * 1 * 128 * 2),
        ("meta-llama/Llama-3.1-405B", "auto", 16, 2 * 126 * 1 * 128 * 2),  # KV heads replicated
        ("meta-llama/Llama-2-7b-hf", "auto", 1, 524288),  # MHA: 2*32*32*128*2
        ("Qwen/Qwen2.5-7B-Instruct", "auto", 1, 57344),  # 2*28*4*128*2
        ("Qwen/Qwen3-235B-A22B", "auto", 4, 2 * 94 * 1 * 128 * 2),
        ("deepseek-ai/DeepSeek-V3", "auto", 1, 61 * 576 * 2),  # MLA latent + rope
        ("deepseek-ai/DeepSeek-R1", "auto", 8, 61 * 576 * 2),  # not split by TP
        ("deepseek-ai/DeepSeek-V3", "fp8", 8, 61 * 576),
        ("google/gemma-2-9b-it", "auto", 1, 2 * 42 * 8 * 256 * 2),
        ("tiiuae/falcon-7b", "auto", 1, 2 * 32 * 1 * 64 * 2),
    ],
)
def test_kv_bytes_per_token(model: str, kv_dtype: str, tp: int, expected: int) -> None:
    assert kv_bytes_per_token(arch(model), kv_dtype, tp) == expected


def test_embedding_models_have_no_kv_cache() -> None:
    assert kv_bytes_per_token(arch("BAAI/bge-large-en-v1.5")) == 0


def test_weights_within_two_percent_of_vllm_logs() -> None:
    # vLLM logs "Model loading took 14.99 GiB" for Llama-3.1-8B in bf16.
    e = estimate(SizingInput(arch("meta-llama/Llama-3.1-8B"), gpu("H100")), search_cheaper=False)
    assert e.weights_gib == pytest.approx(14.99, rel=0.02)


def test_tensor_parallel_splits_weights_per_gpu_not_per_group() -> None:
    a, h = arch("meta-llama/Llama-3.1-70B"), gpu("H100")
    one = estimate(SizingInput(a, h), search_cheaper=False)
    four = estimate(SizingInput(a, h, tensor_parallel=4), search_cheaper=False)
    assert not one.weights_fit
    assert four.weights_fit
    assert four.weights_gib == pytest.approx(one.weights_gib / 4, rel=0.01)


def test_int4_awq_counts_group_scales() -> None:
    a, h = arch("meta-llama/Llama-3.1-70B"), gpu("H100")
    bf16 = estimate(SizingInput(a, h), search_cheaper=False)
    awq = estimate(SizingInput(a, h), name_quantization="awq", search_cheaper=False)
    assert awq.weight_format == "awq"
    assert 0.25 < awq.weights_gib / bf16.weights_gib < 0.30


def test_sliding_window_caps_local_layers() -> None:
    g = arch("google/gemma-3-27b-it")
    assert g.local_layers == 52
    e = estimate(SizingInput(g, gpu("H100"), max_model_len=131072), search_cheaper=False)
    full_only = 10 * 2 * 16 * 128 * 2 * 131072
    assert e.kv_bytes_per_sequence < full_only * 1.5


def test_bf16_on_t4_is_a_problem_and_auto_falls_back() -> None:
    q = arch("Qwen/Qwen2.5-1.5B-Instruct")
    bad = estimate(SizingInput(q, gpu("T4"), dtype="bfloat16"), search_cheaper=False)
    assert any("bfloat16" in p for p in bad.problems)
    auto = estimate(SizingInput(q, gpu("T4")), search_cheaper=False)
    assert auto.act_dtype == "float16" and not auto.problems


def test_tp_must_divide_heads() -> None:
    e = estimate(
        SizingInput(arch("Qwen/Qwen2.5-7B"), gpu("L4"), tensor_parallel=8), search_cheaper=False
    )
    assert any("28 attention heads" in p for p in e.problems)


def test_cheaper_tier_is_suggested_with_price() -> None:
    e = estimate(
        SizingInput(
            arch("meta-llama/Llama-3.1-8B"), gpu("H100"), max_model_len=8192, max_num_seqs=2
        )
    )
    assert e.cheaper is not None and e.cheaper[0] == "L4" and e.cheaper[1] > 0


@pytest.mark.parametrize(
    ("name", "expected", "count"),
    [
        ("A100-SXM4-80GB", "A100-80GB-SXM", None),
        ("a100-80gb", "A100-80GB-SXM", None),
        ("NVIDIA-H100-80GB-HBM3", "H100-SXM", None),
        ("nvidia-l4", "L4", None),
        ("nvidia-h100-80gb", "H100-SXM", None),
        ("NVIDIA A10G", "A10G", None),
        ("nvidia-tesla-t4", "T4", None),
        ("a10g", "A10G", None),
        ("h100", "H100-SXM", None),
        ("NVIDIA-A100-80GB-PCIe", "A100-80GB-PCIe", None),
        ("tpu-v5-lite-podslice", "TPU-v5e", None),
        ("g5.xlarge", "A10G", 1),
        ("p4d.24xlarge", "A100-40GB-SXM", 8),
        ("p5.48xlarge", "H100-SXM", 8),
        ("a2-highgpu-1g", "A100-40GB-SXM", 1),
        ("a3-highgpu-8g", "H100-SXM", 8),
        ("g2-standard-8", "L4", 1),
        ("Standard_NC24ads_A100_v4", "A100-80GB-PCIe", 1),
    ],
)
def test_gpu_names_resolve(name: str, expected: str, count: int | None) -> None:
    match = resolve_gpu(name)
    assert match is not None
    assert (match.accelerator.id, match.count) == (expected, count)


def test_a100_80gb_is_not_read_as_40gb() -> None:
    assert gpu("A100-SXM4-80GB").usable_gib > 79
    assert resolve_gpu("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb") is None


@pytest.mark.parametrize(
    ("model", "expected", "quant"),
    [
        ("meta-llama/Meta-Llama-3.1-70B-Instruct@main", "meta-llama/Llama-3.1-70B", None),
        ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", "meta-llama/Llama-3.1-70B", "awq"),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "Qwen/Qwen2.5-7B", "gptq"),
        ("/models/Qwen2.5-72B-Instruct/", "Qwen/Qwen2.5-72B", None),
        ("hf://Qwen/Qwen3-30B-A3B-FP8", "Qwen/Qwen3-30B-A3B", "fp8"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-v0.3", None),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", "Qwen/Qwen2.5-14B", None),
    ],
)
def test_model_ids_resolve(model: str, expected: str, quant: str | None) -> None:
    match = resolve_model(model)
    assert match is not None
    assert (match.architecture.id, match.name_quantization) == (expected, quant)


@pytest.mark.parametrize("model", ["acme/SuperLM-70B", "someone/my-7b-finetune", ""])
def test_unknown_models_are_not_guessed_from_size(model: str) -> None:
    assert resolve_model(model) is None


def test_catalog_entries_are_consistent() -> None:
    for a in builtin_models():
        if a.kind == "decoder" and not a.mla:
            assert a.num_attention_heads % a.num_key_value_heads == 0, a.id


def test_config_json_dir(tmp_path: Path) -> None:
    cfg = {
        "model_type": "llama",
        "num_hidden_layers": 32,
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "intermediate_size": 14336,
        "torch_dtype": "bfloat16",
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    a = load_config_json(tmp_path)
    assert kv_bytes_per_token(a) == 131072
    assert a.total_params == pytest.approx(8.03e9, rel=0.01)
    qwen = architecture_from_config(
        {**cfg, "sliding_window": 131072, "use_sliding_window": False}, "x"
    )
    assert qwen.sliding_window is None


def test_user_gpu_catalog_overrides_and_extends(tmp_path: Path) -> None:
    user = tmp_path / "gpus.yaml"
    user.write_text(
        "accelerators:\n"
        "  - {id: L4, memory_gb: 24, usable_gib: 21.0, precisions: [fp16, bf16], match: ['l4']}\n"
        "  - {id: X1, memory_gb: 64, usable_gib: 60, precisions: [bf16], match: ['x1-card']}\n"
        "instances:\n  my.box: [X1, 2]\n"
    )
    catalog = load_gpu_catalog(user)
    assert catalog.get("L4") is not None and catalog.get("L4").usable_gib == 21.0  # type: ignore[union-attr]
    match = resolve_gpu("my.box", catalog)
    assert match is not None and (match.accelerator.id, match.count) == ("X1", 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("accelerators:\n  - {id: Z}\n")
    with pytest.raises(DataFileError):
        load_gpu_catalog(bad)


def _tokens(*argv: str) -> list[Token]:
    return [Token(a, "args", i) for i, a in enumerate(argv)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_choices_are_accepted_by_vllm_parser(dtype: str) -> None:
    parsed = parse_vllm_args(_tokens("m", "--dtype", dtype))
    assert not [p for p in parsed.problems if p.severity == "error"], parsed.problems


@pytest.mark.parametrize("kv", KV_DTYPES)
def test_kv_cache_dtype_choices_are_accepted_by_vllm_parser(kv: str) -> None:
    parsed = parse_vllm_args(_tokens("m", "--kv-cache-dtype", kv))
    assert not [p for p in parsed.problems if p.severity == "error"], parsed.problems


def test_size_command_json() -> None:
    result = CliRunner().invoke(
        main,
        ["size", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "p5.48xlarge", "--tp", "4",
         "--max-model-len", "32768", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["per_gpu"]["kv_bytes_per_token"] == 81920
    assert data["fits"] is True
    assert data["kv_cache_tokens"] > 0
    assert data["per_gpu"]["kv_cache_gib"] * GIB / 81920 >= data["kv_cache_tokens"] * 0.99


def test_size_command_unknown_model_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["size", "acme/SuperLM-70B", "--gpu", "H100"])
    assert result.exit_code == 2
    assert "never guessed" in result.output


def test_size_command_reports_a_misfit() -> None:
    result = CliRunner().invoke(main, ["size", "meta-llama/Llama-3.1-70B", "--gpu", "L4"])
    assert result.exit_code == 1
    assert "NO" in result.output
