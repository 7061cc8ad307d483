"""Pod-level facts: accelerators, GPU type, /dev/shm, security, placement, volumes, storage."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from piqc_advisor.collectors.container_view import ContainerView
from piqc_advisor.collectors.kubernetes.containers import ContainerSource
from piqc_advisor.collectors.kubernetes.objects import K8sObject
from piqc_advisor.collectors.tree import Node
from piqc_advisor.facts.origin import Declared, Origin
from piqc_advisor.facts.workload import (
    Accelerator,
    ModelStorage,
    Placement,
    SecurityFacts,
    ShmVolume,
)

ACCELERATOR_RESOURCES: tuple[str, ...] = (
    "nvidia.com/gpu",
    "amd.com/gpu",
    "google.com/tpu",
    "aws.amazon.com/neuron",
    "aws.amazon.com/neuroncore",
    "aws.amazon.com/neurondevice",
    "habana.ai/gaudi",
    "gpu.intel.com/i915",
    "gpu.intel.com/xe",
)
_MIG = re.compile(r"^nvidia\.com/mig-\d+g\.\d+gb$")
_SHARED_GPU = re.compile(r"^nvidia\.com/gpu\.shared$")
GPU_TYPE_LABELS: tuple[str, ...] = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "node.kubernetes.io/instance-type",
    "cloud.google.com/gke-tpu-accelerator",
    "amd.com/gpu.product-name",
    "nvidia.com/gpu.family",
    "gpu.nvidia.com/class",
)


def is_accelerator_resource(name: str) -> bool:
    return name in ACCELERATOR_RESOURCES or bool(_MIG.match(name)) or bool(_SHARED_GPU.match(name))


def _count(node: Node | None, key: str) -> int | None:
    if node is None:
        return None
    return node.integer(key)


def container_accelerator(container: Node) -> tuple[str, int | None, int | None, Origin] | None:
    """The accelerator resource one container asks for: name, request, limit, where."""
    resources = container.mapping("resources")
    if resources is None:
        return None
    requests = resources.mapping("requests")
    limits = resources.mapping("limits")
    names: list[str] = []
    for section in (limits, requests):
        for name, _ in section.entries() if section else []:
            if is_accelerator_resource(name) and name not in names:
                names.append(name)
    if not names:
        return None
    name = names[0]
    limit = _count(limits, name)
    request = _count(requests, name)
    where = (limits.get(name) if limits else None) or (requests.get(name) if requests else None)
    origin = where.origin if where is not None else resources.origin
    return name, request, limit, origin


def gpu_type(spec: Node) -> tuple[str, str] | None:
    """GPU model from node selectors or required node affinity: (value, label)."""
    selector = spec.string_map("nodeSelector")
    for label in GPU_TYPE_LABELS:
        if label in selector:
            return selector[label], label
    affinity = spec.at("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    for term in affinity.sequence("nodeSelectorTerms") if affinity else []:
        for expr in term.sequence("matchExpressions"):
            key = expr.text("key")
            values = [v.value for v in expr.sequence("values") if isinstance(v.value, str)]
            if key in GPU_TYPE_LABELS and expr.text("operator") == "In" and values:
                return values[0], key
    return None


def accelerator_for(pod_spec: Node, containers: Sequence[ContainerSource]) -> Accelerator | None:
    """Accelerators for the whole pod (every container's requests add up), with the GPU type."""
    total = 0
    first: tuple[str, int | None, int | None, Origin] | None = None
    for source in containers:
        found = container_accelerator(source.main)
        if found is None:
            continue
        name, request, limit, _origin = found
        if first is None:
            first = found
        if name == first[0]:
            total += limit if limit is not None else (request or 0)
    if first is None:
        return None
    kind = gpu_type(pod_spec)
    return Accelerator(
        resource=first[0],
        count=total,
        request=first[1],
        limit=first[2],
        origin=first[3],
        type=kind[0] if kind else None,
        type_source=kind[1] if kind else None,
    )


@dataclass(frozen=True)
class Mount:
    volume: str
    path: str
    sub_path: str | None
    origin: Origin


def mounts(container: Node) -> list[Mount]:
    found = []
    for mount in container.sequence("volumeMounts"):
        name, path = mount.text("name"), mount.text("mountPath")
        if name and path:
            found.append(Mount(name, path, mount.text("subPath"), mount.origin))
    return found


def volumes(spec: Node) -> dict[str, Node]:
    return {v.text("name") or "": v for v in spec.sequence("volumes") if v.text("name")}


def shm_volume(spec: Node, container: Node) -> ShmVolume | None:
    vols = volumes(spec)
    for mount in mounts(container):
        if mount.path.rstrip("/") != "/dev/shm":
            continue
        volume = vols.get(mount.volume)
        empty_dir = volume.mapping("emptyDir") if volume is not None else None
        medium = empty_dir.text("medium") if empty_dir is not None else None
        size = empty_dir.text("sizeLimit") if empty_dir is not None else None
        origin = volume.origin if volume is not None else mount.origin
        return ShmVolume(mount.volume, medium, size, mount.path, origin)
    return None


def _declared_bool(node: Node | None, key: str, via: str) -> Declared[bool] | None:
    if node is None:
        return None
    child = node.get(key)
    value = node.boolean(key)
    return Declared(value, child.origin, via) if child is not None and value is not None else None


def security(spec: Node, container: Node) -> SecurityFacts:
    pod_ctx = spec.mapping("securityContext")
    ctx = container.mapping("securityContext")

    def pick(key: str) -> Declared[bool] | None:
        own = _declared_bool(ctx, key, f"securityContext.{key}")
        return (
            own if own is not None else _declared_bool(pod_ctx, key, f"pod securityContext.{key}")
        )

    run_as_user = None
    for node, via in (
        (ctx, "securityContext.runAsUser"),
        (pod_ctx, "pod securityContext.runAsUser"),
    ):
        if node is not None and node.get("runAsUser") is not None:
            value = node.integer("runAsUser")
            child = node.get("runAsUser")
            if value is not None and child is not None:
                run_as_user = Declared(value, child.origin, via)
                break
    return SecurityFacts(
        run_as_non_root=pick("runAsNonRoot"),
        run_as_user=run_as_user,
        privileged=_declared_bool(ctx, "privileged", "securityContext.privileged"),
        allow_privilege_escalation=_declared_bool(
            ctx, "allowPrivilegeEscalation", "securityContext.allowPrivilegeEscalation"
        ),
        read_only_root_filesystem=_declared_bool(
            ctx, "readOnlyRootFilesystem", "securityContext.readOnlyRootFilesystem"
        ),
        host_network=_declared_bool(spec, "hostNetwork", "hostNetwork"),
        host_ipc=_declared_bool(spec, "hostIPC", "hostIPC"),
        host_pid=_declared_bool(spec, "hostPID", "hostPID"),
        automount_service_account_token=_declared_bool(
            spec, "automountServiceAccountToken", "automountServiceAccountToken"
        ),
        has_security_context=ctx is not None or pod_ctx is not None,
    )


def placement(spec: Node) -> Placement:
    selector = spec.string_map("nodeSelector")
    affinity_labels: list[str] = []
    node_affinity = spec.at("affinity", "nodeAffinity")
    if node_affinity is not None:
        required = node_affinity.mapping("requiredDuringSchedulingIgnoredDuringExecution")
        for term in required.sequence("nodeSelectorTerms") if required else []:
            for expr in term.sequence("matchExpressions"):
                key = expr.text("key")
                if key:
                    affinity_labels.append(key)
        for pref in node_affinity.sequence("preferredDuringSchedulingIgnoredDuringExecution"):
            pref_term = pref.mapping("preference")
            for expr in pref_term.sequence("matchExpressions") if pref_term else []:
                key = expr.text("key")
                if key:
                    affinity_labels.append(key)
    tolerations = []
    for toleration in spec.sequence("tolerations"):
        key = toleration.text("key") or "*"
        effect = toleration.text("effect")
        tolerations.append(f"{key}:{effect}" if effect else key)
    priority = spec.get("priorityClassName")
    priority_name = spec.text("priorityClassName")
    return Placement(
        node_selector=selector,
        gpu_affinity_labels=tuple(dict.fromkeys(affinity_labels)),
        tolerations=tuple(tolerations),
        topology_spread=bool(spec.sequence("topologySpreadConstraints")),
        pod_anti_affinity=spec.at("affinity", "podAntiAffinity") is not None,
        priority_class=(
            Declared(priority_name, priority.origin, "priorityClassName")
            if priority is not None and priority_name
            else None
        ),
        origin=spec.origin,
    )


def config_files(
    spec: Node, container: Node, owner: K8sObject, config_maps: Mapping[str, list[K8sObject]]
) -> dict[str, tuple[str, Origin]]:
    """Files the container sees from ConfigMaps present in the inputs: path -> (text, origin)."""

    def by_name(name: str) -> K8sObject | None:
        return next((cm for cm in config_maps.get(name, []) if cm.same_namespace(owner)), None)

    vols = volumes(spec)
    files: dict[str, tuple[str, Origin]] = {}
    for mount in mounts(container):
        volume = vols.get(mount.volume)
        source = volume.mapping("configMap") if volume is not None else None
        config_map = by_name(source.text("name") or "") if source is not None else None
        data = config_map.node.mapping("data") if config_map is not None else None
        if data is None:
            continue
        for key, value in data.entries():
            if not isinstance(value.value, str):
                continue
            if mount.sub_path is not None:
                if mount.sub_path == key:
                    files[mount.path] = (value.value, value.origin)
            else:
                files[f"{mount.path.rstrip('/')}/{key}"] = (value.value, value.origin)
    return files


_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_storage(
    spec: Node, container: Node, model: Declared[object] | None, view: ContainerView
) -> ModelStorage:
    """How the weights reach the server, judged from the model reference and the volumes."""
    vols = volumes(spec)
    value = str(model.value) if model is not None else ""
    origin = model.origin if model is not None else None
    if value.startswith(("pvc://",)):
        return ModelStorage("pvc", value, origin)
    if value.startswith(("s3://", "gs://", "hf://", "oci://", "https://", "http://", "azure://")):
        return ModelStorage("download-at-start", value, origin)
    for mount in mounts(container):
        if not value.startswith("/") or (
            not value.startswith(mount.path.rstrip("/") + "/") and value != mount.path
        ):
            continue
        volume = vols.get(mount.volume)
        if volume is None:
            continue
        if volume.mapping("persistentVolumeClaim") is not None:
            claim_name = volume.text_at("persistentVolumeClaim", "claimName")
            return ModelStorage("pvc", claim_name, volume.origin)
        if volume.mapping("hostPath") is not None:
            return ModelStorage("hostPath", volume.text_at("hostPath", "path"), volume.origin)
        if volume.mapping("emptyDir") is not None:
            init = spec.sequence("initContainers")
            kind = "init-container-download" if init else "emptyDir"
            return ModelStorage(kind, mount.path, volume.origin)
        if volume.mapping("csi") is not None or volume.mapping("ephemeral") is not None:
            return ModelStorage("csi", mount.path, volume.origin)
        if volume.mapping("image") is not None:
            return ModelStorage("image-volume", mount.path, volume.origin)
    if value.startswith("/"):
        return ModelStorage("image-baked", value, origin)
    if _HF_ID.match(value):
        cache_mount = _hf_cache_mount(container, view, vols)
        if cache_mount is not None:
            return cache_mount
        return ModelStorage("download-at-start", value, origin)
    return ModelStorage("unknown", value or None, origin)


def _hf_cache_mount(
    container: Node, view: ContainerView, vols: Mapping[str, Node]
) -> ModelStorage | None:
    """A persistent Hugging Face cache: the download happens once, not at every start."""
    cache_dirs = ["/root/.cache/huggingface", "/root/.cache"]
    for name in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        value = view.env_value(name)
        if value:
            cache_dirs.append(value.rstrip("/"))
    for mount in mounts(container):
        if not any(
            d == mount.path.rstrip("/") or d.startswith(mount.path.rstrip("/") + "/")
            for d in cache_dirs
        ):
            continue
        volume = vols.get(mount.volume)
        if volume is not None and volume.mapping("persistentVolumeClaim") is not None:
            claim = volume.at("persistentVolumeClaim")
            return ModelStorage(
                "pvc-cache", claim.text("claimName") if claim else None, volume.origin
            )
        if volume is not None and volume.mapping("hostPath") is not None:
            return ModelStorage("hostPath-cache", mount.path, volume.origin)
    return None
