"""The scanner: inputs -> documents -> Kubernetes objects -> pod templates -> workload facts."""

from __future__ import annotations

import gc
from collections.abc import Sequence

from piqc_advisor.collectors.inputs import InputFile, read_all
from piqc_advisor.collectors.kubernetes.crds import CRD_ADAPTERS
from piqc_advisor.collectors.kubernetes.objects import PASSIVE_KINDS, objects_from_documents
from piqc_advisor.collectors.kubernetes.relations import RelatedIndex
from piqc_advisor.collectors.kubernetes.templates import (
    CORE_ADAPTERS,
    AdapterContext,
    PodTemplate,
    generic_templates,
)
from piqc_advisor.collectors.kubernetes.workloads import build_workloads
from piqc_advisor.collectors.yaml_source import Document, Problem
from piqc_advisor.evaluation.waivers import Waiver, WaiverNote, inline_waivers
from piqc_advisor.facts.store import FactStore

ADAPTERS = {**CORE_ADAPTERS, **CRD_ADAPTERS}
RELATED_KINDS: frozenset[str] = frozenset(
    {
        "Service",
        "Ingress",
        "HTTPRoute",
        "InferencePool",
        "HorizontalPodAutoscaler",
        "PodAutoscaler",
        "ScaledObject",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "CiliumNetworkPolicy",
        "ServiceMonitor",
        "PodMonitor",
        "PodMonitoring",
        "ClusterPodMonitoring",
        "ConfigMap",
        "PersistentVolumeClaim",
        "PriorityClass",
    }
)
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024


def scan(paths: Sequence[str], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> FactStore:
    """Read every input and return the facts; unreadable parts become problems, never errors.

    The cyclic garbage collector is paused for the scan: everything built here is acyclic
    and lives until the scan ends, and on 10,000 files the collector's passes over the
    growing heap cost about 40% of the run (measured; see docs/benchmarks.md).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _scan(paths, max_file_bytes)
    finally:
        if collecting:
            gc.enable()


def _scan(paths: Sequence[str], max_file_bytes: int) -> FactStore:
    waivers: list[Waiver] = []
    notes: list[WaiverNote] = []

    def comments(item: InputFile, found: list[Document]) -> None:
        more, trouble = inline_waivers(item.text, item.path, [d.line for d in found])
        waivers.extend(more)
        notes.extend(trouble)

    documents, problems = read_all(paths, max_file_bytes=max_file_bytes, on_file=comments)
    objects, object_problems, contexts = objects_from_documents(documents)
    problems = [*problems, *object_problems]
    context = AdapterContext(objects)
    templates: list[PodTemplate] = []
    not_understood: list[str] = []
    for obj in objects:
        adapter = ADAPTERS.get(obj.kind)
        if adapter is None:
            if obj.kind in RELATED_KINDS or obj.kind in PASSIVE_KINDS:
                continue
            found = generic_templates(obj)
            templates += found
            not_understood.append(obj.key)
            detail = f"; {len(found)} pod template(s) inside were analysed" if found else ""
            problems.append(
                Problem(
                    obj.origin.path,
                    obj.origin.line,
                    None,
                    "warning",
                    "not-understood",
                    f"{obj.api_version} {obj.kind} {obj.name!r} is not understood{detail}",
                )
            )
            continue
        try:
            templates += adapter(obj, context)
        except Exception as exc:
            problems.append(
                Problem(
                    obj.origin.path,
                    obj.origin.line,
                    None,
                    "error",
                    "reader-crash",
                    f"could not read {obj.kind} {obj.name!r}: {type(exc).__name__}: {exc}",
                )
            )
    workloads = build_workloads(templates, RelatedIndex.build(objects))
    for ctx in contexts:
        for issue in ctx.issues:
            problems.append(
                Problem(
                    issue.origin.path,
                    issue.origin.line,
                    issue.origin.col,
                    "error",
                    "wrong-type",
                    issue.message,
                )
            )
    problems.sort(key=lambda p: (p.path, p.line or 0, p.col or 0, p.code, p.message))
    inputs = sorted({d.path for d in documents})
    return FactStore(
        workloads=tuple(workloads),
        problems=tuple(dict.fromkeys(problems)),
        inputs=tuple(inputs),
        objects=len(objects),
        not_understood=tuple(not_understood),
        inline_waivers=tuple(waivers),
        waiver_notes=tuple(notes),
    )
