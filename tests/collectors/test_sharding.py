"""Scans split over forked processes give exactly the facts of a scan in one process."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from piqc_advisor.collectors import sharding
from piqc_advisor.collectors.inputs import PendingFile, Planned
from piqc_advisor.collectors.scan import scan, scan_rendered
from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.terminal import dump_json_for

ROOT = Path(__file__).resolve().parents[2]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llama, namespace: llm}
spec:
  replicas: 2
  selector: {matchLabels: {app: llama}}
  template:
    metadata: {labels: {app: llama}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.32.0
          args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--config", "/etc/vllm/c.yaml"]
          volumeMounts: [{name: cfg, mountPath: /etc/vllm}]
          resources: {limits: {nvidia.com/gpu: 1}}
      volumes:
        - name: cfg
          configMap: {name: llama-config}
"""

RELATED = """\
apiVersion: v1
kind: Service
metadata: {name: llama, namespace: llm}
spec:
  selector: {app: llama}
  ports: [{port: 8000}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: llama, namespace: llm}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: llama}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: llama, namespace: llm}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}
  minReplicas: 2
  maxReplicas: 4
  metrics: "cpu"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: llama-config, namespace: llm}
data:
  c.yaml: |
    max-model-len: 8192
"""


@pytest.fixture
def tiny_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shard even the smallest inputs, so tests can see several processes at work."""
    monkeypatch.setattr(sharding, "MIN_SHARD_BYTES", 0)


def _facts(paths: list[str], workers: int) -> str:
    store = scan(paths, workers=workers)
    extra = {
        "not_understood": list(store.not_understood),
        "waivers": [repr(w) for w in store.inline_waivers],
        "notes": [repr(n) for n in store.waiver_notes],
    }
    return json.dumps({**store.to_json(), **extra}, sort_keys=True, indent=1)


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_sharded_scan_equals_one_process(tiny_shards: None, workers: int) -> None:
    paths = [str(ROOT / "tests" / "fixtures"), str(ROOT / "tests" / "rules" / "cases")]
    assert _facts(paths, workers) == _facts(paths, 1)


def test_objects_in_other_shards_are_related(
    tiny_shards: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a-deployment.yaml").write_text(DEPLOYMENT)
    Path("z-related.yaml").write_text(RELATED)
    shards = sharding.split(
        [
            PendingFile("a-deployment.yaml", "a-deployment.yaml", len(DEPLOYMENT)),
            PendingFile("z-related.yaml", "z-related.yaml", len(RELATED)),
        ],
        2,
    )
    assert [[item.path for item in shard] for shard in shards] == [  # type: ignore[union-attr]
        ["a-deployment.yaml"],
        ["z-related.yaml"],
    ]
    store = scan(["."], workers=2)
    (workload,) = store.workloads
    assert [(r.kind, r.name, r.origin.path, r.origin.line) for r in workload.related] == [
        ("Service", "llama", "z-related.yaml", 1),
        ("PodDisruptionBudget", "llama", "z-related.yaml", 8),
        ("HorizontalPodAutoscaler", "llama", "z-related.yaml", 15),
    ]
    max_len = workload.serving["max_model_len"]
    assert max_len is not None
    assert (max_len.value, max_len.origin.path) == (8192, "z-related.yaml")
    # The autoscaler's metrics are of the wrong type; the shard that read them for the
    # Deployment reports it, once.
    assert [(p.path, p.line, p.code, p.message) for p in store.problems] == [
        ("z-related.yaml", 22, "wrong-type", "/spec/metrics: expected a list, found a string")
    ]
    assert _facts(["."], 2) == _facts(["."], 1)


def test_the_same_object_in_two_shards_gets_distinct_ids(
    tiny_shards: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text(DEPLOYMENT)
    Path("b.yaml").write_text(DEPLOYMENT)
    store = scan(["."], workers=2)
    assert [w.id for w in store.workloads] == [
        "Deployment/llm/llama/vllm@a.yaml",
        "Deployment/llm/llama/vllm@b.yaml",
    ]


def _pending(*sizes: int) -> list[Planned]:
    return [PendingFile(f"f{i}.yaml", f"f{i}.yaml", size) for i, size in enumerate(sizes)]


def test_split_is_contiguous_and_balanced_by_bytes(tiny_shards: None) -> None:
    problem = Problem("x.yaml", None, None, "error", "unreadable", "cannot read x.yaml")
    items = [*_pending(1000, 1000, 3000), problem, *_pending(2000, 1000)]
    shards = sharding.split(items, 2)
    assert shards == [items[:3], items[3:]]
    assert [item for shard in sharding.split(items, 4) for item in shard] == items


def test_small_inputs_stay_in_one_process() -> None:
    items = _pending(*[4000] * 100)
    assert sharding.split(items, 2) == [items]
    assert len(sharding.split(_pending(*[400_000] * 10), 2)) == 2


def test_worker_count_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sharding.WORKERS_ENV, "3")
    assert sharding.worker_count() == 3
    assert sharding.worker_count(1) == 1
    monkeypatch.setenv(sharding.WORKERS_ENV, "lots")
    assert sharding.worker_count() == len(os.sched_getaffinity(0))


def _read(shard: Sequence[Planned]) -> list[str]:
    names = [item.path for item in shard if isinstance(item, PendingFile)]
    if "boom.yaml" in names:
        raise RuntimeError("reader bug")
    return names


def _finish(state: list[str], others: Sequence[Sequence[str] | None]) -> list[str]:
    return [*state, "|", *(name for part in others for name in (part or ["self"]))]


def test_run_shards_swaps_shared_parts_in_shard_order() -> None:
    shards = [_pending(1), _pending(1, 1)[1:], [PendingFile("g.yaml", "g.yaml", 1)]]
    results = sharding.run_shards(shards, _read, lambda names: names, _finish)
    assert results == [
        ["f0.yaml", "|", "self", "f1.yaml", "g.yaml"],
        ["f1.yaml", "|", "f0.yaml", "self", "g.yaml"],
        ["g.yaml", "|", "f0.yaml", "f1.yaml", "self"],
    ]


def test_a_failing_worker_means_no_sharded_result_and_no_stray_process() -> None:
    shards = [_pending(1), [PendingFile("boom.yaml", "boom.yaml", 1)]]
    assert sharding.run_shards(shards, _read, lambda names: names, _finish) is None
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_a_failing_scan_worker_falls_back_to_one_process(
    tiny_shards: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sharding, "run_shards", lambda *args: None)
    paths = [str(ROOT / "tests" / "fixtures")]
    assert _facts(paths, 2) == _facts(paths, 1)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workloads_written_by_their_shards_give_the_same_json(
    tiny_shards: None, workers: int
) -> None:
    paths = [str(ROOT / "tests" / "fixtures"), str(ROOT / "tests" / "rules" / "cases")]
    rendered = scan_rendered(paths, workers=workers)
    assert rendered.store.workloads == ()
    expected = dump_json_for(io.StringIO(), scan(paths, workers=1).to_json())
    assert rendered.to_json_bytes().decode("utf-8") == expected


def test_written_workloads_get_unique_ids_across_shards(
    tiny_shards: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text(DEPLOYMENT)
    Path("b.yaml").write_text(DEPLOYMENT)
    written = json.loads(scan_rendered(["."], workers=2).to_json_bytes())
    assert [w["id"] for w in written["workloads"]] == [
        "Deployment/llm/llama/vllm@a.yaml",
        "Deployment/llm/llama/vllm@b.yaml",
    ]
    assert written == scan(["."], workers=1).to_json()


def test_origins_built_directly_are_whole_origins() -> None:
    """Node.origin fills an Origin's fields without its __init__; none may be left out."""
    import dataclasses

    from piqc_advisor.collectors.tree import Node
    from piqc_advisor.collectors.yaml_source import parse_documents
    from piqc_advisor.facts.origin import Origin

    (document,), _ = parse_documents("a:\n  b: 1\n", "x.yaml")
    origin = Node.root(document).get("a").get("b").origin  # type: ignore[union-attr]
    assert set(vars(origin)) == {f.name for f in dataclasses.fields(Origin)}
    assert origin == Origin("x.yaml", 2, 3, "/a/b", 0, None, None)
    assert hash(origin) == hash(Origin("x.yaml", 2, 3, "/a/b", 0, None, None))
