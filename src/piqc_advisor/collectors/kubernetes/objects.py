"""Kubernetes objects out of parsed documents: kind, name, namespace, labels, origin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from piqc_advisor.collectors.tree import Node, NodeContext
from piqc_advisor.collectors.yaml_source import Document, Problem
from piqc_advisor.facts.origin import Origin

# Kinds that carry no serving facts of their own but are understood (never "not understood").
PASSIVE_KINDS: frozenset[str] = frozenset(
    {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Secret",
        "PersistentVolume",
        "StorageClass",
        "ResourceQuota",
        "LimitRange",
        "CustomResourceDefinition",
        "Endpoints",
        "EndpointSlice",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "Certificate",
        "Issuer",
        "ClusterIssuer",
        "Gateway",
        "GatewayClass",
        "ReferenceGrant",
        "IngressClass",
        "RuntimeClass",
        "PodSecurityPolicy",
        "VerticalPodAutoscaler",
        "PrometheusRule",
        "GRPCRoute",
        "InferenceModel",
        "InferenceObjective",
        "EndpointPickerConfig",
        "ModelAdapter",
        "BackendRuntime",
        "OpenModel",
        "Lease",
        "ControllerRevision",
        "Event",
        "Node",
    }
)


@dataclass(frozen=True)
class K8sObject:
    """One Kubernetes object from the inputs."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    node: Node
    labels: dict[str, str]
    annotations: dict[str, str]

    @property
    def origin(self) -> Origin:
        return self.node.origin

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0] if "/" in self.api_version else ""

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"

    def same_namespace(self, other: K8sObject) -> bool:
        return namespaces_match(self.namespace, other.namespace)


def namespaces_match(left: str | None, right: str | None) -> bool:
    """Objects without a namespace are applied to the current one, so they match any."""
    return left is None or right is None or left == right


def _object(node: Node, problems: list[Problem]) -> K8sObject | None:
    doc = node.context.document
    if not isinstance(node.value, dict):
        line = node.origin.line
        found = type(node.value).__name__
        problems.append(
            Problem(
                doc.path, line, None, "error", "not-an-object", f"expected a mapping, found {found}"
            )
        )
        return None
    kind = node.text("kind")
    api_version = node.text("apiVersion")
    if not kind or not api_version:
        missing = "kind" if not kind else "apiVersion"
        problems.append(
            Problem(
                doc.path,
                node.origin.line,
                None,
                "error",
                "not-kubernetes",
                f"document has no {missing}: not a Kubernetes object",
            )
        )
        return None
    metadata = node.mapping("metadata")
    name = metadata.text("name") if metadata else None
    if not name and metadata is not None:
        name = metadata.text("generateName")
    namespace = metadata.text("namespace") if metadata else None
    return K8sObject(
        api_version=api_version,
        kind=kind,
        name=name or "<unnamed>",
        namespace=namespace,
        node=node,
        labels=metadata.string_map("labels") if metadata else {},
        annotations=metadata.string_map("annotations") if metadata else {},
    )


def objects_from_documents(
    documents: Iterable[Document],
) -> tuple[list[K8sObject], list[Problem], list[NodeContext]]:
    """Every object of every document (expanding `kind: List`), with problems and contexts."""
    objects: list[K8sObject] = []
    problems: list[Problem] = []
    contexts: list[NodeContext] = []
    for document in documents:
        if document.data is None:
            continue
        root = Node.root(document)
        contexts.append(root.context)
        if isinstance(root.value, dict) and str(root.value.get("kind", "")).endswith("List"):
            for entry in root.sequence("items"):
                found = _object(entry, problems)
                if found is not None:
                    objects.append(found)
            continue
        found = _object(root, problems)
        if found is not None:
            objects.append(found)
    return objects, problems, contexts
