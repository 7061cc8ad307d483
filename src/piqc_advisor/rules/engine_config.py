"""Engine configuration rules: explicit dtype, context and batch limits, flags that vLLM rejects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from piqc_advisor.facts.workload import Workload
from piqc_advisor.rules.accelerators import is_follower
from piqc_advisor.rules.api import NotApplicable, Outcome, Unknown, Violation, evidence_for, rule

# Engines whose serving keys we read from flags or env; others cannot be judged on them.
CONFIGURABLE = frozenset(
    {"vllm", "sglang", "tgi", "kserve-huggingface", "trtllm", "nim", "llamacpp"}
)


def _configurable(w: Workload) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")
    elif is_follower(w):
        yield NotApplicable(f"role {w.role} takes its settings from the leader")
    elif w.engine.name not in CONFIGURABLE:
        yield Unknown(f"serving settings of {w.engine.name} are not read")


def _missing(w: Workload, key: str, flag: str, why: str) -> Iterator[Outcome]:
    yield from _configurable(w)
    if w.engine is None or is_follower(w) or w.engine.name not in CONFIGURABLE:
        return
    if w.serving.get(key) is None:
        default = w.effective.get(key)
        shown = f" (the engine then uses {default!r})" if default is not None else ""
        yield Violation(
            f"{w.engine.name} in {w.container!r} does not set {flag}{shown}: {why}", evidence_for(w)
        )


@rule("dtype-not-set", "SRV-001", "The serving precision is left to the engine's auto choice.")
def dtype_not_set(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _missing(
        w,
        "dtype",
        "--dtype",
        "the precision then follows the checkpoint config and can change between builds",
    )


@rule("max-model-len-not-set", "SRV-002", "The maximum context length is not set.")
def max_model_len_not_set(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _missing(
        w,
        "max_model_len",
        "--max-model-len",
        "the model's full context is reserved, which shrinks the KV cache or fails start-up",
    )


@rule("batching-limits-not-set", "SRV-006", "Neither max sequences nor max batched tokens is set.")
def batching_limits_not_set(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _configurable(w)
    if w.engine is None or is_follower(w) or w.engine.name not in CONFIGURABLE:
        return
    if w.serving.get("max_num_seqs") is None and w.serving.get("max_num_batched_tokens") is None:
        yield Violation(
            f"{w.engine.name} in {w.container!r} sets neither --max-num-seqs nor "
            "--max-num-batched-tokens: concurrency and latency follow engine defaults, not the SLO",
            evidence_for(w),
        )


@dataclass(frozen=True)
class MemoryFraction:
    low: float = 0.5
    """Below this most of the GPU is wasted (unless it is shared on purpose)."""
    high: float = 0.95
    """Above this, CUDA graphs, NCCL buffers and fragmentation push the GPU into OOM."""


@rule(
    "gpu-memory-utilization-extreme",
    "SRV-900",
    "The GPU memory fraction is set to an extreme value.",
    MemoryFraction(),
)
def gpu_memory_utilization_extreme(w: Workload, params: MemoryFraction) -> Iterator[Outcome]:
    declared = w.serving.get("gpu_memory_utilization")
    if declared is None:
        yield NotApplicable("gpu memory fraction not set (engine default)")
        return
    value = declared.value
    if not isinstance(value, (int, float)):
        yield Unknown(f"gpu memory fraction {value!r} is not a number")
        return
    if value > params.high:
        yield Violation(
            f"{declared.via} {value} leaves under {1 - value:.0%} of GPU memory for activations, "
            "CUDA graphs and NCCL buffers: expect out-of-memory errors under load",
            declared.origin,
        )
    elif value < params.low:
        yield Violation(
            f"{declared.via} {value} leaves {1 - value:.0%} of the GPU unused by the KV cache",
            declared.origin,
        )


@rule("engine-flag-unknown", "SRV-901", "An engine argument is unknown or abbreviated.")
def engine_flag_unknown(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")
        return
    for issue in w.arg_issues:
        if issue.kind in (
            "unknown_flag",
            "abbreviated_flag",
            "unknown_env",
            "bad_value",
            "bad_choice",
        ):
            hint = f" (did you mean {issue.suggestion}?)" if issue.suggestion else ""
            yield Violation(f"{issue.message}{hint}", issue.origin, key=issue.message)


@rule("engine-flag-deprecated", "SRV-901", "A deprecated engine argument is used.")
def engine_flag_deprecated(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")
        return
    for issue in w.arg_issues:
        if issue.kind.startswith("deprecated"):
            hint = f"; use {issue.suggestion}" if issue.suggestion else ""
            yield Violation(f"{issue.message}{hint}", issue.origin, key=issue.message)


@rule("eager-mode-enabled", "SRV-902", "CUDA graphs are disabled with --enforce-eager.")
def eager_mode_enabled(w: Workload, _: object) -> Iterator[Outcome]:
    declared = w.serving.get("enforce_eager")
    if declared is None or declared.value is not True:
        if w.engine is None:
            yield NotApplicable("no model server detected")
        return
    yield Violation(
        f"{declared.via} turns off CUDA graphs: decode is markedly slower; keep it for debugging",
        declared.origin,
    )


@rule("prefix-caching-disabled", "SRV-500", "Prefix caching is turned off.")
def prefix_caching_disabled(w: Workload, _: object) -> Iterator[Outcome]:
    declared = w.serving.get("enable_prefix_caching")
    if declared is None or declared.value is not False:
        if w.engine is None:
            yield NotApplicable("no model server detected")
        return
    yield Violation(
        f"{declared.via} disables prefix caching: chat turns and shared system prompts are "
        "recomputed on every request",
        declared.origin,
    )


_QUANT_NAMES = {
    "awq": re.compile(r"awq", re.I),
    "gptq": re.compile(r"gptq", re.I),
    "fp8": re.compile(r"fp8", re.I),
    "bitsandbytes": re.compile(r"bnb|bitsandbytes|4bit", re.I),
    "gguf": re.compile(r"gguf", re.I),
}


@rule(
    "quantization-checkpoint-mismatch",
    "SRV-903",
    "The quantization flag contradicts the checkpoint's name.",
)
def quantization_checkpoint_mismatch(w: Workload, _: object) -> Iterator[Outcome]:
    model = w.serving.get("model")
    if w.engine is None or model is None:
        yield NotApplicable("no model reference")
        return
    name = str(model.value)
    flag = w.serving.get("quantization")
    named = [q for q, pattern in _QUANT_NAMES.items() if pattern.search(name)]
    if flag is None:
        return
    value = str(flag.value).lower()
    if named and not any(value.startswith(q) or q.startswith(value) for q in named):
        yield Violation(
            f"{flag.via} {flag.value} but the checkpoint {name!r} looks {named[0].upper()}-"
            "quantized: the weights will not load, or load wrongly",
            flag.origin,
        )


@rule("served-model-name-missing", "SRV-904", "Clients must call the model by its storage path.")
def served_model_name_missing(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _configurable(w)
    if w.engine is None or is_follower(w) or w.engine.name not in CONFIGURABLE:
        return
    model = w.serving.get("model")
    if w.serving.get("served_model_name") is None and model is not None:
        yield Violation(
            f"no --served-model-name: clients must send model={str(model.value)!r}, so a "
            "revision or path change breaks every caller",
            model.origin,
        )
