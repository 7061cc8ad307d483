"""A workload's serving facts as a sizing request: shared by the sizing rules and `facts`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from piqc_advisor.sizing.accelerators import GpuMatch, resolve_gpu
from piqc_advisor.sizing.architectures import ModelMatch, resolve_model
from piqc_advisor.sizing.estimator import (
    Estimate,
    SizingInput,
    cheapest_tier,
    estimate,
    vllm_batch_defaults,
)

if TYPE_CHECKING:
    from piqc_advisor.facts.workload import Workload

# The estimator follows vLLM's memory accounting; other engines split memory differently.
SIZED_ENGINES = frozenset({"vllm"})
_KEYS = (
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "max_model_len",
    "max_num_seqs",
    "dtype",
    "kv_cache_dtype",
    "quantization",
    "gpu_memory_utilization",
    "enforce_eager",
    "max_num_batched_tokens",
)


@dataclass(frozen=True)
class Unsized:
    """Why a workload is not sized: status `not_applicable` or `unknown`, and the reason."""

    status: str
    reason: str


@dataclass(frozen=True)
class Request:
    """A workload's sizing input and how many sequences it must serve at once."""

    match: ModelMatch
    input: SizingInput
    need: int


class _Values(NamedTuple):
    """The facts sizing reads from a workload (hashable when the values are, for caching)."""

    engine: str | None
    role: str | None
    model: Any
    has_accelerator: bool
    gpu_type: str | None
    gpus: int | None
    serving: tuple[Any, ...]


def serving_value(w: Workload, key: str) -> Any:
    """The declared value of a serving key, else the engine default."""
    declared = w.serving.get(key)
    return declared.value if declared is not None else w.effective.get(key)


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def serving_int(w: Workload, key: str) -> int | None:
    """serving_value when it is an integer (not a bool or an unresolved reference)."""
    return _as_int(serving_value(w, key))


def follows_leader(role: str | None) -> bool:
    """Workers of a multi-node group take their settings from the leader (as is_follower)."""
    text = role or ""
    return text.endswith("worker") or text == "head"


def _values(w: Workload) -> _Values:
    acc = w.accelerator
    serving, effective = w.serving, w.effective
    values = []
    for key in _KEYS:
        declared = serving.get(key)
        values.append(declared.value if declared is not None else effective.get(key))
    return _Values(
        w.engine.name if w.engine is not None else None,
        w.role,
        serving_value(w, "model"),
        acc is not None,
        acc.type if acc is not None else None,
        w.gpus_per_replica,
        tuple(values),
    )


def _model(engine: str | None, role: str | None, model: Any) -> ModelMatch | Unsized:
    if engine is None:
        return Unsized("not_applicable", "no model server detected")
    if follows_leader(role):
        return Unsized("not_applicable", f"role {role} follows its leader's settings")
    if not isinstance(model, str) or not model or "$(" in model or model.startswith("<"):
        return Unsized("unknown", "the model is not known from the manifest")
    match = resolve_model(model)
    if match is None:
        return Unsized(
            "unknown", f"model {model!r} is not in the sizing catalog; its architecture is unknown"
        )
    return match


def _gpu(engine: str | None, has_accelerator: bool, gpu_type: str | None) -> GpuMatch | Unsized:
    if engine is not None and engine not in SIZED_ENGINES:
        return Unsized("unknown", f"memory accounting of {engine} is not modelled (vLLM only)")
    if not has_accelerator:
        return Unsized("not_applicable", "no accelerator requested")
    if not gpu_type:
        return Unsized(
            "unknown", "GPU type unknown: no GPU product label in a node selector or affinity"
        )
    gpu = resolve_gpu(gpu_type)
    if gpu is None:
        return Unsized("unknown", f"GPU type {gpu_type!r} is not in the accelerator catalog")
    return gpu


def _request(v: _Values, match: ModelMatch) -> Request | Unsized:
    gpu = _gpu(v.engine, v.has_accelerator, v.gpu_type)
    if isinstance(gpu, Unsized):
        return gpu
    tp, pp, max_len, seqs, dtype, kv_dtype, quant, util, eager, batched = v.serving
    request = SizingInput(
        architecture=match.architecture,
        accelerator=gpu.accelerator,
        tensor_parallel=_as_int(tp) or 1,
        pipeline_parallel=_as_int(pp) or 1,
        gpus=v.gpus,
        max_model_len=_as_int(max_len),
        max_num_seqs=_as_int(seqs),
        dtype=dtype if isinstance(dtype, str) else "auto",
        kv_cache_dtype=kv_dtype if isinstance(kv_dtype, str) else "auto",
        quantization=quant if isinstance(quant, str) else None,
        gpu_memory_utilization=float(util) if isinstance(util, int | float) else 0.9,
        enforce_eager=eager is True,
        max_num_batched_tokens=_as_int(batched),
    )
    return Request(match, request, _as_int(seqs) or vllm_batch_defaults(gpu.accelerator)[1])


