"""Assemble Workload facts from pod templates, engine detection and related objects."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from piqc_advisor.collectors.container_view import ContainerView
from piqc_advisor.collectors.engines import choose_serving_container, serving_config
from piqc_advisor.collectors.kubernetes import pods, relations
from piqc_advisor.collectors.kubernetes.containers import (
    container_view,
    env_from_refs,
    hf_token,
    parse_image,
    probe,
    resource_amounts,
    secret_uses,
)
from piqc_advisor.collectors.kubernetes.device_claims import claimed_accelerator, device_claims
from piqc_advisor.collectors.kubernetes.objects import K8sObject
from piqc_advisor.collectors.kubernetes.templates import PodTemplate
from piqc_advisor.facts.origin import Declared
from piqc_advisor.facts.workload import (
    SERVING_KEYS,
    Accelerator,
    ArgIssue,
    AutoscalerFacts,
    DeviceClaim,
    EngineGuess,
    MonitoringFacts,
    ObjectRef,
    Workload,
)

KSERVE_POD_LABEL = "serving.kserve.io/inferenceservice"
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"


def ref(obj: K8sObject) -> ObjectRef:
    return ObjectRef(obj.kind, obj.name, obj.namespace, obj.origin, obj.api_version)


def _pod_labels(template: PodTemplate) -> dict[str, str]:
    labels = template.metadata.string_map("labels") if template.metadata is not None else {}
    if template.platform == "kserve":
        labels.setdefault(KSERVE_POD_LABEL, template.owner.name)
    if template.replica_group == "lws":
        # The LeaderWorkerSet controller labels every pod with the set's name and pod index.
        labels.setdefault(LWS_NAME_LABEL, template.owner.name)
        if template.role == "leader":
            labels.setdefault(LWS_WORKER_INDEX_LABEL, "0")
    if template.owner.kind == "Pod":
        labels = dict(template.owner.labels)
    return labels


def _pod_annotations(template: PodTemplate) -> dict[str, str]:
    annotations = dict(template.owner.annotations)
    if template.metadata is not None:
        annotations.update(template.metadata.string_map("annotations"))
    return annotations


def _autoscaler(index: relations.RelatedIndex, owner: K8sObject) -> AutoscalerFacts | None:
    scalers = index.scalers_by_target.get((owner.kind, owner.name), [])
    for hpa in (s for s in scalers if s.kind != "ScaledObject"):
        if not relations.scale_target_matches(hpa, owner):
            continue
        spec = hpa.node.mapping("spec")
        metrics: list[str] = []
        for metric in spec.sequence("metrics") if spec else []:
            kind = metric.text("type") or "?"
            detail = metric.mapping(kind[:1].lower() + kind[1:]) if kind != "?" else None
            name = None
            if detail is not None:
                name = detail.text("name") or detail.text_at("metric", "name")
            metrics.append(f"{kind}:{name}" if name else kind)
        for source in spec.sequence("metricsSources") if spec else []:
            metrics.append(f"aibrix:{source.text('targetMetric') or '?'}")
        if spec is not None and spec.get("metrics") is None and spec.get("metricsSources") is None:
            cpu = spec.integer("targetCPUUtilizationPercentage")
            metrics.append(
                "Resource:cpu" if cpu is not None or spec.get("maxReplicas") is not None else "none"
            )
        behavior = spec.at("behavior", "scaleDown") if spec else None
        return AutoscalerFacts(
            ref=ref(hpa),
            min_replicas=_declared_int(spec, "minReplicas"),
            max_replicas=_declared_int(spec, "maxReplicas"),
            metrics=tuple(metrics),
            scale_down_stabilization_seconds=_declared_int(behavior, "stabilizationWindowSeconds"),
        )
    for scaled in (s for s in scalers if s.kind == "ScaledObject"):
        if not relations.scale_target_matches(scaled, owner):
            continue
        spec = scaled.node.mapping("spec")
        triggers = []
        for trigger in spec.sequence("triggers") if spec else []:
            trigger_metric = trigger.text_at("metadata", "metricName") or trigger.text_at(
                "metadata", "query"
            )
            kind = trigger.text("type") or "?"
            triggers.append(f"keda:{kind}:{trigger_metric}" if trigger_metric else f"keda:{kind}")
        return AutoscalerFacts(
            ref=ref(scaled),
            min_replicas=_declared_int(spec, "minReplicaCount"),
            max_replicas=_declared_int(spec, "maxReplicaCount"),
            metrics=tuple(triggers),
            scale_down_stabilization_seconds=None,
        )
    return None


def _declared_int(node: Any, key: str) -> Declared[int] | None:
    if node is None:
        return None
    child = node.get(key)
    value = node.integer(key)
    return Declared(value, child.origin, key) if child is not None and value is not None else None


def _monitoring(
    index: relations.RelatedIndex,
    owner: K8sObject,
    services: Sequence[K8sObject],
    pod_labels: dict[str, str],
    annotations: dict[str, str],
) -> MonitoringFacts:
    scraped_by: list[ObjectRef] = []
    for service in services:
        for monitor in index.service_monitor_index.matching(service, service.labels):
            if ref(monitor) not in scraped_by:
                scraped_by.append(ref(monitor))
    for monitor in index.pod_monitor_index.matching(owner, pod_labels):
        scraped_by.append(ref(monitor))
    prom = {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")}
    for service in services:
        for key, value in service.annotations.items():
            if key.startswith("prometheus.io/"):
                prom.setdefault(key, value)
    return MonitoringFacts(tuple(scraped_by), prom, prom.get("prometheus.io/port"))


def _exposure(
    index: relations.RelatedIndex,
    services: Sequence[K8sObject],
    pod_labels: dict[str, str],
    owner: K8sObject,
) -> list[ObjectRef]:
    exposed: list[ObjectRef] = []
    names = {s.name for s in services}
    for service in services:
        service_type = service.node.at("spec")
        kind = service_type.text("type") if service_type is not None else None
        if kind in ("LoadBalancer", "NodePort"):
            exposed.append(ref(service))
    for name in sorted(names):
        for route in index.routes_by_service.get(name, []):
            if route.same_namespace(owner):
                exposed.append(ref(route))
    pools = [
        pool
        for pool in index.inference_pools
        if pool.same_namespace(owner)
        and (selector := _pool_selector(pool)) is not None
        and selector.matches(pod_labels)
    ]
    pool_names = {p.name for p in pools}
    exposed.extend(ref(p) for p in pools)
    for route in index.http_routes:
        if route.same_namespace(owner) and relations.pool_names_from_routes([route]) & pool_names:
            exposed.append(ref(route))
    return list(dict.fromkeys(exposed))


def _pool_selector(pool: K8sObject) -> relations.Selector | None:
    selector = pool.node.at("spec", "selector")
    if selector is None:
        return None
    if selector.get("matchLabels") is not None:
        return relations.selector_from(selector)
    return relations.selector_from(selector, plain_map=True)


def build_workloads(
    templates: Sequence[PodTemplate], index: relations.RelatedIndex, unique: bool = True
) -> list[Workload]:
    """One Workload per pod template, with the GPUs of a whole replica group worked out.

    With `unique` False the ids are left as built, for a caller that merges several lists
    and makes the ids unique over all of them (`unique_ids`).
    """
    gpu_totals: dict[str, int] = {}
    built: list[tuple[PodTemplate, dict[str, Any]]] = []
    for template in templates:
        parts = _template_parts(template, index)
        built.append((template, parts))
        accelerator = parts["accelerator"]
        if accelerator is not None:
            key = template.owner.key
            gpu_totals[key] = (
                gpu_totals.get(key, 0) + accelerator.count * template.replica_gpu_share
            )
    workloads = []
    for template, parts in built:
        gpus = gpu_totals.get(template.owner.key)
        if template.platform != "leaderworkerset":
            gpus = parts["accelerator"].count if parts["accelerator"] is not None else None
        workloads.append(Workload(gpus_per_replica=gpus, **parts))
    workloads.sort(key=lambda w: (w.source.path, w.source.line, w.id))
    return unique_ids(workloads) if unique else workloads


def repeated_ids(ids: Iterable[str]) -> set[str]:
    """Ids given to more than one workload (the same object declared in two files)."""
    return {workload_id for workload_id, count in Counter(ids).items() if count > 1}


def id_in_file(workload_id: str, path: str) -> str:
    """A repeated id made distinct by the file that declares it."""
    return f"{workload_id}@{path}"


def unique_ids(workloads: list[Workload]) -> list[Workload]:
    """The same object declared in two files gets its file in the id, so subjects stay distinct."""
    repeated = repeated_ids(w.id for w in workloads)
    return [
        replace(w, id=id_in_file(w.id, w.source.path)) if w.id in repeated else w for w in workloads
    ]


def _template_parts(template: PodTemplate, index: relations.RelatedIndex) -> dict[str, Any]:
    owner = template.owner
    views: list[ContainerView] = []
    for candidate in template.containers:
        files = pods.config_files(template.spec, candidate.main, owner, index.config_maps_by_name)
        views.append(container_view(candidate, files, template.image_override))
    chosen, guesses = choose_serving_container(views) if views else (None, {})
    position = chosen if chosen is not None else (0 if views else None)
    view = views[position] if position is not None else None
    source = template.containers[position] if position is not None else None
    engine: EngineGuess | None = guesses.get(chosen) if chosen is not None else None
    hint_signal = f"resource:{owner.kind}"
    if not template.serves_model:
        engine = None
    elif template.engine_hint is not None and (
        engine is None or engine.name != template.engine_hint
    ):
        # The custom resource says which engine it runs; that beats a guess from the image.
        signals = (hint_signal, *(engine.signals if engine is not None else ()))
        engine = EngineGuess(template.engine_hint, 0.9, signals)
    elif engine is not None and template.engine_hint is not None:
        engine = replace(engine, signals=(hint_signal, *engine.signals))
    declared: dict[str, Declared[Any] | None] = dict.fromkeys(SERVING_KEYS)
    effective: dict[str, Any] = {}
    issues: tuple[ArgIssue, ...] = ()
    if view is not None and engine is not None:
        extraction = serving_config(view, engine.name)
        declared.update(extraction.declared)
        effective = dict(extraction.effective)
        issues = tuple(extraction.issues)
        if template.role is not None and template.role.endswith("worker"):
            # Workers of a multi-node group join the leader's engine; they start no server.
            issues = tuple(i for i in issues if i.kind != "invocation_not_found")
    for key, hint in template.hints.items():
        current = declared.get(key, hint)
        if key in declared and (current is None or _unrendered(current.value)):
            declared[key] = hint
    for key, setting in declared.items():
        if setting is not None:
            declared[key] = normalize_setting(key, setting)
    for key, setting in declared.items():
        if setting is not None:
            effective[key] = setting.value
    if declared.get("model") is not None:
        # The custom resource named the model, so a missing model flag is not a problem.
        issues = tuple(i for i in issues if i.kind != "no_model")
    pod_labels = _pod_labels(template)
    annotations = _pod_annotations(template)
    services = relations.services_for(index, owner, pod_labels) if pod_labels else []
    main = source.main if source is not None else template.spec
    env_refs = env_from_refs(main) if source is not None else ()
    secrets = secret_uses(view, env_refs) if view is not None else ()
    pdbs = index.pdb_index.matching(owner, pod_labels) if pod_labels else []
    policies = index.policy_index.matching(owner, pod_labels)
    image = None
    if view is not None and view.image and view.image_origin is not None:
        image = parse_image(view.image, view.image_origin)
    container_name = view.name if view is not None else None
    role_part = f"#{template.role}" if template.role else ""
    identity = f"{owner.kind}/{owner.namespace or 'default'}/{owner.name}{role_part}"
    if container_name:
        identity += f"/{container_name}"
    storage_model = declared.get("model")
    claims = (
        device_claims(template.spec, main, owner, index.claims_by_name)
        if source is not None
        else ()
    )
    monitoring = _monitoring(index, owner, services, pod_labels, annotations)
    exposure = _exposure(index, services, pod_labels, owner)
    related = [ref(s) for s in services] + [ref(p) for p in pdbs] + [ref(p) for p in policies]
    related += list(monitoring.scraped_by) + exposure
    autoscaler = _autoscaler(index, owner)
    if autoscaler is not None:
        related.append(autoscaler.ref)
    return {
        "id": identity,
        "name": owner.name,
        "namespace": owner.namespace,
        "kind": owner.kind,
        "api_version": owner.api_version,
        "platform": template.platform,
        "role": template.role,
        "container": container_name,
        "source": owner.origin,
        "labels": dict(owner.labels),
        "pod_labels": pod_labels,
        "engine": engine,
        "serving": declared,
        "effective": effective,
        "arg_issues": issues,
        "accelerator": _accelerator(template, claims),
        "device_claims": claims,
        "pods_per_replica": template.pods_per_replica,
        "replicas": template.replicas,
        "probes": {
            kind: probe(main, f"{kind}Probe") if source is not None else None
            for kind in ("readiness", "liveness", "startup")
        },
        "image": image,
        "shm_volume": pods.shm_volume(template.spec, main) if source is not None else None,
        "hf_token": hf_token(secrets),
        "secrets": secrets,
        "resources": resource_amounts(main),
        "security": pods.security(template.spec, main),
        "placement": pods.placement(template.spec),
        "model_storage": pods.model_storage(template.spec, main, storage_model, view)
        if view is not None
        else pods.model_storage(template.spec, main, storage_model, _empty_view(template)),
        "ports": tuple(p for _, p in view.ports) if view is not None else (),
        "env_names": tuple(view.env) if view is not None else (),
        "annotations": annotations,
        "container_origin": view.origin if view is not None else None,
        "autoscaler": autoscaler,
        "pdb": ref(pdbs[0]) if pdbs else None,
        "network_policies": tuple(ref(p) for p in policies),
        "services": tuple(ref(s) for s in services),
        "exposure": tuple(exposure),
        "monitoring": monitoring,
        "related": tuple(dict.fromkeys(related)),
    }


def _accelerator(template: PodTemplate, claims: Sequence[DeviceClaim]) -> Accelerator | None:
    """Accelerators from pod resources, a custom resource's fields, or counted DRA claims."""
    found = pods.accelerator_for(template.spec, template.containers)
    if found is None:
        claimed = claimed_accelerator(claims)
        if claimed is not None:
            gpu = pods.gpu_type(template.spec)
            found = replace(
                claimed, type=gpu[0] if gpu else None, type_source=gpu[1] if gpu else None
            )
    count = template.hints.get("accelerator_count")
    kind = template.hints.get("accelerator_type")
    if found is None and count is not None and isinstance(count.value, int):
        return Accelerator(
            resource=str(template.hints["accelerator_resource"].value)
            if "accelerator_resource" in template.hints
            else "nvidia.com/gpu",
            count=count.value,
            request=count.value,
            limit=count.value,
            origin=count.origin,
            type=str(kind.value) if kind is not None else None,
            type_source=kind.via if kind is not None else None,
        )
    if found is not None and found.type is None and kind is not None:
        return replace(found, type=str(kind.value), type_source=kind.via)
    return found


