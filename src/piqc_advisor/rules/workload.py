"""Workload rules: resources, model storage, scaling and availability, monitoring, security."""

from __future__ import annotations

from collections.abc import Iterator

from piqc_advisor.facts.workload import Workload
from piqc_advisor.rules.accelerators import is_follower
from piqc_advisor.rules.api import NotApplicable, Outcome, Unknown, Violation, evidence_for, rule

SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "LeaderWorkerSet", "InferenceService"})
SERVING_METRIC_HINTS = (
    "vllm",
    "queue",
    "waiting",
    "kv_cache",
    "token",
    "latency",
    "running",
    "request",
)


def _server(w: Workload) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")


@rule("cpu-memory-requests-missing", "K8S-003", "CPU or memory requests/limits are missing.")
def cpu_memory_requests_missing(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None:
        return
    r = w.resources
    missing = [
        name
        for name, value in (
            # Kubernetes uses the limit as the request when only a limit is set.
            ("requests.cpu", r.cpu_request or r.cpu_limit),
            ("requests.memory", r.memory_request or r.memory_limit),
            ("limits.memory", r.memory_limit),
        )
        if value is None
    ]
    if missing:
        yield Violation(
            f"{w.container!r} sets no {', '.join(missing)}: tokenization and pre/post-processing "
            "compete with neighbours and the pod can be OOM-killed or evicted first",
            evidence_for(w),
        )


@rule(
    "weights-downloaded-at-start",
    "STO-900",
    "Weights are downloaded from a hub or bucket at every container start.",
)
def weights_downloaded_at_start(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None or is_follower(w):
        return
    storage = w.model_storage
    if storage.kind == "unknown":
        yield Unknown("cannot tell how the weights reach the pod")
    elif storage.kind == "download-at-start":
        yield Violation(
            f"model {storage.detail!r} is fetched at every start with no persistent cache "
            "volume: cold starts take minutes and depend on the hub being reachable",
            storage.origin or evidence_for(w),
        )


@rule(
    "weights-on-ephemeral-storage-unbounded",
    "STO-002",
    "Weights go to node disk with no ephemeral-storage request.",
)
def weights_on_ephemeral_storage_unbounded(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None or is_follower(w):
        return
    if w.model_storage.kind == "unknown":
        yield Unknown("cannot tell how the weights reach the pod")
        return
    if w.model_storage.kind not in ("download-at-start", "emptyDir", "init-container-download"):
        yield NotApplicable(f"weights come from {w.model_storage.kind}")
        return
    if w.resources.ephemeral_storage_request is None:
        yield Violation(
            f"weights are written to the node's disk but {w.container!r} requests no "
            "ephemeral-storage: the pod lands on nodes without room and is evicted",
            evidence_for(w),
        )


@rule("single-replica-without-pdb", "RLB-900", "One replica and no PodDisruptionBudget.")
def single_replica_without_pdb(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None or is_follower(w) or w.kind not in SCALABLE_KINDS:
        if w.engine is not None:
            yield NotApplicable(f"{w.kind} {w.role or ''} is not a replicated serving controller")
        return
    replicas = w.replicas.value if w.replicas is not None else 1
    if w.autoscaler is not None and w.autoscaler.min_replicas is not None:
        replicas = w.autoscaler.min_replicas.value
    if w.pdb is None:
        where = w.replicas.origin if w.replicas is not None else w.source
        detail = "a single replica" if replicas <= 1 else f"{replicas} replicas"
        yield Violation(
            f"{w.kind} {w.name} runs {detail} with no PodDisruptionBudget: a node drain takes "
            "the model offline (and reloading it takes minutes)",
            where,
        )


@rule("hpa-on-resource-metrics-only", "SCL-005", "Autoscaling uses CPU or memory only.")
def hpa_on_resource_metrics_only(w: Workload, _: object) -> Iterator[Outcome]:
    scaler = w.autoscaler
    if scaler is None:
        yield NotApplicable("no autoscaler")
        return
    if not scaler.metrics:
        yield Unknown("autoscaler metrics not declared")
        return
    serving = [m for m in scaler.metrics if any(h in m.lower() for h in SERVING_METRIC_HINTS)]
    resource_only = all(m.startswith("Resource:") or m == "none" for m in scaler.metrics)
    if resource_only and not serving:
        yield Violation(
            f"{scaler.ref.kind} {scaler.ref.name} scales on {', '.join(scaler.metrics)}: GPU "
            "servers saturate on KV cache and queue depth long before CPU moves",
            scaler.ref.origin,
        )


@rule("replica-bounds-invalid", "SCL-004", "Autoscaler replica bounds are missing or inverted.")
def replica_bounds_invalid(w: Workload, _: object) -> Iterator[Outcome]:
    scaler = w.autoscaler
    if scaler is None:
        yield NotApplicable("no autoscaler")
        return
    low, high = scaler.min_replicas, scaler.max_replicas
    if high is None:
        yield Violation(
            f"{scaler.ref.kind} {scaler.ref.name} sets no maximum replicas", scaler.ref.origin
        )
    elif low is None:
        yield Violation(
            f"{scaler.ref.kind} {scaler.ref.name} sets no minReplicas (defaults to 1): one cold "
            "replica serves all traffic after a quiet period",
            scaler.ref.origin,
            key="min",
        )
    elif low.value > high.value:
        yield Violation(
            f"minReplicas {low.value} is above maxReplicas {high.value}", low.origin, key="inverted"
        )


@rule(
    "scale-down-stabilization-missing",
    "SCL-008",
    "No scale-down stabilisation window for a slow-starting model server.",
)
def scale_down_stabilization_missing(w: Workload, _: object) -> Iterator[Outcome]:
    scaler = w.autoscaler
    if scaler is None or scaler.ref.kind != "HorizontalPodAutoscaler":
        yield NotApplicable("no HorizontalPodAutoscaler")
        return
    if scaler.scale_down_stabilization_seconds is None:
        yield Violation(
            f"HPA {scaler.ref.name} uses the default scale-down behaviour: replicas that took "
            "minutes to load are removed on a short dip and reloaded soon after",
            scaler.ref.origin,
        )


@rule(
    "topology-spread-missing",
    "RLB-901",
    "Several replicas without topology spread or anti-affinity.",
)
def topology_spread_missing(w: Workload, _: object) -> Iterator[Outcome]:
    declared = w.replicas
    if w.autoscaler is not None and w.autoscaler.min_replicas is not None:
        declared = w.autoscaler.min_replicas
    replicas = declared.value if declared is not None else 1
    if w.engine is None or replicas < 2 or is_follower(w):
        yield NotApplicable("fewer than two replicas")
        return
    if not w.placement.topology_spread and not w.placement.pod_anti_affinity:
        yield Violation(
            f"{replicas} replicas of {w.name} may land on one node or zone: one failure takes "
            "them all (add topologySpreadConstraints)",
            w.placement.origin,
        )


@rule("priority-class-missing", "K8S-204", "A GPU server has no PriorityClass.")
def priority_class_missing(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None or w.accelerator is None:
        yield NotApplicable("not a GPU model server")
        return
    if w.placement.priority_class is None:
        yield Violation(
            f"pods of {w.name} have no priorityClassName: batch jobs can preempt the serving "
            "replicas, or the replicas cannot preempt them when GPUs run short",
            w.placement.origin,
        )


@rule("metrics-not-scraped", "OBS-007", "Nothing scrapes the server's metrics.")
def metrics_not_scraped(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None or is_follower(w):
        return
    if w.monitoring is None or not w.monitoring.scraped:
        yield Violation(
            f"no ServiceMonitor, PodMonitor, PodMonitoring or prometheus.io/scrape annotation "
            f"covers {w.name}: KV-cache, queue and latency signals are invisible",
            evidence_for(w),
        )


@rule("tracing-not-configured", "OBS-010", "The engine exports no traces.")
def tracing_not_configured(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None or w.engine.name != "vllm" or is_follower(w):
        yield NotApplicable("tracing is checked for vLLM only")
        return
    endpoint_env = any(name.startswith("OTEL_EXPORTER_OTLP") for name in w.env_names)
    if w.serving.get("otlp_traces_endpoint") is None and not endpoint_env:
        yield Violation(
            "vLLM runs without --otlp-traces-endpoint: per-request queue, prefill and decode "
            "times cannot be followed across the gateway and the engine",
            evidence_for(w),
        )


@rule("service-missing", "NET-002", "No Service selects the model server's pods.")
def service_missing(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None or is_follower(w) or w.platform in ("kserve", "kserve-llm"):
        if w.engine is not None:
            yield NotApplicable("the controller creates the Service")
        return
    if not w.services:
        yield Violation(
            f"no Service in the inputs selects the pods of {w.name} (labels "
            f"{dict(sorted(w.pod_labels.items()))})",
            w.source,
        )


@rule("network-policy-missing", "NET-004", "No NetworkPolicy restricts traffic to the server.")
def network_policy_missing(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None:
        return
    if not w.network_policies:
        yield Violation(
            f"no NetworkPolicy selects the pods of {w.name}: every pod in the cluster can call "
            "the model and its metrics",
            w.source,
        )


@rule("runs-as-root", "SEC-212", "The container may run as root.")
def runs_as_root(w: Workload, _: object) -> Iterator[Outcome]:
    security = w.security
    if security.run_as_user is not None and security.run_as_user.value == 0:
        yield Violation("runAsUser: 0 runs the server as root", security.run_as_user.origin)
        return
    non_root = security.run_as_non_root
    if non_root is not None and non_root.value is True:
        return
    if security.run_as_user is not None and security.run_as_user.value > 0:
        return
    yield Violation(
        f"{w.container!r} sets neither runAsNonRoot: true nor a non-zero runAsUser: serving "
        "images run as root by default",
        evidence_for(w),
    )


@rule("privileged-or-host-namespaces", "SEC-212", "Privileged mode or host namespaces are used.")
def privileged_or_host_namespaces(w: Workload, _: object) -> Iterator[Outcome]:
    security = w.security
    for name, declared in (
        ("privileged", security.privileged),
        ("hostNetwork", security.host_network),
        ("hostIPC", security.host_ipc),
        ("hostPID", security.host_pid),
    ):
        if declared is not None and declared.value is True:
            shared = name.replace("host", "").lower() if name != "privileged" else "devices"
            yield Violation(
                f"{name}: true gives {w.container!r} the node's {shared} (for shared memory, "
                "mount an emptyDir with medium: Memory instead of hostIPC)",
                declared.origin,
                key=name,
            )


@rule(
    "security-context-missing",
    "SEC-212",
    "Neither the pod nor the container has a securityContext.",
)
def security_context_missing(w: Workload, _: object) -> Iterator[Outcome]:
    if not w.security.has_security_context:
        yield Violation(
            f"{w.container!r} has no securityContext: privilege escalation, capabilities and "
            "the root filesystem are left at their permissive defaults",
            evidence_for(w),
        )


@rule(
    "service-account-token-mounted",
    "SEC-212",
    "The Kubernetes API token is mounted into a server that does not need it.",
)
def service_account_token_mounted(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    if w.engine is None:
        return
    automount = w.security.automount_service_account_token
    if automount is None or automount.value is True:
        yield Violation(
            f"the service-account token is mounted into {w.container!r}; a model server never "
            "calls the Kubernetes API (set automountServiceAccountToken: false)",
            automount.origin if automount is not None else w.placement.origin,
        )


@rule("debug-log-level", "OBS-009", "The server logs at debug or trace level.")
def debug_log_level(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    level = w.serving.get("uvicorn_log_level")
    if w.engine is None or level is None:
        return
    if str(level.value).lower() in ("debug", "trace"):
        yield Violation(
            f"{level.via} {level.value} in {w.container!r}: debug logs cost throughput and can "
            "carry request data; keep info or warning in production",
            level.origin,
        )


@rule("request-logging-enabled", "SEC-002", "Prompts and their parameters are written to logs.")
def request_logging_enabled(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _server(w)
    setting = w.serving.get("disable_log_requests")
    if w.engine is None or setting is None:
        return
    if setting.value is False:
        yield Violation(
            f"{setting.via} logs every request with its prompt: user data lands in the log "
            "pipeline and its retention; enable it only with a redaction and retention policy",
            setting.origin,
        )