def model_match(w: Workload) -> ModelMatch | Unsized:
    """The catalog model a workload serves, or why it has none."""
    engine = w.engine.name if w.engine is not None else None
    return _model(engine, w.role, serving_value(w, "model"))


def sizing_request(w: Workload, match: ModelMatch) -> Request | Unsized:
    """The SizingInput for a workload serving `match`, or why it cannot be sized."""
    return _request(_values(w), match)


def _number(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def _estimated(request: Request, result: Estimate) -> dict[str, Any]:
    i = request.input
    need = i.max_num_seqs or 1
    tier = cheapest_tier(i, need, request.match.name_quantization, base=result)
    cheapest: dict[str, Any] | None = None
    if tier is not None:
        gpu, trial = tier
        difference = None
        if i.accelerator.price_low is not None and gpu.price_low is not None:
            gpus = i.tensor_parallel * i.pipeline_parallel
            difference = round((gpu.price_low - i.accelerator.price_low) * gpus, 2)
        cheapest = {
            "gpu": gpu.id,
            "max_concurrency": _number(trial.max_concurrency),
            "usd_per_hour_difference": difference,
        }
    return {
        "status": "estimated",
        "model": i.architecture.id,
        "gpu": i.accelerator.id,
        "tensor_parallel_size": i.tensor_parallel,
        "pipeline_parallel_size": i.pipeline_parallel,
        "weight_format": result.weight_format,
        "kv_cache_dtype": i.kv_cache_dtype,
        "max_model_len": result.max_model_len,
        "max_num_seqs": result.max_num_seqs,
        "weights_gib_per_gpu": round(result.weights_gib, 2),
        "kv_cache_gib_per_gpu": round(result.kv_available_gib, 2),
        "kv_bytes_per_token": result.kv_bytes_per_token,
        "kv_cache_tokens": result.kv_tokens,
        "max_concurrency_at_max_model_len": _number(result.max_concurrency),
        "fits": result.fits,
        "weights_fit": result.weights_fit,
        "margin_gib": round(result.margin_gib, 2),
        "cheapest_tier": cheapest,
        "problems": list(result.problems),
        "assumptions": list(result.assumptions),
        "notes": list(result.notes),
    }


@lru_cache(maxsize=4096)
def _block(v: _Values) -> dict[str, Any]:
    match = _model(v.engine, v.role, v.model)
    if isinstance(match, Unsized):
        return {"status": match.status, "reason": match.reason}
    request = _request(v, match)
    if isinstance(request, Unsized):
        return {"status": request.status, "reason": request.reason}
    try:
        result = estimate(
            request.input, name_quantization=match.name_quantization, search_cheaper=False
        )
        return _estimated(request, result)
    except ValueError as exc:
        return {"status": "unknown", "reason": str(exc)}


def workload_sizing(w: Workload) -> dict[str, Any]:
    """The `sizing` block of a workload in `facts` output (a fresh copy of a cached result)."""
    # Most workloads stop at the model or the GPU: answer those before reading every value.
    match = model_match(w)
    if isinstance(match, Unsized):
        return {"status": match.status, "reason": match.reason}
    acc = w.accelerator
    engine = w.engine.name if w.engine is not None else None
    gpu = _gpu(engine, acc is not None, acc.type if acc is not None else None)
    if isinstance(gpu, Unsized):
        return {"status": gpu.status, "reason": gpu.reason}
    v = _values(w)
    try:
        hash(v)
    except TypeError:  # an unhashable serving value: compute without the cache
        block = _block.__wrapped__(v)
    else:
        block = _block(v)
    copy = dict(block)
    for key in ("problems", "assumptions", "notes"):
        if key in copy:
            copy[key] = list(copy[key])
    if copy.get("cheapest_tier") is not None:
        copy["cheapest_tier"] = dict(copy["cheapest_tier"])
    return copy


def sizing_cell(block: dict[str, Any]) -> str:
    """One short table cell for a `sizing` block: the fit and full-length sequences held."""
    if block["status"] == "not_applicable":
        return "-"
    if block["status"] != "estimated":
        return "unknown"
    if block["problems"]:
        return "invalid"
    if not block["weights_fit"]:
        return "NO: weights"
    if not block["fits"]:
        return "NO: KV cache"
    held = block["max_concurrency_at_max_model_len"]
    if held is None:
        return "fits (no KV cache)"
    return f"fits {held:.1f} x {block['max_model_len']:,}"
