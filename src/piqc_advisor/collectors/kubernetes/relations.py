"""Links between workloads and the objects around them: selectors and name references."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from piqc_advisor.collectors.kubernetes.objects import K8sObject, namespaces_match
from piqc_advisor.collectors.tree import Node


@dataclass(frozen=True)
class Selector:
    """A label selector: matchLabels plus matchExpressions (In, NotIn, Exists, DoesNotExist)."""

    labels: tuple[tuple[str, str], ...]
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.labels:
            if labels.get(key) != value:
                return False
        for key, operator, values in self.expressions:
            present = key in labels
            if operator == "In" and (not present or labels[key] not in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True


def selector_from(node: Node | None, plain_map: bool = False) -> Selector | None:
    """Parse a LabelSelector (or a plain label map, as Services use); None when absent."""
    if node is None:
        return None
    if plain_map:
        return Selector(tuple(sorted(_labels(node).items())))
    match_labels = node.mapping("matchLabels")
    expressions = []
    for expr in node.sequence("matchExpressions"):
        key = expr.text("key")
        operator = expr.text("operator")
        if key and operator:
            values = tuple(v.value for v in expr.sequence("values") if isinstance(v.value, str))
            expressions.append((key, operator, values))
    labels = _labels(match_labels) if match_labels else {}
    return Selector(tuple(sorted(labels.items())), tuple(expressions))


def _labels(node: Node) -> dict[str, str]:
    return {
        k: str(v.value) for k, v in node.entries() if isinstance(v.value, (str, int, float, bool))
    }


@dataclass
class RelatedIndex:
    """Objects that relate to workloads, indexed once per scan."""

    services: list[K8sObject]
    hpas: list[K8sObject]
    scaled_objects: list[K8sObject]
    pdbs: list[K8sObject]
    network_policies: list[K8sObject]
    service_monitors: list[K8sObject]
    pod_monitors: list[K8sObject]
    ingresses: list[K8sObject]
    http_routes: list[K8sObject]
    inference_pools: list[K8sObject]
    config_maps: list[K8sObject]
    pvcs: list[K8sObject]
    priority_classes: list[K8sObject]

    @classmethod
    def build(cls, objects: list[K8sObject]) -> RelatedIndex:
        def kinds(*names: str) -> list[K8sObject]:
            return [o for o in objects if o.kind in names]

        return cls(
            services=[o for o in objects if o.kind == "Service" and o.group == ""],
            hpas=[
                o
                for o in objects
                if o.kind == "HorizontalPodAutoscaler"
                or (o.kind == "PodAutoscaler" and o.group == "autoscaling.aibrix.ai")
            ],
            scaled_objects=kinds("ScaledObject"),
            pdbs=kinds("PodDisruptionBudget"),
            network_policies=kinds("NetworkPolicy", "CiliumNetworkPolicy"),
            service_monitors=kinds("ServiceMonitor"),
            pod_monitors=[
                o
                for o in objects
                if o.kind == "PodMonitor" or (o.kind in ("PodMonitoring", "ClusterPodMonitoring"))
            ],
            ingresses=kinds("Ingress"),
            http_routes=kinds("HTTPRoute"),
            inference_pools=kinds("InferencePool"),
            config_maps=kinds("ConfigMap"),
            pvcs=kinds("PersistentVolumeClaim"),
            priority_classes=kinds("PriorityClass"),
        )


def spec_selector(obj: K8sObject, *path: str, plain_map: bool = False) -> Selector | None:
    return selector_from(obj.node.at(*path), plain_map)


def services_for(
    index: RelatedIndex, owner: K8sObject, pod_labels: Mapping[str, str]
) -> list[K8sObject]:
    found = []
    for service in index.services:
        if not service.same_namespace(owner):
            continue
        selector = spec_selector(service, "spec", "selector", plain_map=True)
        if selector is not None and not selector.empty and selector.matches(pod_labels):
            found.append(service)
    return found


def selecting(
    objects: list[K8sObject], owner: K8sObject, labels: Mapping[str, str], *path: str
) -> list[K8sObject]:
    """Objects in the owner's namespace whose selector at `path` matches the labels."""
    found = []
    for obj in objects:
        if not obj.same_namespace(owner):
            continue
        selector = spec_selector(obj, *path)
        if selector is not None and selector.matches(labels):
            found.append(obj)
    return found


def scale_target_matches(scaler: K8sObject, owner: K8sObject) -> bool:
    target = scaler.node.at("spec", "scaleTargetRef")
    if target is None or not namespaces_match(scaler.namespace, owner.namespace):
        return False
    kind = target.text("kind") or "Deployment"
    return target.text("name") == owner.name and kind == owner.kind


def backend_service_names(route: K8sObject) -> set[str]:
    """Service names an Ingress or HTTPRoute sends traffic to."""
    names: set[str] = set()
    spec = route.node.mapping("spec")
    if spec is None:
        return names
    if route.kind == "Ingress":
        default = spec.at("defaultBackend", "service")
        if default is not None and default.text("name"):
            names.add(default.text("name") or "")
        for rule in spec.sequence("rules"):
            http = rule.mapping("http")
            for path in http.sequence("paths") if http else []:
                service = path.at("backend", "service")
                if service is not None and service.text("name"):
                    names.add(service.text("name") or "")
                legacy = path.at("backend")
                if legacy is not None and legacy.text("serviceName"):
                    names.add(legacy.text("serviceName") or "")
    else:
        for rule in spec.sequence("rules"):
            for ref in rule.sequence("backendRefs"):
                kind = ref.text("kind") or "Service"
                if kind == "Service" and ref.text("name"):
                    names.add(ref.text("name") or "")
    return names


def pool_names_from_routes(routes: list[K8sObject]) -> set[str]:
    names: set[str] = set()
    for route in routes:
        spec = route.node.mapping("spec")
        for rule in spec.sequence("rules") if spec else []:
            for ref in rule.sequence("backendRefs"):
                if ref.text("kind") == "InferencePool" and ref.text("name"):
                    names.add(ref.text("name") or "")
    return names
