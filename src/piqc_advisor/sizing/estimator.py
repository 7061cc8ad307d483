"""Per-GPU memory, KV-cache capacity and GPU-tier fit for one model on one accelerator."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from piqc_advisor.sizing.accelerators import Accelerator, GpuCatalog, builtin_gpu_catalog
from piqc_advisor.sizing.architectures import Architecture

GIB = 1 << 30
DTYPE_BYTES = {"float32": 4, "float": 4, "float16": 2, "half": 2, "bfloat16": 2}
# Bytes per weight of the quantized (linear) layers, including scales and zero points.
# AWQ/GPTQ int4: 4 bits + one fp16 scale and one packed 4-bit zero point per group of 128.
WEIGHT_FORMATS: dict[str, float] = {
    "float32": 4.0,
    "float16": 2.0,
    "bfloat16": 2.0,
    "fp8": 1.0,
    "fp8-mixed": 1.0,  # Meta's FP8 Llama checkpoints: only some MLPs are fp8 (_high_precision)
    "int8": 1.0,
    "gptq-int8": 1.0 + 2.5 / 128,
    "awq": 0.5 + 2.5 / 128,
    "gptq": 0.5 + 2.5 / 128,
    "int4": 0.5 + 2.0 / 128,
    "mxfp4": 0.5 + 1.0 / 32,
    "nvfp4": 0.5 + 1.0 / 16,
}
FP8_FORMATS = frozenset({"fp8", "fp8-mixed"})
# vLLM --quantization values and what their weights take.
QUANTIZATION_FORMATS = {
    "awq": "awq",
    "awq_marlin": "awq",
    "gptq": "gptq",
    "gptq_marlin": "gptq",
    "fp8": "fp8",
    "fbgemm_fp8": "fp8",
    "modelopt": "fp8",
    "bitsandbytes": "int4",
    "experts_int8": "int8",
    "mxfp4": "mxfp4",
    "modelopt_fp4": "nvfp4",
}
# Runtime memory outside weights and KV cache, per GPU (documented in docs/sizing.md).
NON_TORCH_GIB = 0.5  # CUDA context, cuBLAS/cuDNN workspaces
NON_TORCH_MULTI_GPU_GIB = 0.5  # NCCL and custom all-reduce buffers when TP x PP > 1
CUDA_GRAPHS_GIB = 0.5  # captured graphs' private pools unless --enforce-eager


def vllm_batch_defaults(acc: Accelerator) -> tuple[int, int]:
    """`vllm serve`'s default (max_num_batched_tokens, max_num_seqs) on this accelerator.

    vLLM 0.32 EngineArgs.get_batch_defaults for the OpenAI server: >= 160 GiB 16384/1024,
    >= 70 GiB except A100 8192/1024, else 2048/256; TPU chips lower the token budget.
    """
    tpu_tokens = {"tpu-v6e": 1024, "tpu-v5e": 512, "tpu-v5p": 256}
    if acc.usable_gib >= 160:
        tokens, seqs = 16384, 1024
    elif acc.usable_gib >= 70 and "a100" not in acc.id.lower():
        tokens, seqs = 8192, 1024
    else:
        tokens, seqs = 2048, 256
    return tpu_tokens.get(acc.id.lower(), tokens), seqs


@dataclass(frozen=True)
class SizingInput:
    """One serving configuration to size."""

    architecture: Architecture
    accelerator: Accelerator
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    gpus: int | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    dtype: str = "auto"
    kv_cache_dtype: str = "auto"
    quantization: str | None = None
    gpu_memory_utilization: float = 0.9
    enforce_eager: bool = False
    max_num_batched_tokens: int | None = None
    block_size: int = 16


@dataclass(frozen=True)
class Estimate:
    """What the estimator found, per GPU unless named per replica, with its assumptions."""

    inputs: SizingInput
    act_dtype: str
    weight_format: str
    kv_dtype_bytes: float
    weights_gib: float
    activation_gib: float
    non_torch_gib: float
    cuda_graphs_gib: float
    budget_gib: float
    kv_available_gib: float
    kv_bytes_per_token: int
    kv_bytes_per_sequence: int
    kv_tokens: int
    max_concurrency: float
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    problems: tuple[str, ...]
    assumptions: tuple[str, ...]
    cheaper: tuple[str, float, float] | None = None  # (gpu id, price difference/h, its conc.)
    notes: tuple[str, ...] = field(default=())

    @property
    def weights_fit(self) -> bool:
        used = self.weights_gib + self.activation_gib + self.non_torch_gib + self.cuda_graphs_gib
        return used <= self.budget_gib

    @property
    def fits(self) -> bool:
        """True when vLLM starts: weights fit and one max_model_len sequence fits the KV cache."""
        return self.weights_fit and self.kv_available_gib * GIB >= self.kv_bytes_per_sequence

    @property
    def margin_gib(self) -> float:
        return self.kv_available_gib - self.kv_bytes_per_sequence / GIB

    def to_json(self) -> dict[str, Any]:
        i = self.inputs
        return {
            "model": i.architecture.id,
            "gpu": i.accelerator.id,
            "gpus_per_replica": i.tensor_parallel * i.pipeline_parallel,
            "tensor_parallel_size": i.tensor_parallel,
            "pipeline_parallel_size": i.pipeline_parallel,
            "dtype": self.act_dtype,
            "weight_format": self.weight_format,
            "kv_cache_dtype": i.kv_cache_dtype,
            "max_model_len": self.max_model_len,
            "max_num_seqs": self.max_num_seqs,
            "gpu_memory_utilization": i.gpu_memory_utilization,
            "per_gpu": {
                "usable_gib": i.accelerator.usable_gib,
                "budget_gib": round(self.budget_gib, 2),
                "weights_gib": round(self.weights_gib, 2),
                "activation_gib": round(self.activation_gib, 2),
                "non_torch_gib": round(self.non_torch_gib, 2),
                "cuda_graphs_gib": round(self.cuda_graphs_gib, 2),
                "kv_cache_gib": round(self.kv_available_gib, 2),
                "kv_bytes_per_token": self.kv_bytes_per_token,
            },
            "fits": self.fits,
            "weights_fit": self.weights_fit,
            "margin_gib": round(self.margin_gib, 2),
            "kv_cache_tokens": self.kv_tokens,
            "max_concurrency_at_max_model_len": round(self.max_concurrency, 2),
            "serves_max_num_seqs": self.max_concurrency >= self.max_num_seqs,
            "cheaper_gpu": (
                {
                    "gpu": self.cheaper[0],
                    "saves_usd_per_hour": round(self.cheaper[1], 2),
                    "max_concurrency": round(self.cheaper[2], 2),
                }
                if self.cheaper
                else None
            ),
            "problems": list(self.problems),
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
        }


def kv_dtype_bytes(kv_cache_dtype: str, act_dtype: str) -> float:
    """Bytes per cached element for vLLM's --kv-cache-dtype."""
    value = kv_cache_dtype.lower()
    if value == "auto":
        return DTYPE_BYTES.get(act_dtype, 2)
    if value in DTYPE_BYTES:
        return DTYPE_BYTES[value]
    if value.startswith(("fp8", "int8")):
        return 1
    raise ValueError(f"unsupported --kv-cache-dtype {kv_cache_dtype!r}")


