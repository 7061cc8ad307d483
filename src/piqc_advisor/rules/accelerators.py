"""Accelerator rules: GPU requests, limits, parallelism vs GPUs, placement, /dev/shm."""

from __future__ import annotations

from collections.abc import Iterator

from piqc_advisor.facts.workload import Workload
from piqc_advisor.rules.api import NotApplicable, Outcome, Unknown, Violation, evidence_for, rule

# Engines that can serve on CPU as a matter of course: no GPU is not an error for them.
CPU_CAPABLE = frozenset({"ollama", "llamacpp", "tei"})


def is_follower(w: Workload) -> bool:
    """Workers of a multi-node group (LWS, KServe, Ray) take their settings from the leader."""
    role = w.role or ""
    return role.endswith("worker") or role == "head"


def _gpu_engine(w: Workload) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")
    elif w.engine.name in CPU_CAPABLE and w.accelerator is None:
        yield NotApplicable(f"{w.engine.name} can serve on CPU")


def _int(w: Workload, key: str) -> int | None:
    declared = w.serving.get(key)
    value = declared.value if declared is not None else w.effective.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@rule("gpu-request-missing", "K8S-002", "A GPU model server requests no accelerator.")
def gpu_request_missing(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _gpu_engine(w)
    if (
        w.engine is not None
        and w.engine.name not in CPU_CAPABLE
        and w.accelerator is None
        and not w.device_claims  # devices claimed through Dynamic Resource Allocation
    ):
        yield Violation(
            f"container {w.container!r} runs {w.engine.name} but requests no nvidia.com/gpu (or "
            "other accelerator); it is scheduled anywhere and fails or runs on CPU",
            evidence_for(w),
        )


@rule("gpu-request-limit-mismatch", "K8S-002", "GPU requests and limits differ.")
def gpu_request_limit_mismatch(w: Workload, _: object) -> Iterator[Outcome]:
    accelerator = w.accelerator
    if accelerator is None:
        yield NotApplicable("no accelerator requested")
        return
    if (
        accelerator.request is not None
        and accelerator.limit is not None
        and accelerator.request != accelerator.limit
    ):
        yield Violation(
            f"{accelerator.resource} request {accelerator.request} differs from limit "
            f"{accelerator.limit}; extended resources must be equal (the API server rejects it)",
            accelerator.origin,
        )


@rule(
    "parallelism-gpu-mismatch",
    "K8S-002",
    "tensor x pipeline parallel size differs from the GPUs of one replica.",
)
def parallelism_gpu_mismatch(w: Workload, _: object) -> Iterator[Outcome]:
    gate = list(_gpu_engine(w))
    if gate or w.engine is None:
        yield from gate
        return
    if is_follower(w):
        yield NotApplicable(f"role {w.role} follows its leader's settings")
        return
    tp = _int(w, "tensor_parallel_size")
    pp = _int(w, "pipeline_parallel_size") or 1
    dp = 1
    if w.serving.get("data_parallel_size") is not None:
        dp = _int(w, "data_parallel_size") or 1
    if tp is None or w.gpus_per_replica is None:
        yield Unknown("tensor parallel size or GPU count unknown")
        return
    needed = tp * pp * dp
    if needed != w.gpus_per_replica:
        declared = w.serving.get("tensor_parallel_size") or w.serving.get("pipeline_parallel_size")
        where = declared.origin if declared is not None else evidence_for(w)
        group = " across the group" if w.pods_per_replica > 1 else ""
        yield Violation(
            f"{w.engine.name} needs tensor x pipeline{' x data' if dp > 1 else ''} parallel = "
            f"{tp} x {pp}{f' x {dp}' if dp > 1 else ''} = {needed} GPUs but one replica has "
            f"{w.gpus_per_replica}{group}: "
            + ("start-up fails" if needed > w.gpus_per_replica else "GPUs sit idle"),
            where,
        )


@rule(
    "gpu-count-not-multiple-of-tp",
    "GPU-003",
    "The GPU count is not a multiple of tensor parallelism.",
)
def gpu_count_not_multiple_of_tp(w: Workload, _: object) -> Iterator[Outcome]:
    gate = list(_gpu_engine(w))
    if gate:
        yield from gate
        return
    tp = _int(w, "tensor_parallel_size")
    accelerator = w.accelerator
    if tp is None or accelerator is None or accelerator.count == 0:
        yield Unknown("tensor parallel size or GPU count unknown")
        return
    if w.pods_per_replica == 1 and accelerator.count % tp != 0:
        yield Violation(
            f"{accelerator.count} GPUs per pod cannot be split into tensor-parallel groups of {tp}",
            accelerator.origin,
        )


@rule(
    "gpu-placement-missing",
    "K8S-001",
    "A GPU workload has no node selector, GPU affinity or GPU toleration.",
)
def gpu_placement_missing(w: Workload, _: object) -> Iterator[Outcome]:
    if w.accelerator is None:
        yield NotApplicable("no accelerator requested")
        return
    placement = w.placement
    if placement.node_selector or placement.gpu_affinity_labels or placement.tolerations:
        return
    yield Violation(
        f"pods of {w.name} ask for {w.accelerator.resource} but name no GPU node pool "
        "(nodeSelector, node affinity or a GPU toleration): the GPU type is left to chance",
        placement.origin,
    )


@rule(
    "shm-missing-for-multi-gpu",
    "K8S-008",
    "Tensor or pipeline parallelism without a memory-backed /dev/shm.",
)
def shm_missing_for_multi_gpu(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _gpu_engine(w)
    if w.engine is None:
        return
    tp = _int(w, "tensor_parallel_size") or 1
    pp = _int(w, "pipeline_parallel_size") or 1
    gpus = w.accelerator.count if w.accelerator is not None else 1
    if tp * pp <= 1 and gpus <= 1:
        yield NotApplicable("single GPU: no inter-process tensor exchange")
        return
    shm = w.shm_volume
    if shm is None:
        workers = max(tp * pp, gpus)
        yield Violation(
            f"{w.engine.name} runs {workers} GPU workers in {w.container!r} but /dev/shm is "
            "the container default (64 MiB); NCCL fails or stalls without an emptyDir with "
            "medium: Memory mounted there",
            evidence_for(w),
        )
    elif not shm.memory_backed:
        yield Violation(
            f"/dev/shm of {w.container!r} is volume {shm.volume!r} without medium: Memory",
            shm.origin,
        )