_INT_KEYS = frozenset(
    {
        "tensor_parallel_size",
        "pipeline_parallel_size",
        "data_parallel_size",
        "max_model_len",
        "max_num_seqs",
        "max_num_batched_tokens",
        "port",
    }
)
_FLOAT_KEYS = frozenset({"gpu_memory_utilization"})
_BOOL_KEYS = frozenset(
    {
        "enable_prefix_caching",
        "enable_chunked_prefill",
        "enforce_eager",
        "enable_lora",
        "trust_remote_code",
        "expert_parallel",
        "disable_log_requests",
    }
)


def normalize_setting(key: str, setting: Declared[Any]) -> Declared[Any]:
    """One type per serving key whatever declared it; credentials never keep their value."""
    value = setting.value
    if key == "api_key":
        if not (isinstance(value, str) and value.startswith("<")):
            return replace(setting, value="<redacted>")
        return setting
    if key == "served_model_name" and isinstance(value, str):
        return replace(setting, value=[value])
    if not isinstance(value, str) or _unrendered(value) or value.startswith(("$", "<")):
        return setting
    text = value.strip()
    try:
        if key in _INT_KEYS:
            return replace(setting, value=int(text))
        if key in _FLOAT_KEYS:
            return replace(setting, value=float(text))
    except ValueError:
        return setting
    if key in _BOOL_KEYS and text.lower() in ("true", "false", "1", "0", "yes", "no"):
        return replace(setting, value=text.lower() in ("true", "1", "yes"))
    return setting


def _unrendered(value: object) -> bool:
    """A value that is still a template placeholder ({{ ... }}), filled in by a controller."""
    return isinstance(value, str) and "{{" in value


def _empty_view(template: PodTemplate) -> ContainerView:
    return ContainerView(
        name="",
        image=None,
        origin=template.spec.origin,
        tokens=(),
        command_given=False,
        env={},
        ports=(),
        token_origin=lambda _token: template.spec.origin,
    )
