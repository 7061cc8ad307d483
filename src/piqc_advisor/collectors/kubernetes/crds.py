"""Adapters for LLM-serving custom resources (production-stack, AIBrix, KubeAI, NIM, ...)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from piqc_advisor.collectors.kubernetes.containers import ContainerSource, container_source
from piqc_advisor.collectors.kubernetes.objects import K8sObject
from piqc_advisor.collectors.kubernetes.templates import (
    Adapter,
    AdapterContext,
    PodTemplate,
    containers_of,
    declared_int,
    declared_value,
    from_template,
    generic_templates,
    ray_cluster_templates,
)
from piqc_advisor.collectors.tree import Node
from piqc_advisor.collectors.yaml_source import Document, LocatedMap, parse_documents
from piqc_advisor.facts.origin import Declared
from piqc_advisor.facts.workload import SERVING_KEYS

Hints = dict[str, Declared[Any]]

# ---------- shared helpers


def _subset(node: Node, keys: Iterable[str]) -> Node:
    """The same mapping restricted to `keys`: positions and pointers stay those of the file.

    Used where a custom resource mixes container fields with fields of another shape
    (an `image` mapping, probes wrapped in `{enabled, probe}`) that the container readers
    would misread.
    """
    source = node.value
    view = LocatedMap()
    if isinstance(source, LocatedMap):
        view.line, view.col = source.line, source.col
        view.key_lines, view.value_lines = {}, {}
        for key in keys:
            if key in source:
                view[key] = source[key]
                view.key_lines[key] = source.key_lines[key]
                view.value_lines[key] = source.value_lines[key]
    return Node(view, node.context, node.path, node.parent)


def _env_from_map(env: Node | None) -> tuple[Node, ...]:
    """Env given as a `{NAME: value}` map, turned into `{name, value}` entries at the key's line."""
    if env is None or not isinstance(env.value, LocatedMap):
        return ()
    entries: list[Node] = []
    for name, child in env.entries():
        if isinstance(child.value, (dict, list)):
            continue
        position = env.value.key_lines[name]
        entry = LocatedMap(name=name, value=child.value)
        entry.line, entry.col = position
        entry.key_lines = {"name": position, "value": position}
        entry.value_lines = dict(entry.key_lines)
        entries.append(Node(entry, env.context, (*env.path, name), env))
    return tuple(entries)


