"""Devices asked for through Dynamic Resource Allocation: container, pod and claim objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from piqc_advisor.collectors.kubernetes.objects import K8sObject, namespaces_match
from piqc_advisor.collectors.tree import Node
from piqc_advisor.facts.origin import Origin
from piqc_advisor.facts.workload import Accelerator, DeviceClaim

# Device classes of accelerator drivers (NVIDIA, AMD, Intel, Google TPU, AWS Neuron); other
# classes (NICs, FPGAs ...) are recorded as claims but never counted as accelerators.
ACCELERATOR_CLASS_WORDS = ("gpu", "tpu", "neuron", "gaudi", "accelerator", "mig")

ClaimsByName = Mapping[tuple[str, str], Sequence[K8sObject]]


def _reference(pod_claim: Node) -> tuple[str | None, str | None]:
    """(kind, name) a pod-level claim points at; the 1.26-1.30 `source:` form too."""
    for holder in (pod_claim, pod_claim.get("source")):
        if holder is None:
            continue
        template = holder.text("resourceClaimTemplateName")
        if template:
            return "ResourceClaimTemplate", template
        claim = holder.text("resourceClaimName")
        if claim:
            return "ResourceClaim", claim
    return None, None


def _requests(definition: K8sObject) -> list[Node]:
    spec = definition.node.get("spec")
    if spec is not None and definition.kind == "ResourceClaimTemplate":
        spec = spec.get("spec")
    devices = spec.get("devices") if spec is not None else None
    return devices.sequence("requests") if devices is not None else []


def _class_and_count(definition: K8sObject) -> tuple[str | None, int | None]:
    """The first request's device class and the devices all requests ask for.

    resource.k8s.io/v1 nests a request under `exactly`; v1beta1 puts the fields on the request.
    `allocationMode: All` or a `firstAvailable` list leaves the count unknown.
    """
    device_class: str | None = None
    total = 0
    for request in _requests(definition):
        exact = request.get("exactly") or request
        if request.get("firstAvailable") is not None:
            return device_class, None
        device_class = device_class or exact.text("deviceClassName")
        if (exact.text("allocationMode") or "ExactCount") != "ExactCount":
            return device_class, None
        if exact.get("count") is None:
            total += 1  # a request without a count asks for one device
            continue
        count = exact.integer("count")  # a count of the wrong type is reported there
        if count is None or count < 1:
            return device_class, None
        total += count
    return device_class, (total or None)


def device_claims(
    pod_spec: Node, container: Node, owner: K8sObject, claims_by_name: ClaimsByName
) -> tuple[DeviceClaim, ...]:
    """The DRA claims the container uses, resolved through the pod to their definitions."""
    resources = container.get("resources")
    if resources is None:
        return ()
    pod_claims = {c.text("name"): c for c in pod_spec.sequence("resourceClaims") if c.text("name")}
    found: list[DeviceClaim] = []
    for used in resources.sequence("claims"):
        name = used.text("name")
        if not name:
            continue
        pod_claim = pod_claims.get(name)
        kind, reference = _reference(pod_claim) if pod_claim is not None else (None, None)
        device_class: str | None = None
        count: int | None = None
        definition: Origin | None = None
        if kind is not None and reference is not None:
            matches = [
                d
                for d in claims_by_name.get((kind, reference), ())
                if namespaces_match(d.namespace, owner.namespace)
            ]
            if len(matches) == 1:
                device_class, count = _class_and_count(matches[0])
                definition = matches[0].origin
        found.append(
            DeviceClaim(name, kind, reference, device_class, count, used.origin, definition)
        )
    return tuple(found)


def is_accelerator_class(device_class: str | None) -> bool:
    return device_class is not None and any(
        word in device_class.lower() for word in ACCELERATOR_CLASS_WORDS
    )


def claimed_accelerator(claims: Sequence[DeviceClaim]) -> Accelerator | None:
    """Accelerators from claims whose definitions name an accelerator class and a count."""
    counted = [c for c in claims if is_accelerator_class(c.device_class) and c.count]
    if not counted:
        return None
    total = sum(c.count or 0 for c in counted)
    first = counted[0]
    return Accelerator(
        resource=f"dra:{first.device_class}",
        count=total,
        request=total,
        limit=total,
        origin=first.origin,
    )
