"""Pod templates inside workload objects: core kinds, LeaderWorkerSet, KServe and KubeRay."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from piqc_advisor.collectors.kubernetes.containers import ContainerSource, container_source
from piqc_advisor.collectors.kubernetes.objects import K8sObject
from piqc_advisor.collectors.tree import Node
from piqc_advisor.facts.origin import Declared, Origin


@dataclass(frozen=True)
class PodTemplate:
    """One pod shape a workload runs, with the role it plays and how many replicas of it."""

    owner: K8sObject
    role: str | None
    spec: Node
    containers: tuple[ContainerSource, ...]
    metadata: Node | None
    platform: str
    replicas: Declared[int] | None
    pods_per_replica: int = 1
    # GPUs this template adds to one replica: its pod's GPUs times this share.
    replica_gpu_share: int = 1
    # Templates of one object with the same group form one replica together (leader + workers).
    replica_group: str | None = None
    hints: Mapping[str, Declared[Any]] = field(default_factory=dict)
    engine_hint: str | None = None
    # False for routers and frontends that sit in front of engines (no engine of their own).
    serves_model: bool = True
    image_override: tuple[str, Origin] | None = None


class AdapterContext:
    """What adapters may look up besides their object: other objects of the inputs."""

    def __init__(self, objects: list[K8sObject]) -> None:
        self.objects = objects
        self._by_kind: dict[str, list[K8sObject]] = {}
        for obj in objects:
            self._by_kind.setdefault(obj.kind, []).append(obj)

    def of_kind(self, *kinds: str) -> list[K8sObject]:
        return [obj for kind in kinds for obj in self._by_kind.get(kind, [])]


# llm-d marks disaggregated pods with their role (prefill, decode, prefill-decode, encode).
LLM_D_ROLE_LABEL = "llm-d.ai/role"

Adapter = Callable[[K8sObject, AdapterContext], list[PodTemplate]]


def declared_int(node: Node | None, key: str, via: str) -> Declared[int] | None:
    if node is None:
        return None
    child = node.get(key)
    value = node.integer(key)
    if child is None or value is None:
        return None
    return Declared(value, child.origin, via)


def declared_value(node: Node | None, key: str, via: str) -> Declared[Any] | None:
    """A scalar field as declared (string, number or boolean), with its origin."""
    if node is None:
        return None
    child = node.get(key)
    if child is None or isinstance(child.value, (dict, list)):
        return None
    return Declared(child.value, child.origin, via)


def containers_of(spec: Node) -> tuple[ContainerSource, ...]:
    return tuple(
        container_source(c) for c in spec.sequence("containers") if isinstance(c.value, dict)
    )


def from_template(
    owner: K8sObject,
    template: Node | None,
    platform: str,
    replicas: Declared[int] | None,
    role: str | None = None,
    **extra: Any,
) -> list[PodTemplate]:
    """A PodTemplate from a `template: {metadata, spec}` node; nothing when it is absent."""
    if template is None:
        return []
    spec = template.mapping("spec")
    if spec is None:
        return []
    metadata = template.mapping("metadata")
    if role is None and metadata is not None:
        role = metadata.string_map("labels").get(LLM_D_ROLE_LABEL)
    return [
        PodTemplate(
            owner=owner,
            role=role,
            spec=spec,
            containers=containers_of(spec),
            metadata=metadata,
            platform=platform,
            replicas=replicas,
            **extra,
        )
    ]


def from_pod_spec(
    owner: K8sObject,
    spec: Node,
    platform: str,
    replicas: Declared[int] | None,
    role: str | None = None,
    **extra: Any,
) -> PodTemplate:
    """A PodTemplate from a node that is itself a pod spec (KServe components, runtimes)."""
    return PodTemplate(
        owner=owner,
        role=role,
        spec=spec,
        containers=containers_of(spec),
        metadata=None,
        platform=platform,
        replicas=replicas,
        **extra,
    )


def _apps(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    replicas = None
    if obj.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        replicas = declared_int(spec, "replicas", "spec.replicas")
    elif obj.kind == "Job":
        replicas = declared_int(spec, "parallelism", "spec.parallelism")
    return from_template(obj, spec.mapping("template"), "kubernetes", replicas)


def _cron_job(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    template = obj.node.at("spec", "jobTemplate", "spec", "template")
    return from_template(obj, template, "kubernetes", None)


def _pod(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    return from_template(obj, obj.node, "kubernetes", None)


def _pod_template(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    return from_template(obj, obj.node.mapping("template"), "kubernetes", None)


def _leader_worker_set(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    lwt = spec.mapping("leaderWorkerTemplate") if spec else None
    if spec is None or lwt is None:
        return []
    replicas = declared_int(spec, "replicas", "spec.replicas")
    size = lwt.integer("size") or 1
    leader = lwt.mapping("leaderTemplate")
    worker = lwt.mapping("workerTemplate")
    templates: list[PodTemplate] = []
    hints: dict[str, Declared[Any]] = {}
    size_decl = declared_int(lwt, "size", "spec.leaderWorkerTemplate.size")
    if size_decl is not None:
        hints["group_size"] = size_decl
    if leader is not None:
        templates += from_template(
            obj,
            leader,
            "leaderworkerset",
            replicas,
            "leader",
            pods_per_replica=size,
            hints=hints,
            replica_group="lws",
        )
        templates += from_template(
            obj,
            worker,
            "leaderworkerset",
            replicas,
            "worker",
            pods_per_replica=size,
            replica_gpu_share=max(size - 1, 0),
            hints=hints,
            replica_group="lws",
        )
    else:
        # Without a leader template every pod of the group, leader included, uses the worker one.
        templates += from_template(
            obj,
            worker,
            "leaderworkerset",
            replicas,
            "worker",
            pods_per_replica=size,
            replica_gpu_share=size,
            hints=hints,
            replica_group="lws",
        )
    return templates


def _runtime_for(model: Node, ctx: AdapterContext, namespace: str | None) -> K8sObject | None:
    """The ServingRuntime a KServe predictor names, or the one supporting its model format."""
    wanted = model.text("runtime")
    model_format = model.mapping("modelFormat")
    format_name = model_format.text("name") if model_format else None
    for runtime in ctx.of_kind("ServingRuntime", "ClusterServingRuntime"):
        if wanted and runtime.name == wanted:
            return runtime
    if wanted or not format_name:
        return None
    for runtime in ctx.of_kind("ServingRuntime", "ClusterServingRuntime"):
        spec = runtime.node.mapping("spec")
        for supported in spec.sequence("supportedModelFormats") if spec else []:
            if (
                supported.text("name") == format_name
                and supported.boolean("autoSelect") is not False
            ):
                return runtime
    return None


def _kserve_component(
    obj: K8sObject, component: Node, role: str, ctx: AdapterContext
) -> list[PodTemplate]:
    replicas = declared_int(component, "minReplicas", f"spec.{role}.minReplicas")
    hints: dict[str, Declared[Any]] = {}
    worker = component.mapping("workerSpec")
    for key, field_name in (
        ("tensor_parallel_size", "tensorParallelSize"),
        ("pipeline_parallel_size", "pipelineParallelSize"),
    ):
        value = declared_int(worker, field_name, f"spec.{role}.workerSpec.{field_name}")
        if value is not None:
            hints[key] = value
    containers = containers_of(component)
    image_override = None
    model = component.mapping("model")
    if model is not None:
        storage = declared_value(model, "storageUri", f"spec.{role}.model.storageUri")
        if storage is not None:
            hints["model"] = storage
        runtime = _runtime_for(model, ctx, obj.namespace)
        runtime_containers = containers_of(runtime.node.mapping("spec") or model) if runtime else ()
        if runtime_containers:
            # KServe runs the runtime's container with the model spec merged over it: the
            # model's resources, env and extra args, the runtime's image and command.
            base = runtime_containers[0]
            image_node = model.get("image") or base.main.get("image")
            image_text = model.text("image") or base.main.text("image")
            if image_node is not None and image_text:
                image_override = (image_text, image_node.origin)
            merged = ContainerSource(
                main=model,
                command_nodes=base.command_nodes,
                arg_nodes=(*(base.arg_nodes or ()), *model.sequence("args")),
                env_nodes=(*base.env_nodes, *model.sequence("env")),
                name=base.main.text("name"),
            )
            containers = (merged, *containers)
        else:
            containers = (container_source(model), *containers)
    templates = [
        PodTemplate(
            owner=obj,
            role=role,
            spec=component,
            containers=containers,
            metadata=None,
            platform="kserve",
            replicas=replicas,
            hints=hints,
            image_override=image_override,
        )
    ]
    if worker is not None and worker.get("containers") is not None:
        templates.append(
            from_pod_spec(obj, worker, "kserve", replicas, f"{role}-worker", hints=hints)
        )
    return templates


def _inference_service(obj: K8sObject, ctx: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    templates: list[PodTemplate] = []
    for role in ("predictor", "transformer", "explainer"):
        component = spec.mapping(role) if spec else None
        if component is not None:
            templates += _kserve_component(obj, component, role, ctx)
    return templates


def _serving_runtime(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    return [from_pod_spec(obj, spec, "kserve", None, "runtime")] if spec is not None else []


def _llm_inference_service(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    hints: dict[str, Declared[Any]] = {}
    model = spec.mapping("model")
    uri = declared_value(model, "uri", "spec.model.uri")
    if uri is not None:
        hints["model"] = uri
    served = declared_value(model, "name", "spec.model.name")
    if served is not None:
        hints["served_model_name"] = served
    templates: list[PodTemplate] = []
    for prefix, section in (("", spec), ("prefill.", spec.mapping("prefill"))):
        if section is None:
            continue
        role = "prefill" if prefix else "decode" if spec.mapping("prefill") else None
        local = dict(hints)
        parallelism = section.mapping("parallelism")
        for key, name in (
            ("tensor_parallel_size", "tensor"),
            ("pipeline_parallel_size", "pipeline"),
            ("data_parallel_size", "data"),
        ):
            value = declared_int(parallelism, name, f"spec.{prefix}parallelism.{name}")
            if value is not None:
                local[key] = value
        replicas = declared_int(section, "replicas", f"spec.{prefix}replicas")
        for part, part_role in (("template", role), ("worker", f"{role or 'main'}-worker")):
            node = section.mapping(part)
            if node is None:
                continue
            templates.append(
                from_pod_spec(obj, node, "kserve-llm", replicas, part_role, hints=local)
            )
    return templates


def ray_cluster_templates(
    obj: K8sObject, spec: Node | None, hints: Mapping[str, Declared[Any]]
) -> list[PodTemplate]:
    if spec is None:
        return []
    templates: list[PodTemplate] = []
    head = spec.mapping("headGroupSpec")
    if head is not None:
        templates += from_template(
            obj, head.mapping("template"), "kuberay", None, "head", hints=hints
        )
    for group in spec.sequence("workerGroupSpecs"):
        name = group.text("groupName") or "workers"
        replicas = declared_int(group, "replicas", f"workerGroupSpecs[{name}].replicas")
        templates += from_template(
            obj, group.mapping("template"), "kuberay", replicas, f"worker:{name}", hints=hints
        )
    return templates


def _ray_service(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    from piqc_advisor.collectors.kubernetes.ray_serve import serve_config_hints

    spec = obj.node.mapping("spec")
    hints = serve_config_hints(spec) if spec is not None else {}
    cluster = spec.mapping("rayClusterConfig") if spec else None
    templates = ray_cluster_templates(obj, cluster, hints)
    if "model" in hints:
        # Ray Serve LLM applications run vLLM engines inside the Ray workers.
        templates = [replace(t, engine_hint="vllm") for t in templates]
    return templates


def _ray_cluster(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    return ray_cluster_templates(obj, obj.node.mapping("spec"), {})


def _ray_job(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    return ray_cluster_templates(obj, spec.mapping("rayClusterSpec") if spec else None, {})


CORE_ADAPTERS: dict[str, Adapter] = {
    "Deployment": _apps,
    "StatefulSet": _apps,
    "DaemonSet": _apps,
    "ReplicaSet": _apps,
    "Job": _apps,
    "CronJob": _cron_job,
    "Pod": _pod,
    "PodTemplate": _pod_template,
    "LeaderWorkerSet": _leader_worker_set,
    "InferenceService": _inference_service,
    "ServingRuntime": _serving_runtime,
    "ClusterServingRuntime": _serving_runtime,
    "LLMInferenceService": _llm_inference_service,
    "RayService": _ray_service,
    "RayCluster": _ray_cluster,
    "RayJob": _ray_job,
}


def find_pod_specs(node: Node, limit: int = 64) -> list[Node]:
    """Pod specs anywhere in an unknown object: mappings holding a `containers` list."""
    found: list[Node] = []
    stack = [node]
    visited = 0
    while stack and len(found) < limit and visited < 20_000:
        current = stack.pop()
        visited += 1
        if isinstance(current.value, dict):
            containers = current.value.get("containers")
            if isinstance(containers, list) and any(isinstance(c, dict) for c in containers):
                found.append(current)
                continue
            children = [child for _, child in current.entries()]
            stack.extend(reversed(children))
        elif isinstance(current.value, list):
            stack.extend(reversed(current.items()))
    return found


def generic_templates(obj: K8sObject) -> list[PodTemplate]:
    """Pod templates found by shape inside an object no adapter understands."""
    templates = []
    for spec in find_pod_specs(obj.node):
        parent = spec.parent
        metadata = (
            parent.mapping("metadata")
            if parent is not None and spec.path[-1:] == ("spec",)
            else None
        )
        role = "/".join(str(p) for p in spec.path[1:-1]) or None
        templates.append(
            PodTemplate(
                owner=obj,
                role=role,
                spec=spec,
                containers=containers_of(spec),
                metadata=metadata,
                platform="unknown-crd",
                replicas=None,
            )
        )
    return templates
