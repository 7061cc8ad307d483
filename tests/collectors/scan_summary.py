"""A compact, comparable summary of a Workload for exact assertions in scanner tests."""

from __future__ import annotations

from typing import Any

from piqc_advisor.facts.workload import Workload


def summary(w: Workload) -> dict[str, Any]:
    return {
        "id": w.id,
        "engine": (w.engine.name, w.engine.version) if w.engine else None,
        "serving": {
            k: (v.value, v.via, v.origin.line) for k, v in w.serving.items() if v is not None
        },
        "gpus": w.gpus_per_replica,
        "accel": (
            (
                w.accelerator.resource,
                w.accelerator.count,
                w.accelerator.type,
                w.accelerator.origin.line,
            )
            if w.accelerator
            else None
        ),
        "replicas": (w.replicas.value, w.replicas.origin.line) if w.replicas else None,
        "probes": {
            k: (p.kind, p.path, p.budget_seconds, p.origin.line) for k, p in w.probes.items() if p
        },
        "image": (w.image.tag, w.image.pinned, w.image.origin.line) if w.image else None,
        "shm": (w.shm_volume.memory_backed, w.shm_volume.origin.line) if w.shm_volume else None,
        "hf_token": (w.hf_token.source, w.hf_token.origin.line) if w.hf_token else None,
        "storage": w.model_storage.kind,
        "related": sorted(f"{r.kind}/{r.name}" for r in w.related),
        "issues": [(i.kind, i.suggestion, i.origin.line) for i in w.arg_issues],
    }
