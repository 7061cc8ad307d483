"""The normalized facts about one serving workload (object, role, container) and its neighbours."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from piqc_advisor.facts.origin import Declared, Origin

SERVING_KEYS: tuple[str, ...] = (
    "model",
    "revision",
    "tokenizer",
    "tokenizer_revision",
    "served_model_name",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "data_parallel_size",
    "expert_parallel",
    "dtype",
    "quantization",
    "kv_cache_dtype",
    "max_model_len",
    "max_num_seqs",
    "max_num_batched_tokens",
    "gpu_memory_utilization",
    "enable_prefix_caching",
    "enable_chunked_prefill",
    "enforce_eager",
    "speculative_config",
    "enable_lora",
    "api_key",
    "port",
    "host",
    "trust_remote_code",
    "load_format",
    "download_dir",
    "otlp_traces_endpoint",
    "disable_log_requests",
    "uvicorn_log_level",
)


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object the workload relates to, with where it is declared."""

    kind: str
    name: str
    namespace: str | None
    origin: Origin
    api_version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "source": self.origin.to_json(),
        }


@dataclass(frozen=True)
class EngineGuess:
    """Which serving engine a container runs, how sure we are, and the evidence."""

    name: str
    confidence: float
    signals: tuple[str, ...]
    version: str | None = None
    version_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "version_source": self.version_source,
            "confidence": round(self.confidence, 2),
            "signals": list(self.signals),
        }


@dataclass(frozen=True)
class Probe:
    kind: str
    origin: Origin
    path: str | None = None
    port: str | None = None
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3
    success_threshold: int = 1

    @property
    def budget_seconds(self) -> int:
        """How long the probe tolerates failure before acting: delay + period x failures."""
        return self.initial_delay_seconds + self.period_seconds * self.failure_threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "port": self.port,
            "initial_delay_seconds": self.initial_delay_seconds,
            "period_seconds": self.period_seconds,
            "timeout_seconds": self.timeout_seconds,
            "failure_threshold": self.failure_threshold,
            "success_threshold": self.success_threshold,
            "budget_seconds": self.budget_seconds,
            "source": self.origin.to_json(),
        }


@dataclass(frozen=True)
class Image:
    ref: str
    repository: str
    tag: str | None
    digest: str | None
    origin: Origin

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "pinned": self.pinned,
            "source": self.origin.to_json(),
        }


@dataclass(frozen=True)
class Accelerator:
    """Accelerators a pod asks for: resource name, request/limit, count and type if known."""

    resource: str
    count: int
    request: int | None
    limit: int | None
    origin: Origin
    type: str | None = None
    type_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "type": self.type,
            "type_source": self.type_source,
            "count": self.count,
            "request": self.request,
            "limit": self.limit,
            "source": self.origin.to_json(),
        }


@dataclass(frozen=True)
class DeviceClaim:
    """Devices a container asks for through Dynamic Resource Allocation (resources.claims).

    `via` says how the pod names the claim (ResourceClaimTemplate or ResourceClaim, None
    when the pod does not); device class and count are known only when that object is
    among the inputs, `definition` is where.
    """

    name: str
    via: str | None
    reference: str | None
    device_class: str | None
    count: int | None
    origin: Origin
    definition: Origin | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "via": self.via,
            "reference": self.reference,
            "device_class": self.device_class,
            "count": self.count,
            "source": self.origin.to_json(),
            "definition": self.definition.to_json() if self.definition is not None else None,
        }


@dataclass(frozen=True)
class ResourceAmounts:
    cpu_request: Declared[str] | None = None
    cpu_limit: Declared[str] | None = None
    memory_request: Declared[str] | None = None
    memory_limit: Declared[str] | None = None
    ephemeral_storage_request: Declared[str] | None = None
    ephemeral_storage_limit: Declared[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            key: (value.to_json() if value is not None else None)
            for key, value in self.__dict__.items()
        }


@dataclass(frozen=True)
class ShmVolume:
    volume: str
    medium: str | None
    size_limit: str | None
    mount_path: str
    origin: Origin

    @property
    def memory_backed(self) -> bool:
        return self.medium == "Memory"

    def to_json(self) -> dict[str, Any]:
        return {
            "volume": self.volume,
            "medium": self.medium,
            "memory_backed": self.memory_backed,
            "size_limit": self.size_limit,
            "mount_path": self.mount_path,
            "source": self.origin.to_json(),
        }


@dataclass(frozen=True)
class SecretUse:
    """A credential the container receives: from a Secret (name only) or as a literal."""

    variable: str
    source: str
    origin: Origin
    secret_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "source": self.source,
            "secret": self.secret_name,
            "origin": self.origin.to_json(),
        }


@dataclass(frozen=True)
class SecurityFacts:
    run_as_non_root: Declared[bool] | None = None
    run_as_user: Declared[int] | None = None
    privileged: Declared[bool] | None = None
    allow_privilege_escalation: Declared[bool] | None = None
    read_only_root_filesystem: Declared[bool] | None = None
    host_network: Declared[bool] | None = None
    host_ipc: Declared[bool] | None = None
    host_pid: Declared[bool] | None = None
    automount_service_account_token: Declared[bool] | None = None
    has_security_context: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            data[key] = value.to_json() if isinstance(value, Declared) else value
        return data


