"""GPU sizing rules: weights and KV cache per GPU, TP layout, GPU tier and precision support."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from piqc_advisor.facts.origin import Origin
from piqc_advisor.facts.workload import Workload
from piqc_advisor.rules.api import NotApplicable, Outcome, Unknown, Violation, evidence_for, rule
from piqc_advisor.sizing.accelerators import resolve_gpu
from piqc_advisor.sizing.architectures import Architecture, ModelMatch, resolve_model
from piqc_advisor.sizing.estimator import (
    FP8_FORMATS,
    Estimate,
    SizingInput,
    cheapest_tier,
    estimate,
    smallest_tp,
)
from piqc_advisor.sizing.from_workload import (
    Unsized,
    follows_leader,
    model_match,
    serving_int,
    serving_value,
    sizing_request,
)


@dataclass(frozen=True)
class _Subject:
    arch: Architecture
    name_quantization: str | None
    model_origin: Origin
    match: ModelMatch


def _origin(w: Workload, *keys: str) -> Origin:
    for key in keys:
        declared = w.serving.get(key)
        if declared is not None:
            return declared.origin
    return evidence_for(w)


def _outcome(unsized: Unsized) -> Outcome:
    if unsized.status == "not_applicable":
        return NotApplicable(unsized.reason)
    return Unknown(unsized.reason)


def _model(w: Workload) -> _Subject | Outcome:
    match = model_match(w)
    if isinstance(match, Unsized):
        return _outcome(match)
    return _Subject(match.architecture, match.name_quantization, _origin(w, "model"), match)


def _sized(w: Workload) -> tuple[_Subject, SizingInput, int, Estimate] | Outcome:
    subject = _model(w)
    if not isinstance(subject, _Subject):
        return subject
    found = sizing_request(w, subject.match)
    if isinstance(found, Unsized):
        return _outcome(found)
    try:
        result = estimate(
            found.input, name_quantization=subject.name_quantization, search_cheaper=False
        )
    except ValueError as exc:
        return Unknown(str(exc))
    return subject, found.input, found.need, result


def _gpus(request: SizingInput) -> str:
    n = request.tensor_parallel * request.pipeline_parallel
    return f"{n} x {request.accelerator.id}"


@rule(
    "weights-do-not-fit",
    "GPU-005",
    "The model's weights and runtime memory exceed the GPU memory budget per GPU.",
)
def weights_do_not_fit(w: Workload, _: object) -> Iterator[Outcome]:
    found = _sized(w)
    if not isinstance(found, tuple):
        yield found
        return
    subject, request, _need, result = found
    if result.weights_fit:
        return
    runtime = result.activation_gib + result.non_torch_gib + result.cuda_graphs_gib
    yield Violation(
        f"{subject.arch.id} as {result.weight_format} needs {result.weights_gib:.1f} GiB of "
        f"weights per GPU plus ~{runtime:.1f} GiB runtime memory, but each of "
        f"{_gpus(request)} has a budget of {result.budget_gib:.1f} GiB "
        f"({request.gpu_memory_utilization} x {request.accelerator.usable_gib} GiB): "
        "vLLM fails with out-of-memory while loading",
        _origin(w, "tensor_parallel_size", "model"),
        key=f"{subject.arch.id}:{request.accelerator.id}:{request.tensor_parallel}",
    )


@rule(
    "kv-cache-too-small",
    "GPU-005",
    "The KV cache left after weights cannot hold max_num_seqs sequences of max_model_len.",
)
def kv_cache_too_small(w: Workload, _: object) -> Iterator[Outcome]:
    found = _sized(w)
    if not isinstance(found, tuple):
        yield found
        return
    subject, request, _need, result = found
    if not result.weights_fit:
        yield NotApplicable("the weights do not fit (weights-do-not-fit)")
        return
    if subject.arch.kind == "encoder":
        yield NotApplicable("encoder-only model: no KV cache")
        return
    wanted = request.max_num_seqs or 1
    if result.max_concurrency >= wanted:
        return
    if result.max_concurrency < 1:
        what = (
            f"cannot hold even one sequence of {result.max_model_len:,} tokens "
            f"({result.kv_bytes_per_sequence / 2**30:.1f} GiB needed, "
            f"{max(result.kv_available_gib, 0):.1f} GiB free per GPU): vLLM refuses to start"
        )
        where = _origin(w, "max_model_len", "model")
    else:
        what = (
            f"holds {result.max_concurrency:.1f} sequences of {result.max_model_len:,} tokens "
            f"but max_num_seqs is {wanted}: long requests queue or are preempted"
        )
        where = _origin(w, "max_num_seqs", "max_model_len")
    yield Violation(
        f"on {_gpus(request)} the KV cache of {subject.arch.id} "
        f"({result.kv_tokens:,} tokens, {result.kv_bytes_per_token:,} B/token per GPU) {what}",
        where,
        key=f"{subject.arch.id}:{request.accelerator.id}",
    )


@rule(
    "tp-does-not-divide-heads",
    "GPU-003",
    "Tensor parallel size does not divide the model's attention (or KV) heads.",
)
def tp_does_not_divide_heads(w: Workload, _: object) -> Iterator[Outcome]:
    subject = _model(w)
    if not isinstance(subject, _Subject):
        yield subject
        return
    tp = serving_int(w, "tensor_parallel_size") or 1
    if tp == 1:
        yield NotApplicable("no tensor parallelism")
        return
    arch = subject.arch
    heads, kv = arch.num_attention_heads, arch.num_key_value_heads
    if heads % tp:
        yield Violation(
            f"tensor parallel size {tp} does not divide the {heads} attention heads of "
            f"{arch.id}: vLLM refuses the configuration",
            _origin(w, "tensor_parallel_size"),
        )
    elif not arch.mla and kv % tp and tp % kv:
        yield Violation(
            f"tensor parallel size {tp} and the {kv} KV heads of {arch.id} do not divide "
            "one another: vLLM cannot shard or replicate the KV heads",
            _origin(w, "tensor_parallel_size"),
        )


@rule(
    "over-sharded",
    "GPU-950",
    "Tensor parallelism is larger than the model needs on this GPU.",
)
def over_sharded(w: Workload, _: object) -> Iterator[Outcome]:
    found = _sized(w)
    if not isinstance(found, tuple):
        yield found
        return
    subject, request, need, _result = found
    if request.tensor_parallel == 1:
        yield NotApplicable("no tensor parallelism")
        return
    smaller = smallest_tp(request, need, subject.name_quantization)
    if smaller is None or smaller >= request.tensor_parallel:
        return
    yield Violation(
        f"{subject.arch.id} would serve {need} sequences of {_max_len(request, subject)} tokens "
        f"with tensor parallel size {smaller} on {request.accelerator.id}; "
        f"{request.tensor_parallel} GPUs per replica pay all-reduce traffic for memory it does "
        f"not need (run {request.tensor_parallel // smaller} replicas of TP {smaller} instead, "
        "unless latency needs the wider split)",
        _origin(w, "tensor_parallel_size"),
        key=f"{subject.arch.id}:{request.accelerator.id}:{request.tensor_parallel}",
    )


def _max_len(request: SizingInput, subject: _Subject) -> str:
    length = request.max_model_len or subject.arch.max_position_embeddings or 0
    return f"{length:,}"


@rule(
    "oversized-gpu-tier",
    "CST-003",
    "A cheaper GPU tier serves the same configuration (reference prices).",
)
def oversized_gpu_tier(w: Workload, _: object) -> Iterator[Outcome]:
    found = _sized(w)
    if not isinstance(found, tuple):
        yield found
        return
    subject, request, need, _result = found
    current = request.accelerator
    if current.price_low is None:
        yield Unknown(f"no reference price for {current.id}")
        return
    best = cheapest_tier(request, need, subject.name_quantization)
    if best is None or best[0].id == current.id or best[0].price_low is None:
        return
    gpus = request.tensor_parallel * request.pipeline_parallel
    saving = (current.price_low - best[0].price_low) * gpus
    if saving <= 0:
        return
    acc = w.accelerator
    yield Violation(
        f"{subject.arch.id} with TP {request.tensor_parallel} x PP {request.pipeline_parallel} "
        f"serves {need} sequences of {_max_len(request, subject)} tokens on {best[0].id} as well "
        f"as on {current.id}; at reference on-demand prices that is ~${saving:.2f}/h less per "
        "replica (verify current prices)",
        acc.origin if acc is not None else evidence_for(w),
        key=f"{current.id}->{best[0].id}",
    )


@rule(
    "dtype-unsupported-by-gpu",
    "GPU-951",
    "The dtype or weight format asks for a precision the GPU does not support.",
)
def dtype_unsupported_by_gpu(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")
        return
    if follows_leader(w.role):
        yield NotApplicable(f"role {w.role} follows its leader's settings")
        return
    acc = w.accelerator
    if acc is None:
        yield NotApplicable("no accelerator requested")
        return
    if not acc.type:
        yield Unknown("GPU type unknown: no GPU product label in a node selector or affinity")
        return
    match = resolve_gpu(acc.type)
    if match is None:
        yield Unknown(f"GPU type {acc.type!r} is not in the accelerator catalog")
        return
    gpu = match.accelerator
    dtype = serving_value(w, "dtype")
    if (
        isinstance(dtype, str)
        and dtype.lower() in {"bfloat16", "bf16"}
        and not gpu.supports("bf16")
    ):
        yield Violation(
            f"--dtype {dtype} on {gpu.id} ({gpu.architecture}): the GPU has no bfloat16 "
            "support and vLLM refuses to start; use --dtype float16",
            _origin(w, "dtype"),
        )
    quant = serving_value(w, "quantization")
    model = serving_value(w, "model")
    resolved = resolve_model(model) if isinstance(model, str) else None
    from_name = resolved.name_quantization if resolved is not None else None
    wants_fp8 = (isinstance(quant, str) and quant.lower() == "fp8") or from_name in FP8_FORMATS
    if wants_fp8 and not (gpu.supports("fp8") or gpu.supports("fp8-weight-only")):
        yield Violation(
            f"FP8 weights on {gpu.id} ({gpu.architecture}): neither FP8 tensor cores nor the "
            "weight-only FP8 kernels (compute capability 8.0+) are available",
            _origin(w, "quantization", "model"),
        )
