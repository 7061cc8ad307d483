"""The DeclaredSpec fact: a ModelSpec document read into typed fields that remember their origin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from piqc_advisor.collectors.yaml_source import LocatedList, LocatedMap
from piqc_advisor.facts.origin import Declared, Origin

API_VERSION = "piqc.ai/v1alpha1"
KIND = "ModelSpec"
PRODUCTION_ENVIRONMENTS = frozenset({"prod", "production"})


def escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _type_ok(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


@dataclass(frozen=True)
class Node:
    """A located map or list of a document with its path and JSON pointer."""

    path: str
    document: int
    value: Any
    pointer: str
    origin: Origin

    def child(self, key: str | int) -> Node | None:
        container = self.value
        if isinstance(container, LocatedMap) and isinstance(key, str) and key in container:
            line, col = container.value_lines.get(key, (container.line, container.col))
        elif isinstance(container, LocatedList) and isinstance(key, int):
            if not 0 <= key < len(container):
                return None
            line, col = container.item_lines[key]
        else:
            return None
        token = escape_pointer(str(key))
        pointer = f"{self.pointer}/{token}"
        origin = Origin(self.path, line, col, pointer, self.document)
        return Node(self.path, self.document, container[key], pointer, origin)

    def at(self, dotted: str) -> Node | None:
        node: Node | None = self
        for part in dotted.split("."):
            if node is None:
                return None
            node = node.child(part)
        return node

    def items(self) -> Iterator[Node]:
        if isinstance(self.value, LocatedList):
            for index in range(len(self.value)):
                child = self.child(index)
                if child is not None:
                    yield child

    def declared(self, dotted: str, kind: type, via_prefix: str = "") -> Declared[Any] | None:
        node = self.at(dotted)
        if node is None or not _type_ok(node.value, kind):
            return None
        return Declared(node.value, node.origin, f"{via_prefix}{dotted}")

    def string_map(self, dotted: str) -> dict[str, Declared[str]]:
        node = self.at(dotted)
        result: dict[str, Declared[str]] = {}
        if node is None or not isinstance(node.value, LocatedMap):
            return result
        for key in node.value:
            child = node.child(key)
            if child is not None and isinstance(child.value, str):
                result[key] = Declared(child.value, child.origin, f"{dotted}.{key}")
        return result


def _opt(value: Declared[Any] | None) -> Any:
    return value.to_json() if value is not None else None


def _section_json(section: Any) -> dict[str, Any]:
    return {key: _opt(value) for key, value in section.__dict__.items()}


@dataclass(frozen=True)
class SpecIdentity:
    model_id: Declared[str] | None
    family: Declared[str] | None
    task: Declared[str] | None
    framework: Declared[str] | None
    precision: Declared[str] | None
    model_uri: Declared[str] | None
    tokenizer_uri: Declared[str] | None


@dataclass(frozen=True)
class SpecRuntime:
    vendor: Declared[str] | None
    accelerator_type: Declared[str] | None
    count: Declared[int] | None
    max_batch_size: Declared[int] | None
    max_sequence_length_tokens: Declared[int] | None
    cpu_cores: Declared[int] | None
    memory_gb: Declared[float] | None
    ephemeral_storage_gb: Declared[float] | None


@dataclass(frozen=True)
class SpecProbe:
    path: Declared[str] | None
    timeout_seconds: Declared[int] | None
    origin: Origin


@dataclass(frozen=True)
class SpecServing:
    protocol: Declared[str] | None
    port: Declared[int] | None
    max_concurrency: Declared[int] | None
    timeout_seconds: Declared[int] | None
    readiness: SpecProbe | None
    liveness: SpecProbe | None


@dataclass(frozen=True)
class SpecScaling:
    min_replicas: Declared[int] | None
    max_replicas: Declared[int] | None
    strategy: Declared[str] | None
    target_latency_ms_p95: Declared[float] | None
    target_rps: Declared[float] | None
    warm_pool_size: Declared[int] | None


@dataclass(frozen=True)
class SpecObservability:
    metrics_enabled: Declared[bool] | None
    metrics_provider: Declared[str] | None
    metrics_port: Declared[int] | None
    logging_level: Declared[str] | None
    tracing_enabled: Declared[bool] | None


@dataclass(frozen=True)
class SpecStep:
    stage: str
    name: Declared[str] | None
    type: Declared[str] | None
    enabled: bool
    origin: Origin


@dataclass(frozen=True)
class SpecDependency:
    id: Declared[str] | None
    role: Declared[str] | None
    spec_ref: Declared[str] | None
    required: bool
    input_type: Declared[str] | None
    output_type: Declared[str] | None
    max_latency_ms: Declared[float] | None
    origin: Origin

    @property
    def label(self) -> str:
        return (
            self.id.value if self.id is not None else f"#{self.origin.pointer.rsplit('/', 1)[-1]}"
        )


@dataclass(frozen=True)
class SpecGovernance:
    declared: bool
    pii_allowed: Declared[bool] | None
    pii_policy: Declared[str] | None
    logs_days: Declared[int] | None
    artifacts_days: Declared[int] | None
    change_approval: Declared[str] | None
    owner: Declared[str] | None
    target_cost_per_1k_tokens_usd: Declared[float] | None
    spot_allowed: Declared[bool] | None


@dataclass(frozen=True)
class DeclaredSpec:
    """One ModelSpec document: its typed fields, each with where it is written."""

    path: str
    document: int
    origin: Origin
    name: Declared[str] | None
    labels: dict[str, Declared[str]]
    annotations: dict[str, Declared[str]]
    identity: SpecIdentity
    runtime: SpecRuntime
    environment: dict[str, Declared[str]]
    serving: SpecServing
    scaling: SpecScaling
    observability: SpecObservability
    steps: tuple[SpecStep, ...]
    dependencies: tuple[SpecDependency, ...]
    governance: SpecGovernance
    root: Node = field(repr=False, compare=False)

    @property
    def subject(self) -> str:
        return f"ModelSpec/{self.name.value if self.name else '?'}"

    @property
    def environment_label(self) -> str | None:
        label = self.labels.get("environment")
        return label.value if label is not None else None

    @property
    def production(self) -> bool:
        env = self.environment_label
        return env is not None and env.lower() in PRODUCTION_ENVIRONMENTS

    def to_json(self) -> dict[str, Any]:
        def probe(value: SpecProbe | None) -> Any:
            if value is None:
                return None
            return {
                "path": _opt(value.path),
                "timeout_seconds": _opt(value.timeout_seconds),
                "source": value.origin.to_json(),
            }

        serving = _section_json(self.serving)
        serving["readiness"] = probe(self.serving.readiness)
        serving["liveness"] = probe(self.serving.liveness)
        return {
            "path": self.path,
            "document": self.document,
            "source": self.origin.to_json(),
            "name": _opt(self.name),
            "labels": {k: v.to_json() for k, v in sorted(self.labels.items())},
            "annotations": {k: v.to_json() for k, v in sorted(self.annotations.items())},
            "identity": _section_json(self.identity),
            "runtime": _section_json(self.runtime),
            "environment": {k: v.to_json() for k, v in sorted(self.environment.items())},
            "serving": serving,
            "scaling": _section_json(self.scaling),
            "observability": _section_json(self.observability),
            "steps": [
                {
                    "stage": s.stage,
                    "name": _opt(s.name),
                    "type": _opt(s.type),
                    "enabled": s.enabled,
                    "source": s.origin.to_json(),
                }
                for s in self.steps
            ],
            "dependencies": [
                {
                    "id": _opt(d.id),
                    "role": _opt(d.role),
                    "spec_ref": _opt(d.spec_ref),
                    "required": d.required,
                    "input_type": _opt(d.input_type),
                    "output_type": _opt(d.output_type),
                    "max_latency_ms": _opt(d.max_latency_ms),
                    "source": d.origin.to_json(),
                }
                for d in self.dependencies
            ],
            "governance": _section_json(self.governance),
        }


def _probe(serving: Node | None, key: str) -> SpecProbe | None:
    node = serving.child(key) if serving is not None else None
    if node is None or not isinstance(node.value, LocatedMap):
        return None
    prefix = f"spec.operations.serving.{key}."
    return SpecProbe(
        node.declared("path", str, prefix),
        node.declared("timeoutSeconds", int, prefix),
        node.origin,
    )


def _steps(root: Node) -> tuple[SpecStep, ...]:
    steps: list[SpecStep] = []
    for stage in ("preprocess", "postprocess"):
        listing = root.at(f"spec.pipeline.{stage}.steps")
        if listing is None:
            continue
        for index, item in enumerate(listing.items()):
            if not isinstance(item.value, LocatedMap):
                continue
            prefix = f"spec.pipeline.{stage}.steps[{index}]."
            enabled = item.value.get("enabled", True)
            steps.append(
                SpecStep(
                    stage,
                    item.declared("name", str, prefix),
                    item.declared("type", str, prefix),
                    enabled is not False,
                    item.origin,
                )
            )
    return tuple(steps)


def _dependencies(root: Node) -> tuple[SpecDependency, ...]:
    listing = root.at("spec.pipeline.dependencies")
    found: list[SpecDependency] = []
    if listing is None:
        return ()
    for index, item in enumerate(listing.items()):
        if not isinstance(item.value, LocatedMap):
            continue
        prefix = f"spec.pipeline.dependencies[{index}]."
        required = item.value.get("required", True)
        found.append(
            SpecDependency(
                item.declared("id", str, prefix),
                item.declared("role", str, prefix),
                item.declared("specRef", str, prefix),
                required is not False,
                item.declared("interface.inputType", str, prefix),
                item.declared("interface.outputType", str, prefix),
                item.declared("interface.maxLatencyMs", float, prefix),
                item.origin,
            )
        )
    return tuple(found)


def declared_spec(data: LocatedMap, path: str, document: int = 0) -> DeclaredSpec:
    """Read the fields of one ModelSpec document; fields of the wrong type are left out."""
    origin = Origin(path, data.line, data.col, "", document)
    root = Node(path, document, data, "", origin)
    d = root.declared
    serving = root.at("spec.operations.serving")
    governance = root.at("spec.governance")
    return DeclaredSpec(
        path=path,
        document=document,
        origin=origin,
        name=d("metadata.name", str),
        labels=root.string_map("metadata.labels"),
        annotations=root.string_map("metadata.annotations"),
        identity=SpecIdentity(
            d("spec.identity.model.id", str),
            d("spec.identity.model.family", str),
            d("spec.identity.model.task", str),
            d("spec.identity.model.framework", str),
            d("spec.identity.model.precision", str),
            d("spec.identity.model.artifacts.modelUri", str),
            d("spec.identity.model.artifacts.tokenizerUri", str),
        ),
        runtime=SpecRuntime(
            d("spec.runtime.accelerator.vendor", str),
            d("spec.runtime.accelerator.type", str),
            d("spec.runtime.accelerator.count", int),
            d("spec.runtime.batch.maxBatchSize", int),
            d("spec.runtime.batch.maxSequenceLengthTokens", int),
            d("spec.runtime.resources.cpuCores", int),
            d("spec.runtime.resources.memoryGb", float),
            d("spec.runtime.resources.ephemeralStorageGb", float),
        ),
        environment=root.string_map("spec.runtime.environment.variables"),
        serving=SpecServing(
            d("spec.operations.serving.protocol", str),
            d("spec.operations.serving.port", int),
            d("spec.operations.serving.maxConcurrency", int),
            d("spec.operations.serving.timeoutSeconds", int),
            _probe(serving, "readinessProbe"),
            _probe(serving, "livenessProbe"),
        ),
        scaling=SpecScaling(
            d("spec.operations.scaling.minReplicas", int),
            d("spec.operations.scaling.maxReplicas", int),
            d("spec.operations.scaling.strategy", str),
            d("spec.operations.scaling.targetLatencyMsP95", float),
            d("spec.operations.scaling.targetRps", float),
            d("spec.operations.scaling.warmPool.size", int),
        ),
        observability=SpecObservability(
            d("spec.operations.observability.metrics.enabled", bool),
            d("spec.operations.observability.metrics.provider", str),
            d("spec.operations.observability.metrics.port", int),
            d("spec.operations.observability.logging.level", str),
            d("spec.operations.observability.tracing.enabled", bool),
        ),
        steps=_steps(root),
        dependencies=_dependencies(root),
        governance=SpecGovernance(
            governance is not None,
            d("spec.governance.compliance.pii.allowed", bool),
            d("spec.governance.compliance.pii.policy", str),
            d("spec.governance.compliance.retention.logsDays", int),
            d("spec.governance.compliance.retention.artifactsDays", int),
            d("spec.governance.compliance.governance.changeApproval", str),
            d("spec.governance.compliance.governance.owner", str),
            d("spec.governance.cost.targetCostPer1kTokensUsd", float),
            d("spec.governance.cost.pricingHints.spotAllowed", bool),
        ),
        root=root,
    )


def is_modelspec(data: Any) -> bool:
    """A document that declares itself a ModelSpec (by kind, or by our API group)."""
    if not isinstance(data, dict):
        return False
    kind = data.get("kind")
    api = data.get("apiVersion")
    return kind == KIND or (isinstance(api, str) and api.startswith("piqc.ai/"))
