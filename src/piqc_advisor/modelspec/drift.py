"""Compare a ModelSpec with the workloads that run it: field by field, evidence on both sides."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from piqc_advisor.facts.origin import Declared, Origin
from piqc_advisor.facts.workload import Workload
from piqc_advisor.findings import Finding, RuleOutcome
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.modelspec.checks import PRECISIONS
from piqc_advisor.modelspec.facts import DeclaredSpec
from piqc_advisor.modelspec.generate import cpu_cores, normalise_type, quantity_bytes, vendor_of

DRIFT_RULE = "modelspec-drift"
DRIFT_ITEM = "SRV-017"
SPEC_ANNOTATION = "piqc.ai/modelspec"
NAME_LABELS = ("app.kubernetes.io/name", "app", "piqc.ai/model")
DriftStatus = Literal["match", "drift", "absent"]
_MEMORY_TOLERANCE = 0.08


@dataclass(frozen=True)
class Link:
    spec: DeclaredSpec
    workload: Workload
    via: str


@dataclass(frozen=True)
class DiffEntry:
    """One field: what the spec declares, what the manifests say, and where each is written."""

    field: str
    expected: Any
    actual: Any
    status: DriftStatus
    spec_origin: Origin
    manifest_origin: Origin | None
    manifest_via: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
            "status": self.status,
            "spec": self.spec_origin.to_json(),
            "manifest": self.manifest_origin.to_json() if self.manifest_origin else None,
            "manifest_via": self.manifest_via,
        }


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normpath(a) == os.path.normpath(b)


def link_reason(spec: DeclaredSpec, workload: Workload) -> str | None:
    """How a spec names a workload: annotation, name or label; None when it does not."""
    ref = workload.annotations.get(SPEC_ANNOTATION)
    if ref:
        base = os.path.dirname(workload.source.path) or "."
        if _same_file(os.path.join(base, ref), spec.path) or _same_file(ref, spec.path):
            return f"annotation {SPEC_ANNOTATION}: {ref}"
    name = spec.name.value if spec.name is not None else None
    if name is not None and name == workload.name:
        return "name"
    for label in NAME_LABELS:
        wanted = spec.labels.get(label)
        if wanted is None:
            continue
        have = workload.labels.get(label) or workload.pod_labels.get(label)
        if have == wanted.value:
            return f"label {label}={have}"
    return None


def link_specs(specs: Sequence[DeclaredSpec], workloads: Sequence[Workload]) -> list[Link]:
    links: list[Link] = []
    for spec in specs:
        for workload in workloads:
            via = link_reason(spec, workload)
            if via is not None:
                links.append(Link(spec, workload, via))
    return links


def _serving(workload: Workload, key: str) -> Declared[Any] | None:
    return workload.serving.get(key)


Normaliser = Callable[[Any], Any]


def _text(value: Any) -> Any:
    return str(value).strip().lower()


def _uri(value: Any) -> Any:
    text = str(value).strip().rstrip("/")
    for scheme in ("hf://", "huggingface://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    return text.lower()


def _precision(value: Any) -> Any:
    return PRECISIONS.get(str(value).lower(), str(value).lower())


def _gpu_type(value: Any) -> Any:
    return tuple(t for t in re.split(r"[^a-z0-9]+", normalise_type(str(value))) if t)


class _Comparer:
    def __init__(self, spec: DeclaredSpec, workload: Workload) -> None:
        self.spec = spec
        self.workload = workload
        self.entries: list[DiffEntry] = []

    def add(
        self,
        declared: Declared[Any] | None,
        actual: Any,
        origin: Origin | None,
        via: str | None,
        normalise: Normaliser | None = None,
        same: Callable[[Any, Any], bool] | None = None,
        shown: Any = None,
    ) -> None:
        if declared is None:
            return
        expected = declared.value
        if actual is None:
            status: DriftStatus = "absent"
        elif same is not None:
            status = "match" if same(expected, actual) else "drift"
        else:
            norm = normalise or (lambda v: v)
            status = "match" if norm(expected) == norm(actual) else "drift"
        self.entries.append(
            DiffEntry(
                declared.via,
                expected,
                shown if shown is not None else actual,
                status,
                declared.origin,
                origin,
                via,
            )
        )

    def declared(self, key: str, declared: Declared[Any] | None, **kw: Any) -> None:
        fact = _serving(self.workload, key)
        self.add(
            declared,
            fact.value if fact else None,
            fact.origin if fact else None,
            fact.via if fact else None,
            **kw,
        )


def _type_matches(expected: Any, actual: Any) -> bool:
    want, have = _gpu_type(expected), _gpu_type(actual)
    return bool(want) and set(want) <= set(have)


def _memory_matches(expected: Any, actual: Any) -> bool:
    have = quantity_bytes(str(actual))
    if have is None:
        return False
    want = float(expected) * 10**9
    return abs(have - want) <= _MEMORY_TOLERANCE * max(want, 1.0)


def _cpu_matches(expected: Any, actual: Any) -> bool:
    have = cpu_cores(str(actual))
    return have is not None and abs(have - float(expected)) < 0.001


def compare(spec: DeclaredSpec, workload: Workload) -> list[DiffEntry]:
    """Every field the spec declares that the manifests can confirm or contradict."""
    c = _Comparer(spec, workload)
    identity, runtime, serving = spec.identity, spec.runtime, spec.serving
    c.declared("model", identity.model_uri, normalise=_uri)
    served = _serving(workload, "served_model_name")
    if served is not None and isinstance(served.value, list | tuple):
        names = [str(v) for v in served.value]
        c.add(
            identity.model_id,
            names,
            served.origin,
            served.via,
            same=lambda e, a: str(e) in a,
        )
    else:
        c.declared("served_model_name", identity.model_id)
    c.declared("dtype", identity.precision, normalise=_precision)
    acc = workload.accelerator
    c.add(
        runtime.vendor,
        vendor_of(acc.resource) if acc else None,
        acc.origin if acc else None,
        acc.resource if acc else None,
        normalise=_text,
    )
    c.add(
        runtime.accelerator_type,
        acc.type if acc else None,
        acc.origin if acc else None,
        acc.type_source if acc else None,
        same=_type_matches,
    )
    c.add(
        runtime.count,
        workload.gpus_per_replica,
        acc.origin if acc else None,
        acc.resource if acc else None,
    )
    c.declared("max_num_seqs", runtime.max_batch_size)
    c.declared("max_model_len", runtime.max_sequence_length_tokens)
    res = workload.resources
    request = res.cpu_request
    c.add(
        runtime.cpu_cores,
        request.value if request else None,
        request.origin if request else None,
        request.via if request else None,
        same=_cpu_matches,
    )
    memory = res.memory_request
    c.add(
        runtime.memory_gb,
        memory.value if memory else None,
        memory.origin if memory else None,
        memory.via if memory else None,
        same=_memory_matches,
    )
    port = _serving(workload, "port")
    if port is not None:
        c.declared("port", serving.port)
    elif workload.ports:
        origin = workload.container_origin or workload.source
        c.add(serving.port, list(workload.ports), origin, "containerPort", same=lambda e, a: e in a)
    for key, probe_spec in (("readiness", serving.readiness), ("liveness", serving.liveness)):
        if probe_spec is None:
            continue
        probe = workload.probes.get(key)
        c.add(
            probe_spec.path,
            probe.path if probe else None,
            probe.origin if probe else None,
            f"{key}Probe.path" if probe else None,
        )
        c.add(
            probe_spec.timeout_seconds,
            probe.timeout_seconds if probe else None,
            probe.origin if probe else None,
            f"{key}Probe.timeoutSeconds" if probe else None,
        )
    scaling = spec.scaling
    scaler = workload.autoscaler
    if scaler is not None:
        for declared, fact in (
            (scaling.min_replicas, scaler.min_replicas),
            (scaling.max_replicas, scaler.max_replicas),
        ):
            c.add(
                declared,
                fact.value if fact else None,
                fact.origin if fact else scaler.ref.origin,
                f"{scaler.ref.kind} {fact.via}" if fact else None,
            )
    elif workload.replicas is not None:
        replicas = workload.replicas
        for declared in (scaling.min_replicas, scaling.max_replicas):
            c.add(declared, replicas.value, replicas.origin, replicas.via)
    monitoring = workload.monitoring
    obs = spec.observability
    origin = workload.source
    c.add(
        obs.metrics_enabled,
        monitoring.scraped if monitoring is not None else False,
        monitoring.scraped_by[0].origin if monitoring and monitoring.scraped_by else origin,
        "monitors and prometheus.io annotations",
    )
    metrics_port = monitoring.metrics_port if monitoring is not None else None
    if metrics_port is not None and metrics_port.isdigit():
        c.add(obs.metrics_port, int(metrics_port), origin, "metrics port")
    tracing = _serving(workload, "otlp_traces_endpoint")
    c.add(
        obs.tracing_enabled,
        tracing is not None,
        tracing.origin if tracing else workload.container_origin or origin,
        tracing.via if tracing else "no OTLP traces endpoint",
    )
    for name, variable in sorted(spec.environment.items()):
        present = name in workload.env_names
        c.add(
            Declared(True, variable.origin, f"{variable.via} (present)"),
            present,
            workload.container_origin or origin,
            "env",
        )
    return c.entries


def drift_message(entry: DiffEntry) -> str:
    where = entry.manifest_origin.short() if entry.manifest_origin else "?"
    via = f" ({entry.manifest_via})" if entry.manifest_via else ""
    return (
        f"{entry.field}: the spec declares {entry.expected!r} ({entry.spec_origin.short()}), "
        f"the manifests say {entry.actual!r}{via} at {where}"
    )


@dataclass(frozen=True)
class DriftResult:
    findings: tuple[Finding, ...]
    outcomes: tuple[RuleOutcome, ...]
    links: tuple[Link, ...]


def spec_drift(
    specs: Sequence[DeclaredSpec], workloads: Sequence[Workload], catalog: Catalog | None = None
) -> DriftResult:
    """Drift findings and one outcome per linked (spec, workload) pair for SRV-017."""
    title, remediation, severity = (
        "Running configuration still matches the declared intent",
        "Change the manifests or the ModelSpec so that they agree again.",
        "medium",
    )
    if catalog is not None and DRIFT_ITEM in catalog.items:
        item = catalog.items[DRIFT_ITEM]
        title, remediation, severity = item.title, item.remediation, item.severity
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    links = link_specs(specs, workloads)
    for link in links:
        entries = compare(link.spec, link.workload)
        drifted = [e for e in entries if e.status == "drift"]
        for entry in drifted:
            findings.append(
                Finding(
                    item=DRIFT_ITEM,
                    rule=DRIFT_RULE,
                    subject=link.workload.id,
                    message=drift_message(entry),
                    evidence=entry.manifest_origin or link.workload.source,
                    severity=severity,
                    title=title,
                    remediation=remediation,
                    key=entry.field,
                )
            )
        if drifted:
            outcome = "failed"
            reason = f"{len(drifted)} field(s) drift from {link.spec.path}"
        elif entries:
            outcome = "passed"
            reason = f"{len(entries)} field(s) compared with {link.spec.path}"
        else:
            outcome, reason = "unknown", f"no field of {link.spec.path} could be compared"
        outcomes.append(RuleOutcome(DRIFT_RULE, DRIFT_ITEM, link.workload.id, outcome, reason))  # type: ignore[arg-type]
    return DriftResult(tuple(findings), tuple(outcomes), tuple(links))


def drift_findings(
    specs: Sequence[DeclaredSpec], workloads: Sequence[Workload], catalog: Catalog | None = None
) -> tuple[Finding, ...]:
    """Findings of item SRV-017 for every field where a linked workload contradicts its spec."""
    return spec_drift(specs, workloads, catalog).findings