def _number(value: Any, kind: type) -> Any:
    """A numeric field written as text ("0.9", "2") as the number it means; else as written."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value
    try:
        return kind(value)
    except ValueError:
        return value


def _put(
    hints: Hints, key: str, node: Node | None, field: str, via: str, kind: type | None = None
) -> None:
    """Record a scalar field as a hint (first writer wins), converted to `kind` when given."""
    if key in hints:
        return
    found = declared_value(node, field, via)
    if found is None:
        return
    if kind is not None:
        found = Declared(_number(found.value, kind), found.origin, found.via)
    hints[key] = found


def _gpu_count(node: Node | None, field: str, via: str) -> Declared[int] | None:
    """A GPU count written as a number or a numeric string ("1")."""
    found = declared_value(node, field, via)
    if found is None:
        return None
    value = _number(found.value, int)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return Declared(value, found.origin, via)


def _times(
    outer: Declared[int] | None, inner: Declared[int] | None, via: str
) -> Declared[int] | None:
    """Pods of a role when an outer object is itself replicated (RoleSets, Ray clusters)."""
    if outer is None or outer.value == 1:
        return inner
    if inner is None:
        return outer
    return Declared(outer.value * inner.value, inner.origin, via)


def _args_source(
    main: Node,
    args: Sequence[Node] | None,
    env: Sequence[Node] = (),
    command: Sequence[Node] | None = None,
) -> ContainerSource:
    """A container assembled from fields a custom resource keeps in different places."""
    return ContainerSource(
        main=main,
        command_nodes=tuple(command) if command is not None else None,
        arg_nodes=tuple(args) if args is not None else None,
        env_nodes=tuple(env),
    )


def _template(
    obj: K8sObject,
    spec: Node,
    platform: str,
    replicas: Declared[int] | None,
    role: str | None = None,
    containers: tuple[ContainerSource, ...] | None = None,
    metadata: Node | None = None,
    **extra: Any,
) -> PodTemplate:
    return PodTemplate(
        owner=obj,
        role=role,
        spec=spec,
        containers=containers_of(spec) if containers is None else containers,
        metadata=metadata,
        platform=platform,
        replicas=replicas,
        **extra,
    )


def _only(groups: tuple[str, ...], adapter: Adapter) -> Adapter:
    """Dispatch on the API group for kinds whose names other projects use too.

    Objects of another group get the shape-based reading of unknown resources.
    """

    def dispatch(obj: K8sObject, ctx: AdapterContext) -> list[PodTemplate]:
        if obj.group in groups:
            return adapter(obj, ctx)
        return generic_templates(obj)

    dispatch.__name__ = getattr(adapter, "__name__", "dispatch")
    return dispatch


def _embedded_root(child: Node | None) -> Node | None:
    """A YAML document held in a string field (a ConfigMap key), lines kept those of the file."""
    if child is None or not isinstance(child.value, str):
        return None
    outer = child.context.document
    first_line = child.origin.line + 1 if "\n" in child.value else child.origin.line
    documents, _ = parse_documents("\n" * (first_line - 1) + child.value, outer.path)
    if not documents or documents[0].data is None:
        return None
    return Node.root(
        Document(
            path=outer.path,
            index=outer.index,
            line=first_line,
            data=documents[0].data,
            template=outer.template,
            template_line_offset=outer.template_line_offset,
        )
    )


def _config_map(ctx: AdapterContext, owner: K8sObject, name: str) -> K8sObject | None:
    for config_map in ctx.of_kind("ConfigMap"):
        if config_map.name == name and config_map.same_namespace(owner):
            return config_map
    return None


def _engine_settings(hints: Hints, settings: Node | None, via: str) -> None:
    """Engine options written as a map of flag names (`tensor-parallel-size: 2`)."""
    for key, node in settings.entries() if settings is not None else []:
        normalized = key.lstrip("-").replace("-", "_")
        scalar = not isinstance(node.value, (dict, list))
        if normalized in SERVING_KEYS and normalized not in hints and scalar:
            hints[normalized] = Declared(node.value, node.origin, f"{via}.{key}")


# ---------- vLLM production-stack

PRODUCTION_STACK_GROUPS = ("production-stack.vllm.ai", "serving.vllm.ai")


def _production_stack_section(
    obj: K8sObject, section: Node, prefix: str, role: str | None
) -> list[PodTemplate]:
    model = section.mapping("model")
    vllm = section.mapping("vllmConfig")
    deploy = section.mapping("deploymentConfig")
    resources = deploy.mapping("resources") if deploy else None
    hints: Hints = {}
    _put(hints, "model", model, "modelURL", f"{prefix}model.modelURL")
    for source, name in ((model, "model"), (vllm, "vllmConfig")):
        _put(hints, "max_model_len", source, "maxModelLen", f"{prefix}{name}.maxModelLen", int)
        _put(hints, "dtype", source, "dtype", f"{prefix}{name}.dtype")
        _put(hints, "max_num_seqs", source, "maxNumSeqs", f"{prefix}{name}.maxNumSeqs", int)
    _put(hints, "enable_lora", model, "enableLoRA", f"{prefix}model.enableLoRA")
    for key, field, kind in (
        ("tensor_parallel_size", "tensorParallelSize", int),
        ("gpu_memory_utilization", "gpuMemoryUtilization", float),
        ("port", "port", int),
        ("enable_prefix_caching", "enablePrefixCaching", None),
        ("enable_chunked_prefill", "enableChunkedPrefill", None),
    ):
        _put(hints, key, vllm, field, f"{prefix}vllmConfig.{field}", kind)
    gpus = _gpu_count(resources, "gpu", f"{prefix}deploymentConfig.resources.gpu")
    if gpus is not None:
        hints["accelerator_count"] = gpus
        _put(
            hints,
            "accelerator_resource",
            resources,
            "gpuType",
            f"{prefix}deploymentConfig.resources.gpuType",
        )
    autoscaling = section.mapping("autoscalingConfig")
    _put(
        hints,
        "min_replicas",
        autoscaling,
        "minReplicas",
        f"{prefix}autoscalingConfig.minReplicas",
        int,
    )
    _put(
        hints,
        "max_replicas",
        autoscaling,
        "maxReplicas",
        f"{prefix}autoscalingConfig.maxReplicas",
        int,
    )
    image = deploy.mapping("image") if deploy else None
    image_override = None
    name_node = image.get("name") if image else None
    if image is not None and name_node is not None and isinstance(name_node.value, str):
        registry = image.text("registry")
        ref = f"{registry.rstrip('/')}/{name_node.value}" if registry else name_node.value
        image_override = (ref, name_node.origin)
    main = _subset(vllm, ("env",)) if vllm is not None else _subset(section, ())
    extra = vllm.get("extraArgs") if vllm else None
    args = vllm.sequence("extraArgs") if vllm is not None and extra is not None else None
    container = _args_source(main, args, vllm.sequence("env") if vllm else ())
    return [
        _template(
            obj,
            section,
            "production-stack",
            declared_int(deploy, "replicas", f"{prefix}deploymentConfig.replicas"),
            role,
            containers=(container,),
            hints=hints,
            engine_hint="vllm",
            image_override=image_override,
        )
    ]


def _vllm_runtime(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    topology = spec.mapping("topology")
    if topology is not None:
        templates: list[PodTemplate] = []
        for role in ("prefill", "decode"):
            section = topology.mapping(role)
            if section is not None:
                templates += _production_stack_section(obj, section, f"spec.topology.{role}.", role)
        if templates:
            return templates
    return _production_stack_section(obj, spec, "spec.", None)


# ---------- AIBrix

AIBRIX_ENGINE_LABEL = "model.aibrix.ai/engine"


def _aibrix_roles(
    obj: K8sObject, roles: list[Node], outer: Declared[int] | None, prefix: str
) -> list[PodTemplate]:
    templates: list[PodTemplate] = []
    for index, role in enumerate(roles):
        name = role.text("name") or f"role-{index}"
        via = f"{prefix}roles[{name}].replicas"
        replicas = _times(outer, declared_int(role, "replicas", via), f"spec.replicas × {via}")
        group = role.integer("podGroupSize") or 1
        hints: Hints = {}
        size = declared_int(role, "podGroupSize", f"{prefix}roles[{name}].podGroupSize")
        if size is not None:
            hints["group_size"] = size
        template = role.mapping("template")
        metadata = template.mapping("metadata") if template else None
        labels = metadata.string_map("labels") if metadata else {}
        for found in from_template(obj, template, "aibrix", replicas, name, hints=hints):
            templates.append(
                replace(
                    found,
                    pods_per_replica=group,
                    replica_gpu_share=group,
                    engine_hint=labels.get(AIBRIX_ENGINE_LABEL),
                )
            )
    return templates


def _storm_service(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    roleset = spec.at("template", "spec") if spec else None
    if spec is None or roleset is None:
        return []
    outer = declared_int(spec, "replicas", "spec.replicas")
    return _aibrix_roles(obj, roleset.sequence("roles"), outer, "spec.template.spec.")


def _role_set(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    return _aibrix_roles(obj, spec.sequence("roles"), None, "spec.") if spec else []


def _ray_cluster_fleet(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    cluster = spec.at("template", "spec") if spec else None
    if spec is None or cluster is None:
        return []
    fleet = declared_int(spec, "replicas", "spec.replicas")
    templates = []
    for found in ray_cluster_templates(obj, cluster, {}):
        if found.role == "head":
            replicas = fleet
        else:
            replicas = _times(
                fleet,
                found.replicas,
                f"spec.replicas × {found.replicas.via}" if found.replicas else "",
            )
        templates.append(replace(found, platform="aibrix", replicas=replicas))
    return templates


# ---------- KubeAI

KUBEAI_ENGINES = {
    "vllm": "vllm",
    "ollama": "ollama",
    "infinity": "infinity",
    "fasterwhisper": "faster-whisper",
}
# Resource profile name prefixes of the KubeAI chart, and the device resource each one requests.
KUBEAI_PROFILE_PREFIXES = (
    ("nvidia-gpu-", "nvidia.com/gpu"),
    ("amd-gpu-", "amd.com/gpu"),
    ("google-tpu-", "google.com/tpu"),
)


def _resource_profile(hints: Hints, spec: Node) -> None:
    """`nvidia-gpu-l4:2` -> two accelerators of type `l4`; CPU profiles add nothing."""
    child = spec.get("resourceProfile")
    text = spec.text("resourceProfile")
    if child is None or not text:
        return
    profile, _, count_text = text.partition(":")
    profile = profile.strip()
    if not profile or profile.lower().startswith("cpu"):
        return
    count = int(count_text) if count_text.strip().isdigit() else 1
    via = "spec.resourceProfile"
    hints["accelerator_count"] = Declared(count, child.origin, via)
    kind = profile
    for prefix, resource in KUBEAI_PROFILE_PREFIXES:
        if profile.lower().startswith(prefix):
            kind = profile[len(prefix) :]
            hints["accelerator_resource"] = Declared(resource, child.origin, via)
            break
    hints["accelerator_type"] = Declared(kind, child.origin, via)


def _kubeai_model(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    hints: Hints = {}
    _put(hints, "model", spec, "url", "spec.url")
    _resource_profile(hints, spec)
    _put(hints, "min_replicas", spec, "minReplicas", "spec.minReplicas", int)
    _put(hints, "max_replicas", spec, "maxReplicas", "spec.maxReplicas", int)
    features = spec.get("features")
    if features is not None and isinstance(features.value, list):
        names = tuple(str(f.value) for f in spec.sequence("features"))
        hints["features"] = Declared(names, features.origin, "spec.features")
    engine = (spec.text("engine") or "").lower()
    args = spec.sequence("args") if spec.get("args") is not None else None
    container = _args_source(_subset(spec, ("image",)), args, _env_from_map(spec.mapping("env")))
    replicas = declared_int(spec, "replicas", "spec.replicas") or declared_int(
        spec, "minReplicas", "spec.minReplicas"
    )
    return [
        _template(
            obj,
            spec,
            "kubeai",
            replicas,
            containers=(container,),
            hints=hints,
            engine_hint=KUBEAI_ENGINES.get(engine, engine or None),
        )
    ]


# ---------- NVIDIA NIM Operator


def _nim_service(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    hints: Hints = {}
    service = spec.at("expose", "service")
    _put(hints, "port", service, "port", "spec.expose.service.port", int)
    _put(hints, "port", service, "openaiPort", "spec.expose.service.openaiPort", int)
    scale = spec.mapping("scale")
    hpa = scale.mapping("hpa") if scale else None
    for bounds, prefix in ((hpa, "spec.scale.hpa."), (scale, "spec.scale.")):
        _put(hints, "min_replicas", bounds, "minReplicas", f"{prefix}minReplicas", int)
        _put(hints, "max_replicas", bounds, "maxReplicas", f"{prefix}maxReplicas", int)
    cache = spec.at("storage", "nimCache") or spec.mapping("nimCache")
    if cache is not None:
        via = "spec.storage.nimCache" if spec.at("storage", "nimCache") else "spec.nimCache"
        _put(hints, "nim_cache", cache, "name", f"{via}.name")
        _put(hints, "nim_profile", cache, "profile", f"{via}.profile")
    _put(hints, "storage_pvc", spec.at("storage", "pvc"), "name", "spec.storage.pvc.name")
    image = spec.mapping("image")
    repository = image.get("repository") if image else None
    image_override = None
    if image is not None and repository is not None and isinstance(repository.value, str):
        tag = image.text("tag")
        ref = f"{repository.value}:{tag}" if tag else repository.value
        image_override = (ref, repository.origin)
    main = _subset(spec, ("resources", "env", "envFrom", "volumeMounts"))
    command = spec.sequence("command") if spec.get("command") is not None else None
    args = spec.sequence("args") if spec.get("args") is not None else None
    container = _args_source(main, args, spec.sequence("env"), command)
    replicas = declared_int(spec, "replicas", "spec.replicas")
    if replicas is None and scale is not None and scale.boolean("enabled") is not False:
        replicas = declared_int(hpa, "minReplicas", "spec.scale.hpa.minReplicas") or declared_int(
            scale, "minReplicas", "spec.scale.minReplicas"
        )
    return [
        _template(
            obj,
            spec,
            "nim-operator",
            replicas,
            containers=(container,),
            hints=hints,
            engine_hint="nim",
            image_override=image_override,
        )
    ]


# ---------- NVIDIA Dynamo

DYNAMO_MODULE = re.compile(r"\bdynamo\.(vllm|sglang|trtllm)\b")
DYNAMO_ROLES = ("prefill", "decode")


def _dynamo_engine(source: ContainerSource | None, backend: str | None) -> str | None:
    if source is not None:
        words = [
            str(n.value)
            for n in (*(source.command_nodes or ()), *(source.arg_nodes or ()))
            if isinstance(n.value, (str, int, float))
        ]
        match = DYNAMO_MODULE.search(" ".join(words))
        if match:
            return match.group(1)
        if any("dynamo.frontend" in word or "dynamo.planner" in word for word in words):
            return None
    return backend


def _dynamo_role(name: str, kind: str | None, counts: dict[str, int]) -> str:
    if kind in DYNAMO_ROLES:
        return kind if counts.get(kind, 0) == 1 else f"{kind}:{name}"
    return name


def _dynamo_v1alpha1(obj: K8sObject, spec: Node, services: Node) -> list[PodTemplate]:
    backend = (spec.text("backendFramework") or "").lower() or None
    graph_env = spec.sequence("envs")
    entries = list(services.entries())
    kinds = {name: (svc.text("subComponentType") or "").lower() or None for name, svc in entries}
    counts: dict[str, int] = {}
    for kind in kinds.values():
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    templates = []
    for name, svc in entries:
        if not isinstance(svc.value, dict):
            continue
        prefix = f"spec.services.{name}."
        pod = svc.mapping("extraPodSpec")
        main = pod.mapping("mainContainer") if pod else None
        containers: list[ContainerSource] = []
        source = None
        if main is not None:
            base = container_source(main)
            source = ContainerSource(
                main=main,
                command_nodes=base.command_nodes,
                arg_nodes=base.arg_nodes,
                env_nodes=(*graph_env, *svc.sequence("envs"), *main.sequence("env")),
            )
            containers.append(source)
        if pod is not None:
            containers += containers_of(pod)
        hints: Hints = {}
        resources = svc.mapping("resources")
        for section in ("limits", "requests"):
            gpus = _gpu_count(
                resources.mapping(section) if resources else None,
                "gpu",
                f"{prefix}resources.{section}.gpu",
            )
            if gpus is not None:
                hints["accelerator_count"] = gpus
                break
        nodes = declared_int(svc.mapping("multinode"), "nodeCount", f"{prefix}multinode.nodeCount")
        if nodes is not None:
            hints["node_count"] = nodes
        _put(hints, "component_type", svc, "componentType", f"{prefix}componentType")
        count = nodes.value if nodes is not None else 1
        component = (svc.text("componentType") or "worker").lower()
        fallback = None if component in ("frontend", "main", "planner") else backend
        templates.append(
            _template(
                obj,
                pod if pod is not None else svc,
                "dynamo",
                declared_int(svc, "replicas", f"{prefix}replicas"),
                _dynamo_role(name, kinds[name], counts),
                containers=tuple(containers),
                metadata=svc.mapping("extraPodMetadata"),
                pods_per_replica=count,
                replica_gpu_share=count,
                hints=hints,
                engine_hint=_dynamo_engine(source, fallback),
                serves_model=component not in ("frontend", "main", "planner"),
            )
        )
    return templates


def _dynamo_v1beta1(obj: K8sObject, spec: Node, components: list[Node]) -> list[PodTemplate]:
    backend = (spec.text("backendFramework") or "").lower() or None
    kinds = [(c.text("type") or "").lower() or None for c in components]
    counts: dict[str, int] = {}
    for kind in kinds:
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    templates = []
    for index, (component, kind) in enumerate(zip(components, kinds, strict=True)):
        name = component.text("name") or f"component-{index}"
        prefix = f"spec.components[{name}]."
        pod_template = component.mapping("podTemplate")
        pod = pod_template.mapping("spec") if pod_template else None
        hints: Hints = {}
        nodes = declared_int(
            component.mapping("multinode"), "nodeCount", f"{prefix}multinode.nodeCount"
        )
        if nodes is not None:
            hints["node_count"] = nodes
        count = nodes.value if nodes is not None else 1
        containers = containers_of(pod) if pod is not None else ()
        engine = None
        if kind not in ("frontend", "planner"):
            engine = _dynamo_engine(containers[0] if containers else None, backend)
        templates.append(
            _template(
                obj,
                pod if pod is not None else component,
                "dynamo",
                declared_int(component, "replicas", f"{prefix}replicas"),
                _dynamo_role(name, kind, counts),
                containers=containers,
                metadata=pod_template.mapping("metadata") if pod_template else None,
                pods_per_replica=count,
                replica_gpu_share=count,
                hints=hints,
                engine_hint=engine,
                serves_model=kind not in ("frontend", "planner"),
            )
        )
    return templates


def _dynamo_graph(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    services = spec.mapping("services")
    if services is not None:
        return _dynamo_v1alpha1(obj, spec, services)
    return _dynamo_v1beta1(obj, spec, spec.sequence("components"))


# ---------- llm-d


def _model_service(obj: K8sObject, _: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    shared: Hints = {}
    _put(shared, "model", spec.mapping("modelArtifacts"), "uri", "spec.modelArtifacts.uri")
    _put(
        shared, "served_model_name", spec.mapping("routing"), "modelName", "spec.routing.modelName"
    )
    templates = []
    for role in ("prefill", "decode"):
        section = spec.mapping(role)
        if section is None:
            continue
        prefix = f"spec.{role}."
        hints = dict(shared)
        parallelism = section.mapping("parallelism")
        for key, field in (("tensor_parallel_size", "tensor"), ("data_parallel_size", "data")):
            _put(hints, key, parallelism, field, f"{prefix}parallelism.{field}", int)
        tensor = hints.get("tensor_parallel_size")
        if tensor is not None and isinstance(tensor.value, int):
            # The API documents the tensor degree as the number of GPUs of a pod.
            hints["accelerator_count"] = tensor
        accelerators = section.mapping("acceleratorTypes")
        values = accelerators.sequence("labelValues") if accelerators else []
        if values and isinstance(values[0].value, str):
            hints["accelerator_type"] = Declared(
                values[0].value, values[0].origin, f"{prefix}acceleratorTypes.labelValues"
            )
        templates.append(
            _template(
                obj,
                section,
                "llm-d",
                declared_int(section, "replicas", f"{prefix}replicas"),
                role,
                hints=hints,
                engine_hint="vllm",
            )
        )
    return templates


# ---------- KAITO

KAITO_RUNTIME_ANNOTATION = "kaito.sh/runtime"
KAITO_CONFIG_KEY = "inference_config.yaml"


def _kaito_config(hints: Hints, obj: K8sObject, inference: Node, ctx: AdapterContext) -> None:
    """Engine settings of the ConfigMap named by `inference.config` (its `vllm:` section)."""
    name = inference.text("config")
    config_map = _config_map(ctx, obj, name) if name else None
    data = config_map.node.mapping("data") if config_map else None
    root = _embedded_root(data.get(KAITO_CONFIG_KEY) if data else None)
    runtime = root.mapping("vllm") if root is not None else None
    _engine_settings(hints, runtime, f"ConfigMap {name} vllm")


def _kaito_workspace(obj: K8sObject, ctx: AdapterContext) -> list[PodTemplate]:
    node = obj.node
    inference = node.mapping("inference")
    if inference is None:
        return []  # a tuning workspace: no serving pods
    resource = node.mapping("resource")
    hints: Hints = {}
    _put(hints, "model", inference.mapping("preset"), "name", "inference.preset.name")
    _put(hints, "instance_type", resource, "instanceType", "resource.instanceType")
    _put(hints, "accelerator_type", resource, "instanceType", "resource.instanceType")
    nodes = declared_int(resource, "count", "resource.count")
    if nodes is not None:
        hints["node_count"] = nodes
    adapters = inference.get("adapters")
    if adapters is not None and inference.sequence("adapters"):
        hints["enable_lora"] = Declared(True, adapters.origin, "inference.adapters")
    _kaito_config(hints, obj, inference, ctx)
    runtime = obj.annotations.get(KAITO_RUNTIME_ANNOTATION, "vllm").strip().lower() or "vllm"
    count = nodes.value if nodes is not None else 1
    template = inference.mapping("template")
    if template is not None:
        found = from_template(obj, template, "kaito", None, hints=hints)
        return [replace(t, pods_per_replica=count, replica_gpu_share=count) for t in found]
    return [
        _template(
            obj,
            inference,
            "kaito",
            None,
            containers=(),
            hints=hints,
            engine_hint=runtime,
            pods_per_replica=count,
            replica_gpu_share=count,
        )
    ]


# ---------- llmaz

LLMAZ_BACKENDS = {
    "vllm": "vllm",
    "sglang": "sglang",
    "llamacpp": "llamacpp",
    "tgi": "tgi",
    "ollama": "ollama",
}


def _open_model(ctx: AdapterContext, name: str | None) -> K8sObject | None:
    if not name:
        return None
    for model in ctx.of_kind("OpenModel"):
        if model.name == name and model.group == "llmaz.io":
            return model
    return None


def _claimed_model(spec: Node) -> str | None:
    claim = spec.mapping("modelClaim")
    if claim is not None and claim.text("modelName"):
        return claim.text("modelName")
    claims = spec.mapping("modelClaims")
    for entry in claims.sequence("models") if claims else []:
        if entry.text("name"):
            return entry.text("name")
    legacy = spec.mapping("multiModelsClaim")
    names = legacy.sequence("modelNames") if legacy else []
    return str(names[0].value) if names and isinstance(names[0].value, str) else None


def _open_model_hints(hints: Hints, model: K8sObject | None) -> None:
    """Model id and the first inference flavor's accelerators of the claimed OpenModel."""
    spec = model.node.mapping("spec") if model else None
    if spec is None:
        return
    source = spec.mapping("source")
    _put(
        hints,
        "model",
        source.mapping("modelHub") if source else None,
        "modelID",
        "OpenModel spec.source.modelHub.modelID",
    )
    _put(hints, "model", source, "uri", "OpenModel spec.source.uri")
    config = spec.mapping("inferenceConfig")
    flavors = config.sequence("flavors") if config else []
    if not flavors:
        return
    flavor = flavors[0]
    for section in ("limits", "requests"):
        amounts = flavor.mapping(section)
        for resource, _ in amounts.entries() if amounts else []:
            if resource.endswith("/gpu") or resource.endswith("/tpu"):
                count = _gpu_count(amounts, resource, f"OpenModel flavors[0].{section}")
                if count is not None:
                    hints["accelerator_count"] = count
                    hints["accelerator_resource"] = Declared(resource, count.origin, count.via)
                    return


