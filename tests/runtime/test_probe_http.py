from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from piqc_advisor.cli import main
from piqc_advisor.rules.runtime import RUNTIME_RULES
from piqc_advisor.runtime.drift import DRIFT_RULE
from piqc_advisor.runtime.probe import FetchError, ProbeOptions, Prober, probe

CAPTURES = Path("/work/shared/reference/vllm-cpu/captures")
METRICS = (
    (CAPTURES / "metrics_after.txt").read_bytes()
    if CAPTURES.is_dir()
    else b'# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine="0"} 0\n'
)


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.seen.append((self.path, self.headers.get("Authorization")))
        path = self.path
        if path.startswith("/ok/"):
            path = path[3:]
            if path == "/metrics":
                return self._send(200, METRICS)
            if path == "/version":
                return self._send(200, b'{"version": "0.32.0"}', "application/json")
            if path == "/v1/models":
                body = {"data": [{"id": "tiny-llama", "max_model_len": 512}]}
                return self._send(200, json.dumps(body).encode(), "application/json")
            if path == "/health":
                return self._send(200, b"")
            return self._send(404, b"not found")
        if path.startswith("/err/"):
            return self._send(503, b"overloaded")
        if path.startswith("/forbidden/"):
            return self._send(403, b"no")
        if path.startswith("/garbage/metrics"):
            return self._send(200, b"vllm:x{ 1\n")
        if path.startswith("/huge/metrics"):
            self.send_response(200)
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"x 1\n" * 16384)
            return None
        if path.startswith("/stall/"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x 1\n")
            self.wfile.flush()
            time.sleep(3)
            return None
        if path.startswith("/away/"):
            self.send_response(302)
            self.send_header("Location", "http://example.invalid/metrics")
            self.end_headers()
            return None
        if path.startswith("/same/"):
            self.send_response(302)
            self.send_header("Location", "/ok" + path[5:])
            self.end_headers()
            return None
        return self._send(404, b"")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_probe_reads_each_endpoint_once_per_sample(server: str) -> None:
    Handler.seen.clear()
    snaps, problems = probe(server + "/ok", ProbeOptions(token="s3cret"), 3, 0.2)
    assert len(snaps) == 3 and not problems
    paths = [p for p, _ in Handler.seen]
    assert paths.count("/ok/metrics") == 3
    assert paths.count("/ok/version") == 1 and paths.count("/ok/v1/models") == 1
    assert all(auth == "Bearer s3cret" for _, auth in Handler.seen)
    assert snaps[0].version == "0.32.0" and snaps[0].models[0].max_model_len == 512


def test_cross_host_redirect_refused(server: str) -> None:
    prober = Prober(server + "/away", ProbeOptions(timeout=2))
    with pytest.raises(FetchError, match="redirect to another host"):
        prober.get("/metrics")
    same = Prober(server + "/same", ProbeOptions(timeout=2)).get("/metrics")
    assert same.status == 200


def test_huge_body_is_cut(server: str) -> None:
    with pytest.raises(FetchError, match="byte limit"):
        Prober(server + "/huge", ProbeOptions(max_bytes=100_000)).get("/metrics")


def test_stalled_server_times_out(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out|longer than"):
        Prober(server + "/stall", ProbeOptions(timeout=0.5)).get("/metrics")
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(("prefix", "status"), [("/err", "503"), ("/forbidden", "403")])
def test_error_statuses_are_problems(server: str, prefix: str, status: str) -> None:
    result = CliRunner().invoke(main, ["probe", server + prefix, "--samples", "1"])
    assert result.exit_code == 3
    assert f"HTTP {status}" in result.output


def test_cli_probe_json_never_prints_the_token(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIQC_TEST_TOKEN", "s3cret-value")
    result = CliRunner().invoke(
        main,
        [
            "probe",
            server + "/ok",
            "--samples",
            "2",
            "--window",
            "200ms",
            "--format",
            "json",
            "--token-env",
            "PIQC_TEST_TOKEN",
            "--exit-zero",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "s3cret-value" not in result.output
    data = json.loads(result.output)
    server_result = data["servers"][0]
    assert server_result["windowed"] is True
    ids = [s["id"] for s in server_result["signals"]]
    assert len(ids) == 25


def test_cli_garbage_metrics(server: str) -> None:
    result = CliRunner().invoke(main, ["probe", server + "/garbage", "--samples", "1"])
    assert result.exit_code == 3
    assert "malformed exposition line" in result.output


def test_cli_metrics_file(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(METRICS)
    result = CliRunner().invoke(main, ["metrics", str(path), "--format", "json", "--exit-zero"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["servers"][0]["view"] == "lifetime"
    bad = tmp_path / "bad.txt"
    bad.write_text("not metrics at all {\n")
    assert CliRunner().invoke(main, ["metrics", str(bad)]).exit_code == 3


def test_check_probe_links_the_server_and_reports_runtime_outcomes(server: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "check",
            "tests/fixtures/manifests/probe",
            "--probe",
            server + "/ok",
            "--probe-window",
            "0.2s",
            "--format",
            "json",
            "--exit-zero",
        ],
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    runtime = [o for o in data["outcomes"] if o["rule"].startswith("runtime-")]
    assert {o["subject"] for o in runtime} == {"Deployment/default/tiny-llama/vllm"}
    ours = [*(r.name for r in RUNTIME_RULES), DRIFT_RULE]  # one outcome each, in this order
    assert [o["rule"] for o in runtime if o["rule"] in ours] == ours
    assert {o["outcome"] for o in runtime} <= {"passed", "failed", "unknown", "not_applicable"}


def test_check_probe_of_a_broken_server_is_an_input_error(server: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "check",
            "tests/fixtures/manifests/probe",
            "--probe",
            server + "/err",
            "--probe-window",
            "0.1s",
        ],
    )
    assert result.exit_code == 3
    assert f"{server}/err/metrics: error: HTTP 503 from /metrics [probe-status]" in result.stderr


def test_check_probe_reports_drift_from_the_linked_manifest(server: str) -> None:
    manifest = "tests/runtime/fixtures/drift/probe.yaml"
    result = CliRunner().invoke(
        main,
        [
            "check",
            manifest,
            "--probe",
            server + "/ok",
            "--probe-window",
            "0.2s",
            "--format",
            "json",
            "--exit-zero",
        ],
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    drift = [f for f in data["findings"] if f["rule"] == DRIFT_RULE]
    assert [(f["item"], f["subject"], f["message"], f["evidence"]) for f in drift] == [
        (
            "SRV-017",
            "Deployment/default/tiny-llama/vllm",
            f"max_model_len: the server runs 512 ({server}/ok/v1/models max_model_len), the "
            f"manifests declare 1024 (--max-model-len at {manifest}:20) "
            f"[server {server}/ok; playbook training-serving-skew]",
            {
                "path": manifest,
                "line": 20,
                "col": 15,
                "pointer": "/spec/template/spec/containers/0/args/2",
            },
        )
    ]
    outcomes = [o for o in data["outcomes"] if o["rule"] == DRIFT_RULE]
    assert [(o["outcome"], o["reason"]) for o in outcomes] == [
        ("failed", "differs from the manifests: max_model_len")
    ]


def test_check_probe_drift_is_unknown_for_a_setting_the_server_hides(server: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "check",
            "tests/fixtures/manifests/probe",
            "--probe",
            server + "/ok",
            "--probe-window",
            "0.2s",
            "--format",
            "json",
            "--exit-zero",
        ],
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    outcomes = [o for o in data["outcomes"] if o["rule"] == DRIFT_RULE]
    assert [(o["outcome"], o["reason"]) for o in outcomes] == [
        (
            "unknown",
            "max_num_seqs: the manifests declare 4 (--max-num-seqs at "
            "tests/fixtures/manifests/probe/tiny-llama.yaml:17), the server does not report it: "
            f"{server}/ok/server_info was not served (vLLM serves it only with "
            "VLLM_SERVER_DEV_MODE=1); equal: served_model_name",
        )
    ]
