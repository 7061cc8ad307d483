"""The scanner: inputs -> documents -> Kubernetes objects -> pod templates -> workload facts."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from piqc_advisor.collectors import sharding
from piqc_advisor.collectors.inputs import InputFile, Planned, plan, read_planned
from piqc_advisor.collectors.kubernetes.crds import CRD_ADAPTERS
from piqc_advisor.collectors.kubernetes.objects import (
    PASSIVE_KINDS,
    K8sObject,
    objects_from_documents,
)
from piqc_advisor.collectors.kubernetes.relations import RelatedIndex
from piqc_advisor.collectors.kubernetes.templates import (
    CORE_ADAPTERS,
    AdapterContext,
    PodTemplate,
    generic_templates,
)
from piqc_advisor.collectors.kubernetes.workloads import (
    build_workloads,
    id_in_file,
    repeated_ids,
    unique_ids,
)
from piqc_advisor.collectors.tree import NodeContext
from piqc_advisor.collectors.yaml_source import Document, Problem
from piqc_advisor.evaluation.waivers import Waiver, WaiverNote, inline_waivers
from piqc_advisor.facts.store import FactStore
from piqc_advisor.facts.workload import Workload
from piqc_advisor.json_text import json_bytes

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
        "ResourceClaimTemplate",
        "ResourceClaim",
    }
)
# Kinds that workloads of other files may need: related objects and what adapters look up.
SHARED_KINDS: frozenset[str] = RELATED_KINDS | {
    "ServingRuntime",
    "ClusterServingRuntime",
    "OpenModel",
}
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024


def scan(
    paths: Sequence[str],
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
) -> FactStore:
    """Read every input and return the facts; unreadable parts become problems, never errors.

    Large inputs are split into contiguous shards of files scanned by forked processes
    (`workers`, default: the usable cores, or PIQC_WORKERS); the result is the same as a
    scan in one process (see collectors/sharding.py).

    The cyclic garbage collector is paused for the scan: everything built here is acyclic
    and lives until the scan ends, and on 10,000 files the collector's passes over the
    growing heap cost about 40% of the run (measured; see docs/benchmarks.md).
    """
    return _merge(_run(paths, max_file_bytes, workers, _finish_shard))


def scan_rendered(
    paths: Sequence[str],
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
) -> RenderedFacts:
    """Like `scan`, with each workload already written as compact JSON by its shard.

    For `facts --format json`: the processes that built the workloads also write them, in
    parallel, and send back bytes instead of objects, which are dearer to pass around than
    to write. The facts' `workloads` stay empty; `workload_json` holds them in order.
    """
    results = _run(paths, max_file_bytes, workers, _finish_and_render)
    entries = sorted((entry for r in results for entry in r.rendered), key=lambda e: e[:3])
    repeated = repeated_ids(workload_id for _, _, workload_id, _ in entries)
    written: list[bytes] = []
    for path, _, workload_id, text in entries:
        if workload_id in repeated:  # as unique_ids does: the file joins the id
            data = json.loads(text)
            data["id"] = id_in_file(workload_id, path)
            text = json_bytes(data)
        written.append(text)
    store = _merge(results)
    return RenderedFacts(store, tuple(written))


@dataclass(frozen=True)
class RenderedFacts:
    """Facts whose workloads are already JSON text (see `scan_rendered`)."""

    store: FactStore
    workload_json: tuple[bytes, ...]

    def to_json_bytes(self) -> bytes:
        """The same compact text as `dump_json_for` writes for `store.to_json()` to a pipe."""
        data = self.store.to_json()
        data["workloads"] = [orjson.Fragment(text) for text in self.workload_json]
        return orjson.dumps(data) + b"\n"


def _run(
    paths: Sequence[str],
    max_file_bytes: int,
    workers: int | None,
    finish: Callable[[ShardState, Sequence[Sequence[K8sObject] | None]], Any],
) -> list[Any]:
    """Each shard's finished result, in shard order (one shard when not worth forking)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        items = list(plan(paths, max_file_bytes))
        shards = sharding.split(items, sharding.worker_count(workers))
        results = sharding.run_shards(
            shards, lambda shard: _read_shard(shard, max_file_bytes), _shared_objects, finish
        )
        if results is None:
            results = [finish(_read_shard(items, max_file_bytes), [])]
        return results
    finally:
        if collecting:
            gc.enable()


