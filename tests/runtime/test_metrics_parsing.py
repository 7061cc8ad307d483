from __future__ import annotations

import math
from pathlib import Path

import pytest

from piqc_advisor.collectors.prometheus_text import parse_exposition
from piqc_advisor.collectors.vllm_metrics import ALIASES, normalise
from piqc_advisor.runtime.signals import Histogram, compute_signals
from piqc_advisor.runtime.snapshot import read_snapshot_file, snapshot_from_text

CAPTURES = Path("/work/shared/reference/vllm-cpu/captures")
HERE = Path(__file__).parent / "fixtures"
needs_captures = pytest.mark.skipif(not CAPTURES.is_dir(), reason="reference captures absent")


def _with_time(tmp_path: Path, name: str, source: Path, when: str) -> Path:
    target = tmp_path / name
    target.write_text(f"# piqc-snapshot time={when}\n" + source.read_text())
    return target


@needs_captures
def test_real_capture_lifetime_counts() -> None:
    snap = read_snapshot_file(CAPTURES / "metrics_after.txt")
    assert not snap.problems
    sig = compute_signals([snap])
    assert sig["requests-per-second"].value["requests"] == 50
    assert sig["tokens-per-second"].value["prompt_tokens"] == 1413
    assert sig["tokens-per-second"].value["generation_tokens"] == 816
    assert sig["error-rate"].value["finished"] == 50
    assert sig["error-rate"].value["aborts"] == 0
    assert sig["ttft"].value["count"] == 51
    assert sig["end-to-end-latency"].value["mean"] == pytest.approx(3.6325368881225586 / 50)
    assert sig["kv-cache-policy"].value["num_gpu_blocks"] == 16384
    assert sig["kv-cache-policy"].value["prefix_cache_hit_rate"] == pytest.approx(256 / 1413)
    assert sig["paged-attention"].value["block_size"] == 128
    assert sig["model-id"].value["models"] == ["tiny-llama"]
    assert sig["engine-version"].status == "unknown"
    assert sig["parameter-count"].status == "unknown"
    prov = sig["requests-per-second"].provenance[0]
    assert prov.metric == "vllm:request_success_total"
    assert prov.window == "lifetime"
    assert any('finished_reason="length"' in labels for labels in prov.labels)


@needs_captures
def test_real_captures_window(tmp_path: Path) -> None:
    before = _with_time(tmp_path, "a.txt", CAPTURES / "metrics_before.txt", "2026-11-27T04:32:18Z")
    after = _with_time(tmp_path, "b.txt", CAPTURES / "metrics_after.txt", "2026-11-27T04:32:20Z")
    sig = compute_signals([read_snapshot_file(after), read_snapshot_file(before)])
    rps = sig["requests-per-second"]
    assert rps.value["requests"] == 50
    assert rps.value["rps"] == pytest.approx(25.0)
    assert sig["tokens-per-second"].value["generation_tps"] == pytest.approx(408.0)
    assert rps.provenance[0].window == "window 2.0s (2 samples)"
    assert sig["effective-batch-size"].value["samples"] == 2


def test_counter_reset_between_snapshots() -> None:
    def body(n: float) -> str:
        return (
            "# TYPE vllm:request_success_total counter\n"
            f'vllm:request_success_total{{engine="0",finished_reason="stop",model_name="m"}} {n}\n'
        )

    snaps = [snapshot_from_text(body(v), "s", t) for t, v in ((0, 100), (10, 130), (20, 5))]
    sig = compute_signals(snaps)
    assert sig["requests-per-second"].value["requests"] == 35  # 30, then a restart, then 5
    assert sig["requests-per-second"].value["rps"] == pytest.approx(1.75)


