"""Dynamic Resource Allocation: claims resolved through the pod to their definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from piqc_advisor.collectors.scan import scan

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: llm}
spec:
  resourceClaims:
    - name: gpus
      resourceClaimName: shared-gpus
    - name: nic
      source: {resourceClaimTemplateName: fast-nic}
  containers:
    - name: vllm
      image: vllm/vllm-openai:v0.32.0
      args: ["--model", "Qwen/Qwen2.5-7B-Instruct"]
      resources:
        claims:
          - name: gpus
          - name: nic
          - name: missing
"""

CLAIMS = """\
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: shared-gpus, namespace: llm}
spec:
  devices:
    requests:
      - name: a
        exactly: {deviceClassName: gpu.amd.com, count: 2}
      - name: b
        exactly: {deviceClassName: gpu.amd.com}
---
apiVersion: resource.k8s.io/v1beta1
kind: ResourceClaimTemplate
metadata: {name: fast-nic, namespace: llm}
spec:
  spec:
    devices:
      requests:
        - name: nic
          deviceClassName: rdma.example.com
          allocationMode: All
"""


def test_claims_resolve_and_count_accelerators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pod.yaml").write_text(POD)
    Path("claims.yaml").write_text(CLAIMS)
    store = scan(["."])
    (workload,) = store.workloads
    claims = [
        (c.name, c.via, c.reference, c.device_class, c.count, c.origin.line)
        for c in workload.device_claims
    ]
    assert claims == [
        ("gpus", "ResourceClaim", "shared-gpus", "gpu.amd.com", 3, 16),
        ("nic", "ResourceClaimTemplate", "fast-nic", "rdma.example.com", None, 17),
        ("missing", None, None, None, None, 18),
    ]
    definitions = [
        (c.definition.path, c.definition.line) if c.definition else None
        for c in workload.device_claims
    ]
    assert definitions == [("claims.yaml", 1), ("claims.yaml", 12), None]
    accelerator = workload.accelerator
    assert accelerator is not None
    assert (accelerator.resource, accelerator.count, accelerator.origin.line) == (
        "dra:gpu.amd.com",
        3,
        16,
    )
    assert workload.gpus_per_replica == 3
    assert store.problems == ()


def test_a_claim_in_another_namespace_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pod.yaml").write_text(POD)
    Path("claims.yaml").write_text(CLAIMS.replace("namespace: llm}", "namespace: other}"))
    (workload,) = scan(["."]).workloads
    assert [(c.reference, c.count, c.definition) for c in workload.device_claims][:2] == [
        ("shared-gpus", None, None),
        ("fast-nic", None, None),
    ]
    assert workload.accelerator is None
    assert workload.gpus_per_replica is None


def test_an_unreadable_count_is_unknown_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pod.yaml").write_text(POD)
    Path("claims.yaml").write_text(CLAIMS.replace("count: 2}", "count: two}"))
    store = scan(["."])
    (workload,) = store.workloads
    first = workload.device_claims[0]
    assert (first.reference, first.device_class, first.count) == (
        "shared-gpus",
        "gpu.amd.com",
        None,
    )
    assert workload.accelerator is None
    assert [(p.path, p.line, p.code, p.message) for p in store.problems] == [
        (
            "claims.yaml",
            8,
            "wrong-type",
            "/spec/devices/requests/0/exactly/count: expected a number, found a string",
        )
    ]