def kv_heads_per_gpu(arch: Architecture, tp: int) -> int:
    """KV heads one GPU holds: split by TP, replicated when TP exceeds the KV heads."""
    return max(1, arch.num_key_value_heads // tp)


def kv_bytes_per_token_per_layer(
    arch: Architecture, kv_cache_dtype: str = "auto", tp: int = 1, act_dtype: str = "bfloat16"
) -> int:
    """The KV bytes one token takes in one attention layer on one GPU (vLLM's page / block)."""
    if arch.kind == "encoder":
        return 0
    value = kv_cache_dtype.lower()
    if arch.mla:
        if value == "fp8_ds_mla":
            return 656
        width = (arch.kv_lora_rank or 0) + (arch.qk_rope_head_dim or 0)
        return int(width * kv_dtype_bytes(kv_cache_dtype, act_dtype))
    heads = kv_heads_per_gpu(arch, tp)
    size = 2 * heads * arch.head_dim * kv_dtype_bytes(kv_cache_dtype, act_dtype)
    if value in {"int8_per_token_head", "fp8_per_token_head"}:
        size += 2 * heads * 4
    return int(size)


def kv_bytes_per_token(
    arch: Architecture, kv_cache_dtype: str = "auto", tp: int = 1, pp: int = 1
) -> int:
    """KV bytes per token on the busiest GPU when every layer keeps every token."""
    layers = math.ceil(arch.num_hidden_layers / pp)
    act = arch.torch_dtype if arch.torch_dtype != "float32" else "float16"
    return layers * kv_bytes_per_token_per_layer(arch, kv_cache_dtype, tp, act)


def _act_dtype(arch: Architecture, dtype: str, acc: Accelerator) -> str:
    value = dtype.lower()
    if value in {"auto", ""}:
        native = arch.torch_dtype
        if native == "float32":
            native = "float16" if not acc.supports("bf16") else "bfloat16"
        if native == "bfloat16" and not acc.supports("bf16"):
            return "float16"
        return native
    return {"half": "float16", "float": "float32", "bf16": "bfloat16", "fp16": "float16"}.get(
        value, value
    )


def weight_format(
    arch: Architecture, act_dtype: str, quantization: str | None, from_name: str | None
) -> str:
    """Which weight format applies: --quantization, then the name, then the checkpoint."""
    if quantization and quantization.lower() in QUANTIZATION_FORMATS:
        declared = QUANTIZATION_FORMATS[quantization.lower()]
        # --quantization fp8 on a partly quantized FP8 checkpoint keeps the checkpoint's layers.
        return from_name if declared == "fp8" and from_name == "fp8-mixed" else declared
    if from_name:
        return from_name
    if arch.checkpoint_quantization in WEIGHT_FORMATS:
        return str(arch.checkpoint_quantization)
    return act_dtype


def _high_precision_params(arch: Architecture, fmt: str) -> int:
    """Parameters outside the embeddings that a partly quantized checkpoint keeps unquantized.

    fp8-mixed (Meta's FP8 Llama checkpoints, fbgemm_fp8): attention of every layer and the MLP
    of the first and last layer stay bf16, as Meta's reference loader quantizes only the MLPs
    of the layers in between.
    """
    if fmt != "fp8-mixed":
        return 0
    h, d = arch.hidden_size, arch.head_dim
    attention = h * (arch.num_attention_heads + 2 * arch.num_key_value_heads) * d
    attention += arch.num_attention_heads * d * h
    mlp = 3 * h * (arch.intermediate_size or 4 * h)
    return attention * arch.num_hidden_layers + 2 * mlp


def profile_activation_bytes(arch: Architecture, tp: int, batched: int, act_bytes: int) -> int:
    """Activation peak of vLLM's profiling forward pass over `batched` tokens (no sampler).

    Hidden state and residual, the QKV projection split over TP, and the MLP: a dense gated MLP
    holds 2 x intermediate / TP per token; a mixture-of-experts layer holds the fused-MoE
    workspaces of vLLM 0.32's Triton experts kernel (TritonExperts.workspace_shapes), each
    token x experts per token x max(N, hidden) with N = 2 x expert intermediate / TP: the
    buffers are at least `hidden` wide whatever the TP.
    """
    h = arch.hidden_size
    qkv = (arch.num_attention_heads + 2 * arch.num_key_value_heads) * arch.head_dim
    mlp: float
    if arch.moe_experts and arch.moe_per_token:
        n = 2 * (arch.expert_intermediate_size // tp)
        mlp = arch.moe_per_token * (max(n // 2, h) + max(n, h))
    else:
        mlp = 2 * (arch.intermediate_size or 4 * h) / tp
    return int(batched * (2 * h + qkv / tp + mlp) * act_bytes)


def _per_sequence_bytes(
    arch: Architecture, layer_bytes: int, pp: int, length: int, block: int, batched: int
) -> int:
    local = math.ceil(arch.local_layers / pp)
    full = math.ceil((arch.num_hidden_layers - arch.local_layers) / pp)
    total = math.ceil(length / block) * block * layer_bytes * full
    if local and arch.sliding_window:
        if arch.local_attention == "chunked":
            kept = min(arch.sliding_window + batched, length)
            total += math.ceil(kept / block) * block * layer_bytes * local
        else:
            kept = min(arch.sliding_window - 1 + batched, length)
            total += (math.ceil(kept / block) + 1) * block * layer_bytes * local
    return total


def estimate(
    request: SizingInput,
    *,
    name_quantization: str | None = None,
    catalog: GpuCatalog | None = None,
    search_cheaper: bool = True,
) -> Estimate:
    """Size one configuration; with search_cheaper, also the cheapest tier that serves it."""
    arch, acc = request.architecture, request.accelerator
    tp, pp = request.tensor_parallel, request.pipeline_parallel
    default_batched, default_seqs = vllm_batch_defaults(acc)
    act = _act_dtype(arch, request.dtype, acc)
    act_bytes = DTYPE_BYTES.get(act, 2)
    fmt = weight_format(arch, act, request.quantization, name_quantization)
    if fmt not in WEIGHT_FORMATS:
        fmt = act
    kvb = kv_dtype_bytes(request.kv_cache_dtype, act)
    max_len = request.max_model_len or arch.max_position_embeddings or 4096
    seqs = request.max_num_seqs or default_seqs
    batched = request.max_num_batched_tokens or default_batched
    problems: list[str] = []
    if arch.num_attention_heads % tp:
        problems.append(
            f"tensor parallel size {tp} does not divide the {arch.num_attention_heads} "
            "attention heads"
        )
    kv = arch.num_key_value_heads
    if not arch.mla and tp > 1 and kv % tp and tp % kv:
        problems.append(
            f"tensor parallel size {tp} and the {kv} KV heads do not divide one another"
        )
    if act == "bfloat16" and not acc.supports("bf16"):
        problems.append(f"{acc.id} has no bfloat16 support")
    if fmt in FP8_FORMATS and not (acc.supports("fp8") or acc.supports("fp8-weight-only")):
        problems.append(f"{acc.id} cannot run FP8 weights")
    # Weights: quantized linear layers, embeddings and output head at the activation dtype.
    emb = min(arch.embedding_params, arch.total_params)
    body = arch.total_params - emb
    high = min(_high_precision_params(arch, fmt), body)
    emb_bytes = emb * (act_bytes if fmt not in {"float32"} else 4)
    if pp > 1:
        emb_bytes = arch.vocab_size * arch.hidden_size * act_bytes
    body_bytes = (body - high) * WEIGHT_FORMATS[fmt] + high * act_bytes
    weights = (body_bytes / (tp * pp) + emb_bytes / tp) / GIB
    # Activations of the profiling run (see profile_activation_bytes) and sampler logits.
    activation = profile_activation_bytes(arch, tp, batched, act_bytes) / GIB
    if arch.kind != "encoder":
        activation += seqs * arch.vocab_size * 4 / GIB
    non_torch = NON_TORCH_GIB + (NON_TORCH_MULTI_GPU_GIB if tp * pp > 1 else 0.0)
    graphs = 0.0 if request.enforce_eager or arch.kind == "encoder" else CUDA_GRAPHS_GIB
    budget = acc.usable_gib * request.gpu_memory_utilization
    kv_free = budget - weights - activation - non_torch - graphs
    layer_bytes = kv_bytes_per_token_per_layer(arch, request.kv_cache_dtype, tp, act)
    layers = math.ceil(arch.num_hidden_layers / pp)
    per_token_bytes = layer_bytes * layers
    block = request.block_size
    per_seq = _per_sequence_bytes(arch, layer_bytes, pp, max_len, block, batched)
    free_bytes = max(kv_free, 0.0) * GIB
    if per_token_bytes == 0:
        tokens, concurrency = 0, float("inf") if kv_free > 0 else 0.0
    elif arch.local_layers:
        concurrency = free_bytes / per_seq
        tokens = int(concurrency * max_len)
    else:
        blocks = int(free_bytes // (block * per_token_bytes))
        tokens = blocks * block
        concurrency = blocks / math.ceil(max_len / block)
    assumptions = (
        f"usable memory {acc.usable_gib} GiB per {acc.id} (what CUDA reports), "
        f"x gpu_memory_utilization {request.gpu_memory_utilization}",
        f"weights: {fmt} linear layers ({WEIGHT_FORMATS[fmt]:.3f} B/param incl. scales), "
        + (f"attention and first/last MLP at {act}, " if high else "")
        + f"embeddings/head at {act}, split over TP {tp} x PP {pp}",
        f"activation peak of a {batched}-token profiling batch"
        + (" incl. fused-MoE workspaces" if arch.moe_experts else "")
        + f" plus {seqs} x vocab fp32 logits",
        f"non-torch memory {non_torch} GiB, CUDA graphs {graphs} GiB",
        f"KV {kvb:g} B/element, block size {block}; "
        + (
            f"{arch.local_layers} {arch.local_attention}-window layers keep "
            f"{arch.sliding_window} tokens + one batch"
            if arch.local_layers
            else "every layer keeps every token"
        ),
    )
    notes: list[str] = []
    if arch.params_estimated:
        notes.append("parameter count computed from config.json shapes (approximate)")
    if arch.kind == "encoder":
        notes.append("encoder-only model: no KV cache")
    result = Estimate(
        inputs=request,
        act_dtype=act,
        weight_format=fmt,
        kv_dtype_bytes=kvb,
        weights_gib=weights,
        activation_gib=activation,
        non_torch_gib=non_torch,
        cuda_graphs_gib=graphs,
        budget_gib=budget,
        kv_available_gib=kv_free,
        kv_bytes_per_token=per_token_bytes,
        kv_bytes_per_sequence=per_seq,
        kv_tokens=tokens,
        max_concurrency=concurrency,
        max_model_len=max_len,
        max_num_seqs=seqs,
        max_num_batched_tokens=batched,
        problems=tuple(problems),
        assumptions=assumptions,
        notes=tuple(notes),
    )
    if search_cheaper:
        need = request.max_num_seqs or 1
        found = cheapest_tier(request, need, name_quantization, catalog, base=result)
        if found is not None and found[0].id != acc.id and acc.price_low is not None:
            gpus = tp * pp
            saving = (acc.price_low - (found[0].price_low or 0.0)) * gpus
            if saving > 0:
                result = replace(result, cheaper=(found[0].id, saving, found[1].max_concurrency))
    return result


def _by_price(catalog: GpuCatalog, vendor: str) -> tuple[Accelerator, ...]:
    """The vendor's priced accelerators, cheapest first, then least memory, then catalog order."""
    if catalog is builtin_gpu_catalog():
        return _builtin_by_price(vendor)
    priced = [a for a in catalog.accelerators if a.price_low is not None and a.vendor == vendor]
    return tuple(sorted(priced, key=lambda a: (a.price_low or 0.0, a.usable_gib)))


@cache
def _builtin_by_price(vendor: str) -> tuple[Accelerator, ...]:
    catalog = builtin_gpu_catalog()
    priced = [a for a in catalog.accelerators if a.price_low is not None and a.vendor == vendor]
    return tuple(sorted(priced, key=lambda a: (a.price_low or 0.0, a.usable_gib)))


def _cannot_serve(acc: Accelerator, request: SizingInput, base: Estimate, need: int) -> bool:
    """True when `acc` surely fails: weights and KV bytes per sequence do not depend on the GPU."""
    free = (acc.usable_gib * request.gpu_memory_utilization - base.weights_gib) * GIB
    if free < 0:
        return True
    per_seq = base.kv_bytes_per_sequence
    local = request.architecture.local_layers  # their per-sequence bytes depend on the GPU
    return not local and per_seq > 0 and free < max(need, 1) * per_seq


def cheapest_tier(
    request: SizingInput,
    need: int,
    name_quantization: str | None = None,
    catalog: GpuCatalog | None = None,
    base: Estimate | None = None,
) -> tuple[Accelerator, Estimate] | None:
    """The same-vendor accelerator with the lowest reference price that serves `need` sequences.

    `base` is the estimate of `request` itself when the caller has it already.
    """
    catalog = catalog or builtin_gpu_catalog()
    if base is None:
        base = estimate(
            request, name_quantization=name_quantization, catalog=catalog, search_cheaper=False
        )
    for acc in _by_price(catalog, request.accelerator.vendor):
        if _cannot_serve(acc, request, base, need):
            continue
        trial = estimate(
            replace(request, accelerator=acc),
            name_quantization=name_quantization,
            catalog=catalog,
            search_cheaper=False,
        )
        if not trial.problems and trial.fits and trial.max_concurrency >= need:
            return acc, trial
    return None


def smallest_tp(
    request: SizingInput, need: int, name_quantization: str | None = None
) -> int | None:
    """The smallest valid tensor-parallel size (a divisor of the current) that serves `need`."""
    for tp in range(1, request.tensor_parallel + 1):
        if request.tensor_parallel % tp:
            continue
        trial = estimate(
            replace(request, tensor_parallel=tp),
            name_quantization=name_quantization,
            search_cheaper=False,
        )
        if not trial.problems and trial.fits and trial.max_concurrency >= need:
            return tp
    return None