@dataclass
class ShardState:
    """One shard after reading: its documents' objects and what was found on the way."""

    objects: list[K8sObject]
    contexts: list[NodeContext]
    problems: list[Problem]
    inputs: list[str]
    waivers: list[Waiver] = field(default_factory=list)
    notes: list[WaiverNote] = field(default_factory=list)


@dataclass
class ShardResult:
    """One shard's facts, before the shards are merged."""

    workloads: list[Workload]
    problems: list[Problem]
    inputs: list[str]
    objects: int
    not_understood: list[str]
    waivers: list[Waiver]
    notes: list[WaiverNote]
    # (path, line, id, JSON text) of each workload, when the shard wrote them itself.
    rendered: list[tuple[str, int, str, bytes]] = field(default_factory=list)


def _read_shard(items: Sequence[Planned], max_file_bytes: int) -> ShardState:
    waivers: list[Waiver] = []
    notes: list[WaiverNote] = []

    def comments(item: InputFile, found: list[Document]) -> None:
        more, trouble = inline_waivers(item.text, item.path, [d.line for d in found])
        waivers.extend(more)
        notes.extend(trouble)

    documents, problems = read_planned(items, max_file_bytes, on_file=comments)
    objects, object_problems, contexts = objects_from_documents(documents)
    inputs = sorted({d.path for d in documents})
    return ShardState(objects, contexts, [*problems, *object_problems], inputs, waivers, notes)


def _shared_objects(state: ShardState) -> list[K8sObject]:
    return [obj for obj in state.objects if obj.kind in SHARED_KINDS]


def _finish_shard(state: ShardState, others: Sequence[Sequence[K8sObject] | None]) -> ShardResult:
    """Workloads of this shard's objects, related to the objects of every shard.

    `others` holds the shared objects of the other shards in shard order, with this
    shard's place marked by None, so lookups see objects in input order.
    """
    if others:
        everything: list[K8sObject] = []
        for part in others:
            everything.extend(state.objects if part is None else part)
    else:
        everything = state.objects
    problems = list(state.problems)
    context = AdapterContext(everything)
    templates: list[PodTemplate] = []
    not_understood: list[str] = []
    for obj in state.objects:
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
    workloads = build_workloads(templates, RelatedIndex.build(everything), unique=False)
    # Objects of other shards were read here too; wrong types found in them are reported
    # by whichever shard met them (the merge drops repeats).
    contexts = {id(c): c for c in state.contexts}
    for part in others:
        for obj in part or ():
            contexts.setdefault(id(obj.node.context), obj.node.context)
    for ctx in contexts.values():
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
    return ShardResult(
        workloads,
        problems,
        state.inputs,
        len(state.objects),
        not_understood,
        state.waivers,
        state.notes,
    )


def _finish_and_render(
    state: ShardState, others: Sequence[Sequence[K8sObject] | None]
) -> ShardResult:
    """`_finish_shard` with each workload replaced by (path, line, id, its JSON text)."""
    result = _finish_shard(state, others)
    rendered = [
        (w.source.path, w.source.line, w.id, json_bytes(w.to_json())) for w in result.workloads
    ]
    return replace(result, workloads=[], rendered=rendered)


def _merge(results: Sequence[ShardResult]) -> FactStore:
    workloads = [w for r in results for w in r.workloads]
    workloads.sort(key=lambda w: (w.source.path, w.source.line, w.id))
    problems = [p for r in results for p in r.problems]
    problems.sort(key=lambda p: (p.path, p.line or 0, p.col or 0, p.code, p.message))
    return FactStore(
        workloads=tuple(unique_ids(workloads)),
        problems=tuple(dict.fromkeys(problems)),
        inputs=tuple(sorted({path for r in results for path in r.inputs})),
        objects=sum(r.objects for r in results),
        not_understood=tuple(key for r in results for key in r.not_understood),
        inline_waivers=tuple(w for r in results for w in r.waivers),
        waiver_notes=tuple(n for r in results for n in r.notes),
    )
