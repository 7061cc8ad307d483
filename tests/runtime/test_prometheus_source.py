from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from piqc_advisor.cli import main
from piqc_advisor.rules.runtime import diagnose
from piqc_advisor.runtime.fleet_checks import analyse_fleet, diagnosis_table, link_fleet
from piqc_advisor.runtime.probe import FetchError, ProbeOptions, Prober
from piqc_advisor.runtime.prometheus_source import (
    ITL,
    KV_USAGE,
    PREEMPTIONS,
    REQUESTS,
    SelectorError,
    check_replica_label,
    parse_selector,
    promql_duration,
    read_fleet,
    replica_facts,
    replica_signals,
)
from piqc_advisor.runtime.promql import instant_query, query
from piqc_advisor.terminal import plain_table

# ------------------------------------------------------------------ a local Prometheus API

STAMP = 1795842066.119
A, B = "10.0.1.1:8000", "10.0.1.2:8000"
SEL = 'namespace="llm",deployment="llama"'
SELECTOR = "{" + SEL + "}"
W = "5m"

# Recorded from Prometheus 2.42 scraping the tiny vLLM 0.32 test server (one replica).
RECORDED_DISCOVERY = (
    b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":'
    b'"vllm:e2e_request_latency_seconds_bucket","instance":"127.0.0.1:18831","model_name":'
    b'"tiny-llama"},"value":[1795842066.119,"22"]},{"metric":{"__name__":'
    b'"vllm:request_success_total","instance":"127.0.0.1:18831","model_name":"tiny-llama"},'
    b'"value":[1795842066.119,"5"]}]}}'
)
RECORDED_BY_REASON = (
    b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"finished_reason":'
    b'"abort","instance":"127.0.0.1:18831"},"value":[1795842066.123,"0"]},{"metric":'
    b'{"finished_reason":"error","instance":"127.0.0.1:18831"},"value":[1795842066.123,"0"]},'
    b'{"metric":{"finished_reason":"length","instance":"127.0.0.1:18831"},"value":'
    b'[1795842066.123,"0.13714977815678567"]},{"metric":{"finished_reason":"stop","instance":'
    b'"127.0.0.1:18831"},"value":[1795842066.123,"0"]}]}}'
)
RECORDED_NAN_QUANTILE = (
    b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":'
    b'"127.0.0.1:18831"},"value":[1795842066.132,"NaN"]},{"metric":{},"value":'
    b'[1795842066.132,"NaN"]}]}}'
)
RECORDED_PARSE_ERROR = (
    b'{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": 1:15: '
    b'parse error: unclosed left parenthesis"}'
)
RECORDED_MATRIX = (
    b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x"},'
    b'"values":[[1795842038.380,"0"]]}]}}'
)


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def vector(*samples: tuple[dict[str, str], float]) -> bytes:
    result = [{"metric": m, "value": [STAMP, _number(v)]} for m, v in samples]
    body = {"status": "success", "data": {"resultType": "vector", "result": result}}
    return json.dumps(body).encode()


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers /api/v1/query from a table of exact PromQL -> (status, body)."""

    answers: ClassVar[dict[str, tuple[int, bytes, str]]] = {}
    seen: ClassVar[list[tuple[str, str | None, str | None]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        promql = params.get("query", [""])[0]
        at = params.get("time", [None])[0]
        FakePrometheus.seen.append((promql, at, self.headers.get("Authorization")))
        if parts.path == "/redirect/api/v1/query":
            self.send_response(302)
            self.send_header("Location", "http://example.invalid/api/v1/query")
            self.end_headers()
            return
        status, body, ctype = FakePrometheus.answers.get(
            promql, (200, vector(), "application/json")
        )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def prom() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    FakePrometheus.answers = {}
    FakePrometheus.seen = []
    yield


def answer(promql: str, body: bytes, status: int = 200, ctype: str = "application/json") -> None:
    FakePrometheus.answers[promql] = (status, body, ctype)


# ------------------------------------------------------------------------------ selector


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        (SEL, SELECTOR),
        ("{" + SEL + "}", SELECTOR),
        ('  { namespace = "llm" , deployment="llama", }  ', SELECTOR),
        ("pod=~`llama-\\d+`,job!~'test.*'", "{pod=~`llama-\\d+`,job!~'test.*'}"),
        ('model_name!="a \\"quoted\\" name"', '{model_name!="a \\"quoted\\" name"}'),
    ],
)
def test_selectors_are_kept_as_written(text: str, rendered: str) -> None:
    assert parse_selector(text).render() == rendered


def test_selector_values_are_unquoted_for_linking() -> None:
    selector = parse_selector("deployment=\"llama\",model_name='a \\'b\\'',pod=~\"x\\\\d\"")
    assert selector.equals("deployment") == "llama"
    assert selector.equals("model_name") == "a 'b'"
    assert selector.equals("pod") is None  # a regex matcher is not an equality
    assert selector.equals("namespace") is None
    assert parse_selector('x="\\u00e9\\x41\\101\\n"').matchers[0].value == "éAA\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deployment=llama", "expected a matcher like name=\"value\" at 'deployment=llama'"),
        ('vllm:foo{deployment="llama"}', "give label matchers only"),
        ('{deployment="llama"', "'{' without a closing '}'"),
        ('deployment=="llama"', "expected a matcher"),
        ('deployment="llama" or job="x"', "expected ',' between matchers at 'or job=\"x\"'"),
        ('__name__="vllm:x"', "the selector cannot constrain __name__"),
        ("", "has no label matcher"),
        ("{}", "has no label matcher"),
        ('pod=~"llama-\\d+"', "unknown escape \\d"),
        ('x="\\x4"', "bad escape \\x"),
    ],
)
def test_broken_selectors_are_refused(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert message in str(caught.value)


def test_replica_label_and_window() -> None:
    assert check_replica_label("pod") == "pod"
    for bad in ("le", "__name__", "1pod", "pod-name", ""):
        with pytest.raises(SelectorError):
            check_replica_label(bad)
    assert [promql_duration(s) for s in (300, 90, 0.5, 3600, 7200, 61)] == [
        "5m",
        "90s",
        "500ms",
        "1h",
        "2h",
        "61s",
    ]
    with pytest.raises(SelectorError):
        promql_duration(0)


def test_metric_names_of_every_vllm_generation() -> None:
    assert KV_USAGE.names == ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
    assert ITL.series("_sum") == (
        "vllm:inter_token_latency_seconds_sum",
        "vllm:time_per_output_token_seconds_sum",
    )
    assert PREEMPTIONS.names == ("vllm:num_preemptions_total",)
    assert REQUESTS.series("_bucket") == ("vllm:request_success_total",)


# --------------------------------------------------------------------------- one query


def test_query_sends_time_and_token_and_reads_samples(prom: str) -> None:
    answer("up", vector(({"instance": A, "job": "vllm"}, 1.0), ({"instance": B}, math.nan)))
    prober = Prober(prom, ProbeOptions(token="s3cret"))
    try:
        samples = query(prober, "up", at=1795842000.5)
    finally:
        prober.close()
    assert [(s.labels, s.value, s.timestamp) for s in samples[:1]] == [
        ({"instance": A, "job": "vllm"}, 1.0, STAMP)
    ]
    assert math.isnan(samples[1].value)
    assert FakePrometheus.seen == [("up", "1795842000.500", "Bearer s3cret")]


def test_recorded_answers_parse(prom: str) -> None:
    answer("by_reason", RECORDED_BY_REASON)
    samples = instant_query(prom, "by_reason")
    assert [(s.labels["finished_reason"], s.value) for s in samples] == [
        ("abort", 0.0),
        ("error", 0.0),
        ("length", 0.13714977815678567),
        ("stop", 0.0),
    ]
    assert FakePrometheus.seen[0][1] is None  # no time: Prometheus' now


@pytest.mark.parametrize(
    ("status", "body", "ctype", "message"),
    [
        (
            400,
            RECORDED_PARSE_ERROR,
            "application/json",
            'HTTP 400, bad_data: invalid parameter "query": 1:15: parse error: unclosed left '
            "parenthesis",
        ),
        (502, b"<html>Bad Gateway</html>", "text/html", "HTTP 502, the answer is not JSON"),
        (401, b"Unauthorized\n", "text/plain", "HTTP 401, the answer is not JSON"),
        (200, RECORDED_MATRIX, "application/json", "expected an instant vector, got matrix"),
        (200, b"[1, 2]", "application/json", "HTTP 200, not an API answer"),
        (
            200,
            b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}',
            "application/json",
            "malformed sample {'metric': {}}",
        ),
        (
            503,
            b'{"status":"error","errorType":"unavailable","error":"TSDB not ready"}',
            "application/json",
            "HTTP 503, unavailable: TSDB not ready",
        ),
    ],
)
def test_query_errors_name_the_url_and_the_query(
    prom: str, status: int, body: bytes, ctype: str, message: str
) -> None:
    answer("sum(rate(x[5m]", body, status, ctype)
    with pytest.raises(FetchError) as caught:
        instant_query(prom, "sum(rate(x[5m]")
    assert str(caught.value) == f"{prom}/api/v1/query: query 'sum(rate(x[5m]': {message}"


def test_cross_host_redirect_and_unreachable_prometheus(prom: str) -> None:
    with pytest.raises(FetchError, match="redirect to another host or scheme refused"):
        instant_query(prom + "/redirect", "up")
    with pytest.raises(FetchError, match=r"^http://127\.0\.0\.1:9/api/v1/query: query 'up': "):
        instant_query("http://127.0.0.1:9", "up", ProbeOptions(timeout=2))


def test_answer_size_is_capped(prom: str) -> None:
    answer("big", vector(*[({"instance": f"10.0.0.{i}:8000"}, 1.0) for i in range(200)]))
    with pytest.raises(FetchError, match="body exceeds the 1000-byte limit"):
        instant_query(prom, "big", ProbeOptions(max_bytes=1000))


# ----------------------------------------------------------------------- a fleet of two


def s(name: str) -> str:
    return f"{name}{{{SEL}}}"


def over(fn: str, *names: str, arg: str = "") -> str:
    return " or ".join(f"{fn}({arg}{s(n)}[{W}])" for n in names)


def by_replica(*values: float, label: str = "instance") -> bytes:
    return vector(*(({label: r}, v) for r, v in zip((A, B), values, strict=False)))


def quantile(q: float, base: str) -> str:
    rates = over("rate", base + "_bucket")
    return f"histogram_quantile({q}, sum by (instance, le) ({rates}) or sum by (le) ({rates}))"


def mean_query(base: str) -> str:
    sums, counts = over("rate", base + "_sum"), over("rate", base + "_count")
    return (
        f"sum by (instance) ({sums}) / sum by (instance) ({counts}) or sum({sums}) / sum({counts})"
    )


DISCOVERY = (
    'count by (__name__, instance, model_name) ({__name__=~"vllm:request_success_total|'
    "vllm:admission_rejections_total|vllm:prompt_tokens_total|vllm:generation_tokens_total|"
    "vllm:num_preemptions_total|vllm:prefix_cache_hits_total|vllm:gpu_prefix_cache_hits_total|"
    "vllm:prefix_cache_queries_total|vllm:gpu_prefix_cache_queries_total|"
    "vllm:cache_config_info|vllm:num_requests_running|vllm:num_requests_waiting|"
    "vllm:kv_cache_usage_perc|vllm:gpu_cache_usage_perc|"
    "vllm:time_to_first_token_seconds_bucket|vllm:inter_token_latency_seconds_bucket|"
    "vllm:time_per_output_token_seconds_bucket|vllm:e2e_request_latency_seconds_bucket|"
    f'vllm:request_queue_time_seconds_bucket",{SEL}}})'
)
E2E = "vllm:e2e_request_latency_seconds"
TTFT = "vllm:time_to_first_token_seconds"
QUEUE = "vllm:request_queue_time_seconds"


def two_replicas() -> None:
    """A at 3 requests/s with a full KV cache, B (an older vLLM: gpu_cache_usage_perc) at 1."""
    shared = [
        "vllm:request_success_total",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:num_preemptions_total",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        f"{TTFT}_bucket",
        f"{E2E}_bucket",
        f"{QUEUE}_bucket",
    ]
    groups = [(n, r) for n in shared for r in (A, B)]
    groups += [("vllm:kv_cache_usage_perc", A), ("vllm:gpu_cache_usage_perc", B)]
    answer(
        DISCOVERY,
        vector(
            *(({"__name__": n, "instance": r, "model_name": "llama-3-8b"}, 1.0) for n, r in groups)
        ),
    )
    rate = over("rate", "vllm:request_success_total")
    answer(
        f"sum by (instance, finished_reason) ({rate})",
        vector(
            ({"instance": A, "finished_reason": "length"}, 2.625),
            ({"instance": A, "finished_reason": "stop"}, 0.0),
            ({"instance": A, "finished_reason": "error"}, 0.375),
            ({"instance": A, "finished_reason": "abort"}, 0.0),
            ({"instance": B, "finished_reason": "length"}, 1.0),
            ({"instance": B, "finished_reason": "error"}, 0.0),
            ({"instance": B, "finished_reason": "abort"}, 0.0),
        ),
    )
    for name, values in (
        ("vllm:prompt_tokens_total", (600.0, 200.0)),
        ("vllm:generation_tokens_total", (300.0,)),  # B: fewer than two samples
        ("vllm:num_preemptions_total", (0.01, 0.0)),
    ):
        answer(f"sum by (instance) ({over('rate', name)})", by_replica(*values))
    running = "vllm:num_requests_running"
    answer(f"max by (instance) ({over('count_over_time', running)})", by_replica(300.0, 298.0))
    answer(f"sum by (instance) ({over('avg_over_time', running)})", by_replica(5.0, 3.0))
    answer(
        f"sum by (instance) ({over('quantile_over_time', running, arg='0.95, ')})",
        by_replica(8.0, 4.0),
    )
    answer(f"sum by (instance) ({over('max_over_time', running)})", by_replica(8.0, 6.0))
    waiting = "vllm:num_requests_waiting"
    answer(f"sum by (instance) ({over('avg_over_time', waiting)})", by_replica(0.5, 0.0))
    answer(f"sum by (instance) ({over('max_over_time', waiting)})", by_replica(4.0, 0.0))
    kv = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
    answer(f"max by (instance) ({over('avg_over_time', *kv)})", by_replica(0.6, 0.4))
    answer(f"max by (instance) ({over('max_over_time', *kv)})", by_replica(0.97, 0.5))
    for q, values in ((0.5, (0.4, 0.2, 0.3)), (0.95, (2.0, 0.5, 1.8)), (0.99, (4.0, 0.8, 3.5))):
        answer(
            quantile(q, E2E),
            vector(({"instance": A}, values[0]), ({"instance": B}, values[1]), ({}, values[2])),
        )
        answer(
            quantile(q, TTFT),
            vector(({"instance": A}, values[0] / 4), ({"instance": B}, math.nan), ({}, 0.1)),
        )
        answer(quantile(q, QUEUE), vector(({"instance": A}, 0.01), ({}, 0.01)))
    answer(mean_query(E2E), vector(({"instance": A}, 0.9), ({"instance": B}, 0.3), ({}, 0.75)))
    answer(
        f"sum by (instance) ({over('rate', f'{E2E}_count')})",
        by_replica(3.0, 1.0),
    )


def test_read_fleet_per_replica_and_fleet_values(prom: str) -> None:
    two_replicas()
    values = read_fleet(prom, parse_selector(SEL), 300, ProbeOptions(token="t0k"))
    assert values.replicas == (A, B)
    assert values.models == ("llama-3-8b",)
    assert values.evaluated_at == STAMP
    got = {
        key: (values.value(key, A), values.value(key, B), values.value(key))
        for key in (
            "requests_per_s",
            "errors_per_s",
            "failure_share",
            "prompt_tokens_per_s",
            "prompt_tokens_per_request",
            "running_mean",
            "running_max",
            "kv_usage_mean",
            "kv_usage_max",
            "e2e_p95",
            "e2e_mean",
            "ttft_p99",
            "window_samples",
        )
    }
    assert got == {
        "requests_per_s": (3.0, 1.0, 4.0),
        "errors_per_s": (0.375, 0.0, 0.375),
        "failure_share": (0.125, 0.0, 0.09375),
        "prompt_tokens_per_s": (600.0, 200.0, 800.0),
        "prompt_tokens_per_request": (200.0, 200.0, 200.0),
        "running_mean": (5.0, 3.0, 8.0),
        "running_max": (8.0, 6.0, 8.0),
        "kv_usage_mean": (0.6, 0.4, 0.5),
        "kv_usage_max": (0.97, 0.5, 0.97),
        "e2e_p95": (2.0, 0.5, 1.8),
        "e2e_mean": (0.9, 0.3, 0.75),
        "ttft_p99": (1.0, None, 0.1),
        "window_samples": (300.0, 298.0, 300.0),
    }
    # Unknown, never zero, and always why.
    assert values.read("ttft_p50", B).reason == "no observations in the 5m window"
    assert values.read("generation_tokens_per_s", B).reason == (
        "fewer than two samples in the 5m window"
    )
    assert values.read("generation_tokens_per_s").value == 300.0
    assert "(1 of 2 replicas have data)" in values.results["generation_tokens_per_s"].fleet_how
    assert values.read("queue_time_p50", B).reason == "no observations in the 5m window"
    assert values.read("rejections_per_s", A).reason == (
        f"vllm:admission_rejections_total not exported under {SELECTOR}"
    )
    assert values.read("itl_p99").reason == (
        "vllm:inter_token_latency_seconds_bucket / vllm:time_per_output_token_seconds_bucket "
        f"not exported under {SELECTOR}"
    )
    assert values.read("prefix_cache_hit_rate", A).reason == (
        "vllm:prefix_cache_hits_total / vllm:gpu_prefix_cache_hits_total not exported under "
        f"{SELECTOR}"
    )
    # One HTTP call per query, every one after discovery at discovery's time, with the token.
    assert [q for q, _, _ in FakePrometheus.seen] == list(values.queries)
    assert [t for _, t, _ in FakePrometheus.seen] == [None] + ["1795842066.119"] * (
        len(values.queries) - 1
    )
    assert {auth for _, _, auth in FakePrometheus.seen} == {"Bearer t0k"}
    assert len(values.queries) == 28  # 1 discovery, 4 counters, 8 gauges, 3 x 5 histograms
    assert values.names["vllm:kv_cache_usage_perc"] == (
        "vllm:kv_cache_usage_perc",
        "vllm:gpu_cache_usage_perc",
    )
    assert values.notes == (
        "vllm:kv_cache_usage_perc: replicas export vllm:kv_cache_usage_perc and "
        "vllm:gpu_cache_usage_perc (vLLM generations mixed); a replica exporting both counts "
        "under the newest name",
    )
    assert values.results["kv_usage_max"].query == (
        f"max by (instance) (max_over_time(vllm:kv_cache_usage_perc{{{SEL}}}[5m]) or "
        f"max_over_time(vllm:gpu_cache_usage_perc{{{SEL}}}[5m]))"
    )
    data = values.to_json()
    e2e = next(q for q in data["quantities"] if q["key"] == "e2e_p95")
    assert e2e == {
        "key": "e2e_p95",
        "name": "End-to-end latency p95",
        "unit": "s",
        "query": quantile(0.95, E2E),
        "inputs": [],
        "fleet_how": "the same query over all replicas together",
        "fleet": {"status": "ok", "value": 1.8, "reason": None},
        "replicas": {
            A: {"status": "ok", "value": 2.0, "reason": None},
            B: {"status": "ok", "value": 0.5, "reason": None},
        },
    }


def test_signals_and_diagnoses_of_each_replica(prom: str) -> None:
    two_replicas()
    values = read_fleet(prom, parse_selector(SEL), 300, ProbeOptions())
    signals = replica_signals(values, A, {"max_num_seqs": 8})
    assert signals["requests-per-second"].value == {"rps": 3.0, "requests": 900.0}
    assert signals["kv-cache-usage"].value == {"mean": 0.6, "max": 0.97, "preemptions": 3.0}
    assert signals["effective-batch-size"].value == {
        "mean": 5.0,
        "p95": 8.0,
        "max": 8.0,
        "configured_max": 8,
    }
    assert signals["end-to-end-latency"].value == {
        "p50": 0.4,
        "p95": 2.0,
        "p99": 4.0,
        "mean": 0.9,
        "count": 900.0,
    }
    assert signals["error-rate"].value["errors"] == 112.5
    assert signals["error-rate"].value["failure_rate"] == 0.125
    assert signals["model-id"].status == "unknown"
    assert signals["inter-token-latency"].reason == (
        "vllm:inter_token_latency_seconds_bucket / vllm:time_per_output_token_seconds_bucket "
        f"not exported under {SELECTOR}"
    )
    prov = signals["requests-per-second"].provenance[0]
    assert prov.metric == (
        f"sum by (instance, finished_reason) (rate(vllm:request_success_total{{{SEL}}}[5m]))"
    )
    assert prov.labels == (SELECTOR,)
    assert prov.window == "5m window (Prometheus, at 1795842066.119)"
    results = {r.rule.name: r for r in diagnose(replica_facts(values, A, {"max_num_seqs": 8}))}
    assert results["runtime-kv-cache-pressure"].outcome == "diagnosed"
    assert results["runtime-kv-cache-pressure"].message == (
        "KV-cache pressure: KV-cache usage reached 97%, 3 preemptions, up to 4 requests waiting "
        "(over a 300s window)"
    )
    assert results["runtime-error-rate"].outcome == "diagnosed"
    on_b = {r.rule.name: r.outcome for r in diagnose(replica_facts(values, B))}
    assert on_b["runtime-kv-cache-pressure"] == "passed"
    assert on_b["runtime-batching-collapse"] == "unknown"  # max-num-seqs not given


def test_fleet_analysis_finds_the_imbalance(prom: str) -> None:
    two_replicas()
    analysis = analyse_fleet(read_fleet(prom, parse_selector(SEL), 300, ProbeOptions()))
    assert [(r.rule.name, r.outcome, r.message) for r in analysis.fleet] == [
        (
            "runtime-replica-imbalance",
            "diagnosed",
            "Replica imbalance over 300s: finished requests: instance 10.0.1.1:8000 has "
            "3 requests/s, 1.5x the mean of 2 replicas; balance on engine load (waiting "
            "requests, KV usage)",
        )
    ]
    assert analysis.diagnosed
    rows = diagnosis_table(analysis).rows
    assert rows[0][:3] == ("fleet", "diagnosed", "runtime-replica-imbalance")
    assert (A, "diagnosed", "runtime-kv-cache-pressure") in {r[:3] for r in rows}
    assert "all 2 replicas" in {r[0] for r in rows}
    text = plain_table(diagnosis_table(analysis))
    assert "runtime-replica-imbalance" in text


def test_a_selector_that_matches_nothing(prom: str) -> None:
    with pytest.raises(FetchError) as caught:
        read_fleet(prom, parse_selector('deployment="nope"'), 300, ProbeOptions())
    assert str(caught.value) == (f'{prom}/api/v1/query: no vLLM series match {{deployment="nope"}}')
    assert len(FakePrometheus.seen) == 1


def test_a_replica_label_the_series_lack(prom: str) -> None:
    answer(DISCOVERY.replace("instance", "pod", 1), RECORDED_DISCOVERY)
    with pytest.raises(FetchError) as caught:
        read_fleet(prom, parse_selector(SEL), 300, ProbeOptions(), replica_label="pod")
    assert str(caught.value).endswith(
        f"2 of 2 vLLM series groups under {SELECTOR} have no 'pod' label; "
        "pick another --replica-label"
    )


def test_one_real_replica_from_recorded_answers(prom: str) -> None:
    answer(DISCOVERY, RECORDED_DISCOVERY)
    rate = over("rate", "vllm:request_success_total")
    answer(f"sum by (instance, finished_reason) ({rate})", RECORDED_BY_REASON)
    for q in (0.5, 0.95, 0.99):
        answer(quantile(q, E2E), RECORDED_NAN_QUANTILE)
    values = read_fleet(prom, parse_selector(SEL), 300, ProbeOptions())
    assert values.replicas == ("127.0.0.1:18831",)
    assert values.value("requests_per_s") == 0.13714977815678567
    assert values.value("failure_share") == 0.0
    assert values.read("e2e_p99").reason == "no observations in the 5m window"
    assert values.read("e2e_mean").reason == "no observations in the 5m window"
    assert values.read("running_mean").reason == (
        f"vllm:num_requests_running not exported under {SELECTOR}"
    )
    assert len(values.queries) == 7  # discovery, requests, 3 quantiles + mean + count of e2e
    analysis = analyse_fleet(values)
    assert [(r.outcome, r.message) for r in analysis.fleet] == [
        (
            "unknown",
            f"1 replica under {prom} {SELECTOR}: balance needs at least 2 to compare",
        )
    ]


def test_link_by_deployment_label_or_model_name(prom: str) -> None:
    from piqc_advisor.collectors.scan import scan

    workloads = scan(["tests/fixtures/manifests/probe"]).workloads
    answer(DISCOVERY, RECORDED_DISCOVERY)
    values = read_fleet(prom, parse_selector(SEL), 300, ProbeOptions())
    assert link_fleet(values, workloads) is None  # deployment "llama" is not in the manifests
    other = 'job="vllm"'
    answer(DISCOVERY.replace(SEL, other), RECORDED_DISCOVERY)
    by_model = read_fleet(prom, parse_selector(other), 300, ProbeOptions())
    assert link_fleet(by_model, workloads) == "Deployment/default/tiny-llama/vllm"
    named = 'deployment="tiny-llama",namespace="llm"'
    answer(DISCOVERY.replace(SEL, named), RECORDED_DISCOVERY)
    by_name = read_fleet(prom, parse_selector(named), 300, ProbeOptions())
    assert link_fleet(by_name, workloads) == "Deployment/default/tiny-llama/vllm"


# ---------------------------------------------------------------------------------- CLI


def _probe(prom: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(
        main, ["probe", "--prometheus", prom, *args], env=env, catch_exceptions=False
    )


def test_cli_probe_prometheus_json(prom: str) -> None:
    two_replicas()
    result = _probe(
        prom,
        "--selector",
        SEL,
        "--format",
        "json",
        "--token-env",
        "PIQC_PROM_TOKEN",
        env={"PIQC_PROM_TOKEN": "s3cret-token"},
    )
    assert result.exit_code == 1, result.output
    assert "s3cret-token" not in result.output
    data = json.loads(result.stdout)
    assert data["servers"] == []
    fleet = data["prometheus"][0]
    assert fleet["selector"] == SELECTOR
    assert fleet["window"] == "5m" and fleet["window_s"] == 300
    assert fleet["replicas"] == [A, B]
    assert fleet["diagnoses"][0]["scope"] == "fleet"
    assert fleet["diagnoses"][0]["rule"] == "runtime-replica-imbalance"
    assert fleet["diagnoses"][0]["item"] == "NET-501"
    assert {a for _, _, a in FakePrometheus.seen} == {"Bearer s3cret-token"}


def test_cli_probe_prometheus_table_and_exit_zero(prom: str) -> None:
    two_replicas()
    result = _probe(prom, "--selector", SEL, "--exit-zero")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{prom} {SELECTOR}: 2 replica(s) by instance, 5m window"
    assert any(line.split()[:3] == ["requests_per_s", "requests/s", "4"] for line in lines)
    assert any(line.startswith("instance ") and "requests/s" in line for line in lines)
    assert "Diagnoses" in lines


def test_cli_probe_prometheus_window_and_label(prom: str) -> None:
    result = _probe(prom, "--selector", SEL, "--window", "90s", "--replica-label", "pod")
    assert result.exit_code == 3
    assert FakePrometheus.seen[0][0] == DISCOVERY.replace("instance", "pod", 1)
    assert f"error: {prom}/api/v1/query: no vLLM series match {SELECTOR}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe"], "give server URLs, or --prometheus URL with --selector"),
        (["probe", "--prometheus", "http://127.0.0.1:9"], "--prometheus needs --selector"),
        (["probe", "--selector", SEL, "http://127.0.0.1:9"], "--selector needs --prometheus"),
        (
            ["probe", "--prometheus", "http://127.0.0.1:9", "--selector", "deployment=x"],
            "expected a matcher like name=",
        ),
        (
            [
                "probe",
                "--prometheus",
                "http://127.0.0.1:9",
                "--selector",
                SEL,
                "--replica-label",
                "pod-name",
            ],
            "replica label 'pod-name' is not a usable Prometheus label name",
        ),
        (
            ["probe", "--prometheus", "http://127.0.0.1:9", "--selector", SEL, "--window", "0s"],
            "window 0.0s is not positive",
        ),
    ],
)
def test_cli_probe_prometheus_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output


def test_cli_probe_prometheus_api_error_is_an_input_error(prom: str) -> None:
    answer(DISCOVERY, RECORDED_PARSE_ERROR, 400)
    result = _probe(prom, "--selector", SEL)
    assert result.exit_code == 3
    assert "HTTP 400, bad_data: invalid parameter" in result.stderr
