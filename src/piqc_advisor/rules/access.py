"""Secrets and access rules: literal credentials, unauthenticated APIs, exposed endpoints."""

from __future__ import annotations

from collections.abc import Iterator

from piqc_advisor.facts.workload import Workload
from piqc_advisor.rules.accelerators import is_follower
from piqc_advisor.rules.api import NotApplicable, Outcome, Violation, evidence_for, rule

OPENAI_ENGINES = frozenset(
    {"vllm", "sglang", "tgi", "trtllm", "nim", "llamacpp", "kserve-huggingface"}
)


@rule("credential-literal-in-manifest", "SEC-004", "A token or API key is written in the manifest.")
def credential_literal_in_manifest(w: Workload, _: object) -> Iterator[Outcome]:
    for use in w.secrets:
        if use.source == "literal":
            yield Violation(
                f"env {use.variable} of {w.container!r} holds a literal credential (value not "
                "shown); anyone who can read the manifest or the pod spec has it: use "
                "valueFrom.secretKeyRef",
                use.origin,
                key=use.variable,
            )
    api_key = w.serving.get("api_key")
    if api_key is not None and api_key.value == "<redacted>":
        yield Violation(
            f"{api_key.via} is given as a literal on the command line (value not shown); it is "
            "visible in the pod spec and in process listings",
            api_key.origin,
            key="api-key",
        )


@rule("api-without-authentication", "SEC-003", "The model API accepts requests without a key.")
def api_without_authentication(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None or w.engine.name not in OPENAI_ENGINES or is_follower(w):
        yield NotApplicable("no OpenAI-compatible server")
        return
    if w.serving.get("api_key") is not None:
        return
    gateway = [r for r in w.exposure if r.kind in ("HTTPRoute", "InferencePool", "Ingress")]
    if gateway:
        return
    yield Violation(
        f"{w.engine.name} in {w.container!r} has no --api-key (or VLLM_API_KEY) and no gateway "
        "in front of it: any pod that reaches the Service can use the model",
        evidence_for(w),
    )


@rule(
    "endpoints-exposed-outside-cluster",
    "SEC-900",
    "The server's port is exposed beyond the cluster without a gateway.",
)
def endpoints_exposed_outside_cluster(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")
        return
    for ref in w.exposure:
        if ref.kind == "Service":
            yield Violation(
                f"Service {ref.name!r} is a LoadBalancer/NodePort: /metrics, /health and the "
                "admin routes of the engine are reachable from outside the cluster (an API key "
                "protects only /v1)",
                ref.origin,
                key=ref.name,
            )
