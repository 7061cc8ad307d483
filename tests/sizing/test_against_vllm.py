"""Our KV bytes per token against vLLM's own KV cache spec classes, in a real vLLM.

Runs only when PIQC_VLLM_PYTHON names a Python that can import vllm (for example the
environment scripts/vllm_env.sh builds). vLLM computes a layer's page size from its
KVCacheSpec (vllm.v1.kv_cache_interface); page_size_bytes / block_size is the per-token
cost of one layer, and the test asserts that ours is exactly that for several tiny configs.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from piqc_advisor.sizing.architectures import Architecture
from piqc_advisor.sizing.estimator import kv_bytes_per_token_per_layer

TEST_ENV_PYTHON = Path(__file__).resolve().parents[2] / ".test-env" / "vllm" / "bin" / "python"
VLLM_PYTHON = os.environ.get("PIQC_VLLM_PYTHON") or (
    str(TEST_ENV_PYTHON) if TEST_ENV_PYTHON.exists() else None
)
REQUIRED = os.environ.get("PIQC_REQUIRE_VLLM") == "1"

# Part of the real-component run (pytest -m slow); CI sets PIQC_REQUIRE_VLLM=1 so a missing
# vLLM environment fails instead of skipping.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not VLLM_PYTHON and not REQUIRED,
        reason="no vLLM environment: run scripts/vllm_env.sh or set PIQC_VLLM_PYTHON",
    ),
]

BASE = Architecture(
    id="tiny",
    family="llama",
    num_hidden_layers=2,
    hidden_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    vocab_size=4096,
    total_params=1,
)

# (name, architecture, kv_cache_dtype, tensor parallel size)
CASES: list[tuple[str, Architecture, str, int]] = [
    ("gqa", BASE, "auto", 1),
    ("mha", replace(BASE, num_key_value_heads=4), "auto", 1),
    ("mqa", replace(BASE, num_key_value_heads=1), "auto", 1),
    ("head64", replace(BASE, head_dim=64, num_hidden_layers=5), "auto", 1),
    ("fp8", replace(BASE, num_key_value_heads=8, head_dim=128), "fp8", 1),
    ("fp8_e5m2", BASE, "fp8_e5m2", 1),
    ("fp16", replace(BASE, torch_dtype="float16"), "float16", 1),
    ("tp2", replace(BASE, num_key_value_heads=8), "auto", 2),
    ("sliding", replace(BASE, sliding_window=64, full_attention_every=2), "auto", 1),
    ("mla", replace(BASE, kv_lora_rank=512, qk_rope_head_dim=64), "auto", 1),
    ("mla_fp8", replace(BASE, kv_lora_rank=512, qk_rope_head_dim=64), "fp8", 1),
]

PROBE = r"""
import json, sys
import torch
from vllm.v1 import kv_cache_interface as k
try:
    from vllm.utils.torch_utils import STR_DTYPE_TO_TORCH_DTYPE as S
except ImportError:
    from vllm.utils import STR_DTYPE_TO_TORCH_DTYPE as S
out = {}
for case in json.loads(sys.argv[1]):
    kv = case["kv_dtype"]
    dtype = getattr(torch, case["act"]) if kv == "auto" else S[kv]
    common = dict(block_size=16, dtype=dtype)
    if case["mla"]:
        spec = k.MLAAttentionSpec(num_kv_heads=1, head_size=case["mla"], cache_dtype_str=kv, **common)
    elif case["window"]:
        spec = k.SlidingWindowSpec(num_kv_heads=case["heads"], head_size=case["head_dim"],
                                   sliding_window=case["window"], **common)
    else:
        spec = k.FullAttentionSpec(num_kv_heads=case["heads"], head_size=case["head_dim"], **common)
    out[case["name"]] = spec.page_size_bytes // spec.block_size
print(json.dumps(out))
"""


def _vllm_page_sizes() -> dict[str, int]:
    payload = []
    for name, arch, kv, tp in CASES:
        payload.append(
            {
                "name": name,
                "kv_dtype": kv,
                "act": arch.torch_dtype,
                "heads": max(1, arch.num_key_value_heads // tp),
                "head_dim": arch.head_dim,
                "window": arch.sliding_window,
                "mla": (arch.kv_lora_rank or 0) + (arch.qk_rope_head_dim or 0) if arch.mla else 0,
            }
        )
    assert VLLM_PYTHON
    done = subprocess.run(
        [VLLM_PYTHON, "-c", PROBE, json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def vllm_sizes() -> dict[str, int]:
    return _vllm_page_sizes()


@pytest.mark.parametrize(("name", "arch", "kv", "tp"), CASES, ids=[c[0] for c in CASES])
def test_kv_bytes_per_token_per_layer_equal_vllm(
    vllm_sizes: dict[str, int], name: str, arch: Architecture, kv: str, tp: int
) -> None:
    ours = kv_bytes_per_token_per_layer(arch, kv, tp, arch.torch_dtype)
    assert ours == vllm_sizes[name]