def _playground(obj: K8sObject, ctx: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    if spec is None:
        return []
    hints: Hints = {}
    name = _claimed_model(spec)
    _open_model_hints(hints, _open_model(ctx, name))
    if "model" not in hints and name:
        claim = spec.at("modelClaim", "modelName")
        if claim is not None:
            hints["model_claim"] = Declared(name, claim.origin, "spec.modelClaim.modelName")
    elastic = spec.mapping("elasticConfig")
    _put(hints, "min_replicas", elastic, "minReplicas", "spec.elasticConfig.minReplicas", int)
    _put(hints, "max_replicas", elastic, "maxReplicas", "spec.elasticConfig.maxReplicas", int)
    backend = spec.mapping("backendRuntimeConfig") or spec.mapping("backendConfig")
    engine = "vllm"  # the default backend runtime of llmaz
    containers: tuple[ContainerSource, ...] = ()
    if backend is not None:
        engine = (backend.text("backendName") or backend.text("name") or engine).lower()
        args = backend.sequence("args") if backend.get("args") is not None else None
        containers = (
            _args_source(_subset(backend, ("resources",)), args, backend.sequence("envs")),
        )
    return [
        _template(
            obj,
            spec,
            "llmaz",
            declared_int(spec, "replicas", "spec.replicas"),
            containers=containers,
            hints=hints,
            engine_hint=LLMAZ_BACKENDS.get(engine, engine),
        )
    ]


def _llmaz_service(obj: K8sObject, ctx: AdapterContext) -> list[PodTemplate]:
    spec = obj.node.mapping("spec")
    workload = spec.mapping("workloadTemplate") if spec else None
    if spec is None or workload is None:
        return []
    hints: Hints = {}
    claims = spec.mapping("modelClaims")
    first = next(
        (m.text("name") for m in (claims.sequence("models") if claims else []) if m.text("name")),
        None,
    )
    _open_model_hints(hints, _open_model(ctx, first))
    size_decl = declared_int(workload, "size", "spec.workloadTemplate.size")
    if size_decl is not None:
        hints["group_size"] = size_decl
    size = workload.integer("size") or 1
    replicas = declared_int(spec, "replicas", "spec.replicas")
    leader = workload.mapping("leaderTemplate")
    worker = workload.mapping("workerTemplate")
    if leader is None:
        return from_template(
            obj,
            worker,
            "llmaz",
            replicas,
            "worker",
            pods_per_replica=size,
            replica_gpu_share=size,
            hints=hints,
            replica_group="lws",
        )
    return [
        *from_template(
            obj,
            leader,
            "llmaz",
            replicas,
            "leader",
            pods_per_replica=size,
            hints=hints,
            replica_group="lws",
        ),
        *from_template(
            obj,
            worker,
            "llmaz",
            replicas,
            "worker",
            pods_per_replica=size,
            replica_gpu_share=max(size - 1, 0),
            hints=hints,
            replica_group="lws",
        ),
    ]


# ---------- registry


def _core_service(obj: K8sObject, ctx: AdapterContext) -> list[PodTemplate]:
    """`Service` is a core kind (a related object, no pods) unless it is llmaz's."""
    return _llmaz_service(obj, ctx) if obj.group == "inference.llmaz.io" else []


CRD_ADAPTERS: dict[str, Adapter] = {
    "VLLMRuntime": _only(PRODUCTION_STACK_GROUPS, _vllm_runtime),
    "StormService": _only(("orchestration.aibrix.ai",), _storm_service),
    "RoleSet": _only(("orchestration.aibrix.ai",), _role_set),
    "RayClusterFleet": _only(("orchestration.aibrix.ai",), _ray_cluster_fleet),
    "Model": _only(("kubeai.org",), _kubeai_model),
    "NIMService": _only(("apps.nvidia.com",), _nim_service),
    "DynamoGraphDeployment": _only(("nvidia.com",), _dynamo_graph),
    "ModelService": _only(("llm-d.ai",), _model_service),
    "Workspace": _only(("kaito.sh", "kdm.io"), _kaito_workspace),
    "Playground": _only(("inference.llmaz.io",), _playground),
    "Service": _core_service,
}
"""Adapters by kind. Kinds other projects share dispatch on the API group inside."""

RELATED_CRD_KINDS: dict[str, str] = {
    "PodAutoscaler": "autoscaling.aibrix.ai",
}
"""Custom kinds that describe a workload without running pods (autoscalers), by API group."""