@dataclass(frozen=True)
class Placement:
    node_selector: dict[str, str]
    gpu_affinity_labels: tuple[str, ...]
    tolerations: tuple[str, ...]
    topology_spread: bool
    pod_anti_affinity: bool
    priority_class: Declared[str] | None
    origin: Origin

    def to_json(self) -> dict[str, Any]:
        return {
            "node_selector": dict(sorted(self.node_selector.items())),
            "gpu_affinity_labels": list(self.gpu_affinity_labels),
            "tolerations": list(self.tolerations),
            "topology_spread": self.topology_spread,
            "pod_anti_affinity": self.pod_anti_affinity,
            "priority_class": self.priority_class.to_json() if self.priority_class else None,
        }


@dataclass(frozen=True)
class ModelStorage:
    """How weights reach the container: pvc, hostPath, image-baked, download at start, ..."""

    kind: str
    detail: str | None
    origin: Origin | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "source": self.origin.to_json() if self.origin else None,
        }


@dataclass(frozen=True)
class AutoscalerFacts:
    ref: ObjectRef
    min_replicas: Declared[int] | None
    max_replicas: Declared[int] | None
    metrics: tuple[str, ...]
    scale_down_stabilization_seconds: Declared[int] | None

    def to_json(self) -> dict[str, Any]:
        def opt(value: Declared[int] | None) -> Any:
            return value.to_json() if value is not None else None

        return {
            **self.ref.to_json(),
            "min_replicas": opt(self.min_replicas),
            "max_replicas": opt(self.max_replicas),
            "metrics": list(self.metrics),
            "scale_down_stabilization_seconds": opt(self.scale_down_stabilization_seconds),
        }


@dataclass(frozen=True)
class MonitoringFacts:
    scraped_by: tuple[ObjectRef, ...]
    annotations: dict[str, str]
    metrics_port: str | None

    @property
    def scraped(self) -> bool:
        return bool(self.scraped_by) or self.annotations.get("prometheus.io/scrape") == "true"

    def to_json(self) -> dict[str, Any]:
        return {
            "scraped": self.scraped,
            "scraped_by": [ref.to_json() for ref in self.scraped_by],
            "annotations": dict(sorted(self.annotations.items())),
            "metrics_port": self.metrics_port,
        }


@dataclass(frozen=True)
class ArgIssue:
    """An engine argument that the engine itself would reject or warn about."""

    kind: str
    message: str
    origin: Origin
    suggestion: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "suggestion": self.suggestion,
            "source": self.origin.to_json(),
        }


@dataclass(frozen=True)
class Workload:
    """One serving unit: an object's pod template, its role, and the engine container in it."""

    id: str
    name: str
    namespace: str | None
    kind: str
    api_version: str | None
    platform: str
    role: str | None
    container: str | None
    source: Origin
    labels: dict[str, str]
    pod_labels: dict[str, str]
    engine: EngineGuess | None
    serving: dict[str, Declared[Any] | None]
    effective: dict[str, Any]
    arg_issues: tuple[ArgIssue, ...]
    accelerator: Accelerator | None
    gpus_per_replica: int | None
    pods_per_replica: int
    replicas: Declared[int] | None
    probes: dict[str, Probe | None]
    image: Image | None
    shm_volume: ShmVolume | None
    hf_token: SecretUse | None
    secrets: tuple[SecretUse, ...]
    resources: ResourceAmounts
    security: SecurityFacts
    placement: Placement
    model_storage: ModelStorage
    ports: tuple[int, ...]
    env_names: tuple[str, ...]
    annotations: dict[str, str]
    container_origin: Origin | None = None
    autoscaler: AutoscalerFacts | None = None
    pdb: ObjectRef | None = None
    network_policies: tuple[ObjectRef, ...] = ()
    services: tuple[ObjectRef, ...] = ()
    exposure: tuple[ObjectRef, ...] = ()
    monitoring: MonitoringFacts | None = None
    related: tuple[ObjectRef, ...] = field(default=())
    device_claims: tuple[DeviceClaim, ...] = ()

    def to_json(self) -> dict[str, Any]:
        from piqc_advisor.sizing.from_workload import workload_sizing

        def opt(value: Any) -> Any:
            return value.to_json() if value is not None else None

        return {
            "id": self.id,
            "name": self.name,
            "namespace": self.namespace,
            "kind": self.kind,
            "api_version": self.api_version,
            "platform": self.platform,
            "role": self.role,
            "container": self.container,
            "source": self.source.to_json(),
            "engine": opt(self.engine),
            "model": opt(self.serving.get("model")),
            "serving": {key: opt(value) for key, value in self.serving.items()},
            "effective": dict(self.effective),
            "arg_issues": [issue.to_json() for issue in self.arg_issues],
            "accelerator": opt(self.accelerator),
            "gpus_per_replica": self.gpus_per_replica,
            "device_claims": [claim.to_json() for claim in self.device_claims],
            "sizing": workload_sizing(self),
            "pods_per_replica": self.pods_per_replica,
            "replicas": opt(self.replicas),
            "probes": {key: opt(value) for key, value in self.probes.items()},
            "image": opt(self.image),
            "shm_volume": opt(self.shm_volume),
            "hf_token": (self.hf_token.to_json() if self.hf_token else {"source": "none"}),
            "secrets": [s.to_json() for s in self.secrets],
            "resources": self.resources.to_json(),
            "security": self.security.to_json(),
            "placement": self.placement.to_json(),
            "model_storage": self.model_storage.to_json(),
            "ports": list(self.ports),
            "env": list(self.env_names),
            "autoscaler": opt(self.autoscaler),
            "pdb": opt(self.pdb),
            "network_policy": [ref.to_json() for ref in self.network_policies],
            "services": [ref.to_json() for ref in self.services],
            "exposure": [ref.to_json() for ref in self.exposure],
            "monitoring": opt(self.monitoring),
            "related": [ref.to_json() for ref in self.related],
        }