def test_v0_engine_names() -> None:
    snap = read_snapshot_file(HERE / "vllm_v0_engine.txt")
    assert not snap.problems
    sig = compute_signals([snap])
    assert sig["kv-cache-usage"].value["max"] == pytest.approx(0.97)
    assert sig["kv-cache-usage"].provenance[0].metric == "vllm:gpu_cache_usage_perc"
    assert sig["kv-cache-usage"].value["preemptions"] == 12
    assert sig["inter-token-latency"].value["mean"] == pytest.approx(0.018)
    assert sig["inter-token-latency"].provenance[0].metric == "vllm:time_per_output_token_seconds"
    assert sig["error-rate"].value["aborts"] == 2
    assert sig["error-rate"].value["abort_rate"] == pytest.approx(0.05)
    assert sig["queue-depth"].value["current"] == 3
    assert sig["kv-cache-policy"].status == "unknown"  # no cache_config_info before 0.7
    assert sig["queue-time"].status == "unknown"
    assert snap.metrics.aliases_used["vllm:gpu_cache_usage_perc"] == "vllm:kv_cache_usage_perc"


def test_renamed_names_engines_lora_and_router() -> None:
    snap = read_snapshot_file(HERE / "vllm_0_9_renamed.txt")
    sig = compute_signals([snap])
    assert snap.metrics.engines() == ("0", "1")
    assert sig["effective-batch-size"].value["max"] == 5  # summed over engines, router excluded
    assert sig["kv-cache-usage"].value["max"] == pytest.approx(0.5)  # the fullest engine
    assert sig["requests-per-second"].value["requests"] == 15
    assert len(snap.metrics.router) == 2
    lora = snap.metrics.series("vllm:lora_requests_info", "value")
    assert lora[0].label("running_lora_adapters") == "sql,chat"


def test_alias_targets_are_canonical() -> None:
    for raw, (canonical, generation) in ALIASES.items():
        assert canonical.startswith("vllm:") and generation
        assert canonical not in ALIASES or ALIASES[canonical][0] == canonical, raw


def test_unknown_is_never_zero() -> None:
    sig = compute_signals([snapshot_from_text("# nothing here\n", "empty", 1.0)])
    assert all(s.status == "unknown" for s in sig.values())
    assert all(s.value == {} for s in sig.values())


def test_histogram_quantile_matches_prometheus() -> None:
    hist = Histogram(((0.1, 10.0), (0.5, 30.0), (float("inf"), 40.0)), 12.0, 40.0)
    assert hist.quantile(0.5) == pytest.approx(0.1 + 0.4 * 0.5)
    assert hist.quantile(0.99) == pytest.approx(0.5)  # in +Inf: the highest finite bound
    assert Histogram((), 0.0, 0.0).quantile(0.5) is None


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ('ok 1\nfoo{a="b" 1\n', 2),
        ("# TYPE x counter\nx_total one\n", 2),
        ("<html><body>login</body></html>", 1),
    ],
)
def test_garbage_names_the_line(body: str, line: int) -> None:
    parsed = parse_exposition(body, "bad")
    assert not parsed.ok
    assert parsed.problems[0].line == line


def test_size_caps() -> None:
    huge = "x 1\n" * 1000
    parsed = parse_exposition(huge, "big", max_bytes=100)
    assert parsed.problems[0].code == "metrics-too-large"
    assert parse_exposition(b"\xff\xfe", "bin").problems[0].code == "metrics-encoding"
    long_line = "x" * 70_000 + " 1\n"
    assert parse_exposition(long_line, "long").problems[0].code == "metrics-malformed"


def test_bad_header_time(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("# piqc-snapshot time=yesterday\nx 1\n")
    snap = read_snapshot_file(path)
    assert snap.problems[0].code == "metrics-bad-time"
    assert normalise(parse_exposition("x 1\n", "x")).engine == []


def test_a_bucket_bound_that_is_not_a_number_is_left_out_with_a_warning() -> None:
    body = (
        "# TYPE vllm:e2e_request_latency_seconds histogram\n"
        'vllm:e2e_request_latency_seconds_bucket{le="abc",model_name="m"} 3\n'
        'vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 3\n'
        'vllm:e2e_request_latency_seconds_count{model_name="m"} 3\n'
    )
    snap = snapshot_from_text(body, "s", 1.0)
    buckets = snap.metrics.series("vllm:e2e_request_latency_seconds", "bucket")
    assert [b.le for b in buckets] == [math.inf]
    assert [(p.severity, p.code, p.message) for p in snap.problems] == [
        (
            "warning",
            "metrics-bad-bucket",
            "vllm:e2e_request_latency_seconds_bucket: bucket bound le='abc' is not a number; "
            "the bucket was left out",
        )
    ]
