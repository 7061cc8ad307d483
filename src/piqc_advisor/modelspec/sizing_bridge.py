"""Link to the GPU catalog and memory estimator of piqc_advisor.sizing; unknown when unavailable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PRECISION_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
PRECISION_QUANTIZATION = {"fp8": "fp8", "int4": "awq", "int8": "w8a8"}


@dataclass(frozen=True)
class GpuInfo:
    """What the checks need to know about one accelerator model."""

    name: str
    vendor: str
    memory_gib: float | None
    precisions: frozenset[str] | None
    entry: Any = None


@dataclass(frozen=True)
class Unavailable:
    """The catalog or the estimator cannot answer; the reason says why."""

    reason: str


@dataclass(frozen=True)
class MemoryFit:
    """Per-GPU budget against weights and KV cache for the declared batch and length."""

    fits: bool
    weights_fit: bool
    weights_gib: float
    kv_needed_gib: float
    kv_available_gib: float
    budget_gib: float


def find_gpu(vendor: str, accelerator_type: str) -> GpuInfo | Unavailable | None:
    """The catalog entry for vendor/type, None when the catalog does not know it."""
    try:
        from piqc_advisor.sizing.accelerators import resolve_gpu
    except ImportError:
        return Unavailable("the GPU catalog (piqc_advisor.sizing) is not available")
    try:
        match = resolve_gpu(accelerator_type) or resolve_gpu(f"{vendor}-{accelerator_type}")
    except Exception as exc:
        return Unavailable(f"the GPU catalog failed: {type(exc).__name__}: {exc}")
    if match is None:
        return None
    acc = match.accelerator
    return GpuInfo(
        acc.id,
        acc.vendor,
        acc.usable_gib,
        frozenset(p.lower() for p in acc.precisions),
        acc,
    )


def memory_fit(
    model: str,
    gpu: GpuInfo,
    count: int,
    precision: str | None,
    max_batch_size: int,
    max_sequence_length: int,
) -> MemoryFit | Unavailable:
    """Estimate weights plus KV cache for batch x length, tensor-parallel over `count` GPUs."""
    try:
        from piqc_advisor.sizing.architectures import resolve_model
        from piqc_advisor.sizing.estimator import SizingInput, estimate
    except ImportError:
        return Unavailable("the memory estimator (piqc_advisor.sizing) is not available")
    try:
        found = resolve_model(model)
        if found is None:
            return Unavailable(f"the model catalog does not know {model!r}")
        request = SizingInput(
            architecture=found.architecture,
            accelerator=gpu.entry,
            tensor_parallel=count,
            max_model_len=max_sequence_length,
            max_num_seqs=max_batch_size,
            dtype=PRECISION_DTYPES.get(precision or "", "auto"),
            quantization=PRECISION_QUANTIZATION.get(precision or ""),
        )
        result = estimate(request, name_quantization=found.name_quantization, search_cheaper=False)
    except Exception as exc:
        return Unavailable(f"the memory estimator failed: {type(exc).__name__}: {exc}")
    kv_needed = result.kv_bytes_per_sequence * max_batch_size / 2**30
    return MemoryFit(
        fits=result.weights_fit and result.kv_available_gib >= kv_needed,
        weights_fit=result.weights_fit,
        weights_gib=result.weights_gib,
        kv_needed_gib=kv_needed,
        kv_available_gib=result.kv_available_gib,
        budget_gib=result.budget_gib,
    )
