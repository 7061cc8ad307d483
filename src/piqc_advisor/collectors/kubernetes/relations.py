"""Links between workloads and the objects around them: selectors and name references."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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


class SelectorIndex:
    """Objects with a label selector, found from a pod's labels without scanning them all.

    Each selector is filed under every label pair it requires; selectors with none (only
    expressions, or empty = all pods) are always candidates. Candidates are then checked in
    full, so the result is exactly what a linear scan would give, in input order.
    """

    def __init__(self, entries: list[tuple[K8sObject, Selector]]) -> None:
        self._entries = entries
        self._by_pair: dict[tuple[str, str], list[int]] = {}
        self._unkeyed: list[int] = []
        for position, (_, selector) in enumerate(entries):
            if selector.labels:
                for pair in selector.labels:
                    self._by_pair.setdefault(pair, []).append(position)
            else:
                self._unkeyed.append(position)

    def matching(self, owner: K8sObject, labels: Mapping[str, str]) -> list[K8sObject]:
        positions = set(self._unkeyed)
        for pair in labels.items():
            positions.update(self._by_pair.get(pair, ()))
        found = []
        for position in sorted(positions):
            obj, selector = self._entries[position]
            if obj.same_namespace(owner) and selector.matches(labels):
                found.append(obj)
        return found


def _indexed(
    objects: list[K8sObject], *path: str, plain_map: bool = False, skip_empty: bool = False
) -> SelectorIndex:
    entries = []
    for obj in objects:
        selector = spec_selector(obj, *path, plain_map=plain_map)
        if selector is None or (skip_empty and selector.empty):
            continue
        entries.append((obj, selector))
    return SelectorIndex(entries)


@dataclass
class RelatedIndex:
    """Objects that relate to workloads, indexed once per scan so linking stays linear."""

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
    resource_claims: list[K8sObject] = field(default_factory=list)
    service_index: SelectorIndex = field(init=False)
    pdb_index: SelectorIndex = field(init=False)
    policy_index: SelectorIndex = field(init=False)
    pod_monitor_index: SelectorIndex = field(init=False)
    service_monitor_index: SelectorIndex = field(init=False)
    scalers_by_target: dict[tuple[str, str], list[K8sObject]] = field(init=False)
    routes_by_service: dict[str, list[K8sObject]] = field(init=False)
    config_maps_by_name: dict[str, list[K8sObject]] = field(init=False)
    claims_by_name: dict[tuple[str, str], list[K8sObject]] = field(init=False)

    def __post_init__(self) -> None:
        self.service_index = _indexed(
            self.services, "spec", "selector", plain_map=True, skip_empty=True
        )
        self.pdb_index = _indexed(self.pdbs, "spec", "selector")
        self.policy_index = _indexed(self.network_policies, "spec", "podSelector")
        self.pod_monitor_index = _indexed(self.pod_monitors, "spec", "selector")
        self.service_monitor_index = _indexed(self.service_monitors, "spec", "selector")
        self.scalers_by_target = {}
        for scaler in [*self.hpas, *self.scaled_objects]:
            target = scaler.node.at("spec", "scaleTargetRef")
            if target is not None and target.text("name"):
                key = (target.text("kind") or "Deployment", target.text("name") or "")
                self.scalers_by_target.setdefault(key, []).append(scaler)
        self.routes_by_service = {}
        for route in [*self.ingresses, *self.http_routes]:
            for name in sorted(backend_service_names(route)):
                self.routes_by_service.setdefault(name, []).append(route)
        self.config_maps_by_name = {}
        for config_map in self.config_maps:
            self.config_maps_by_name.setdefault(config_map.name, []).append(config_map)
        self.claims_by_name = {}
        for claim in self.resource_claims:
            self.claims_by_name.setdefault((claim.kind, claim.name), []).append(claim)

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
            pod_monitors=kinds("PodMonitor", "PodMonitoring", "ClusterPodMonitoring"),
            ingresses=kinds("Ingress"),
            http_routes=kinds("HTTPRoute"),
            inference_pools=kinds("InferencePool"),
            config_maps=kinds("ConfigMap"),
            pvcs=kinds("PersistentVolumeClaim"),
            priority_classes=kinds("PriorityClass"),
            resource_claims=kinds("ResourceClaimTemplate", "ResourceClaim"),
        )


def spec_selector(obj: K8sObject, *path: str, plain_map: bool = False) -> Selector | None:
    return selector_from(obj.node.at(*path), plain_map)


def services_for(
    index: RelatedIndex, owner: K8sObject, pod_labels: Mapping[str, str]
) -> list[K8sObject]:
    return index.service_index.matching(owner, pod_labels)


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
