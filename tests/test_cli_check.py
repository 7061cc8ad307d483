import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from piqc_advisor.cli import main
from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.pipeline import CheckOptions, check

ROOT = Path(__file__).resolve().parents[1]
WAIVED = "tests/fixtures/manifests/waivers/waived.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_exit_codes_follow_fail_on() -> None:
    assert run("check", "examples/vllm-llama-3.1-8b")[0] == 1
    assert run("check", "examples/vllm-llama-3.1-8b", "--fail-on", "critical")[0] == 0
    assert run("check", "examples/vllm-llama-3.1-8b", "--exit-zero")[0] == 0
    assert run("check", "tests/fixtures/manifests/misc/broken-multidoc.yaml")[0] == 3
    assert run("check", "examples", "--fail-on", "severe")[0] == 2


def test_select_and_ignore_by_item_area_and_rule() -> None:
    _, out, _ = run("check", "examples/vllm-llama-3.1-8b", "--select", "SEC", "--format", "json")
    assert {f["item"] for f in json.loads(out)["findings"]} == {"SEC-212"}
    _, out, _ = run(
        "check",
        "examples/vllm-llama-3.1-8b",
        "--ignore",
        "SEC-212",
        "--ignore",
        "dtype-not-set",
        "--format",
        "json",
    )
    items = {f["item"] for f in json.loads(out)["findings"]}
    assert "SEC-212" not in items and "SRV-001" not in items
    code, _, err = run("check", "examples", "--select", "SRV-0O1")
    assert code == 2 and "names no rule, item or area" in err


def test_waivers_from_comments_and_annotations_stay_visible() -> None:
    report = check(builtin_catalog(), CheckOptions(paths=(WAIVED,), today=date(2026, 11, 28)))
    waived = {(f.item, f.waived_by) for f in report.findings if f.waived}
    assert waived == {
        ("SRV-001", "inline: the checkpoint pins bfloat16 in its config"),
        ("OBS-010", "annotation: tracing arrives with the platform collector"),
    }
    notes = sorted((n.kind, n.origin.line if n.origin else None) for n in report.waiver_notes)
    assert notes == [("expired", 2), ("invalid", 23), ("invalid", 24)]
    assert report.items["SRV-001"].status == "waived"


def test_annotation_waivers_can_be_forbidden(tmp_path: Path) -> None:
    config = tmp_path / "piqc.yaml"
    config.write_text("allow_annotation_waivers: false\n")
    code, out, err = run(
        "check", WAIVED, "--config", str(config), "--format", "json", "--exit-zero"
    )
    assert code == 0
    waived = {f["item"] for f in json.loads(out)["findings"] if f["waived"]}
    assert waived == {"SRV-001"}
    assert "waiver forbidden: annotation waiver of OBS-010" in err


def test_config_waivers_severity_and_params(tmp_path: Path) -> None:
    config = tmp_path / ".piqc-advisor.yaml"
    config.write_text(
        "fail_on: critical\n"
        "severity: {SRV-001: critical}\n"
        "rules:\n  probe-timeout-too-short: {minimum_seconds: 1}\n"
        "waivers:\n"
        "  - item: SEC-212\n    reason: hardened by the namespace's Pod Security admission\n"
        "    path: examples/*\n"
    )
    code, out, _ = run(
        "check", "examples/vllm-llama-3.1-8b", "--config", str(config), "--format", "json"
    )
    data = json.loads(out)
    assert code == 1  # SRV-001 raised to critical
    by_rule = {f["rule"]: f for f in data["findings"]}
    assert by_rule["dtype-not-set"]["severity"] == "critical"
    assert "probe-timeout-too-short" not in by_rule
    assert all(f["waived"] for f in data["findings"] if f["item"] == "SEC-212")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "fail_onn: high\n",
            "(top): Additional properties are not allowed ('fail_onn' was unexpected) (did you mean 'fail_on'?)",
        ),
        ("severity: {SRV-999: high}\n", "unknown item 'SRV-999'"),
        (
            "rules: {probe-timeout-too-shrt: {}}\n",
            "unknown rule 'probe-timeout-too-shrt' (did you mean 'probe-timeout-too-short'?)",
        ),
        (
            "rules: {probe-timeout-too-short: {minimum: 2}}\n",
            "unknown parameter 'minimum' (did you mean 'minimum_seconds'?)",
        ),
        ("waivers: [{item: SRV-001}]\n", "waivers/0: 'reason' is a required property"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / ".piqc-advisor.yaml"
    config.write_text(content)
    code, out, err = run("check", "examples", "--config", str(config))
    assert code == 2 and out == ""
    assert message in err


def test_pyproject_tool_table_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.piqc-advisor]\nignore = ["SEC", "REL"]\nfail_on = "critical"\n'
    )
    target = ROOT / "examples" / "vllm-llama-3.1-8b"
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("check", str(target), "--format", "json")
    assert code == 0
    assert not {f["item"] for f in json.loads(out)["findings"]} & {"SEC-212", "REL-006", "REL-007"}


def test_output_writes_several_formats(tmp_path: Path) -> None:
    sarif = tmp_path / "report.sarif"
    as_json = tmp_path / "report.json"
    code, out, _ = run(
        "check",
        "examples/vllm-llama-3.1-8b",
        "--output",
        f"sarif={sarif}",
        "--output",
        f"json={as_json}",
        "--exit-zero",
    )
    assert code == 0 and out.startswith("GPU-005 [high]")
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert json.loads(as_json.read_text())["schema_version"] == 1
    code, _, err = run("check", "examples", "--output", "pdf=x.pdf")
    assert code == 2 and "--output expects FORMAT=PATH" in err


def test_sarif_is_the_only_thing_on_stdout() -> None:
    code, out, _ = run("check", "examples/vllm-llama-3.1-8b", "--format", "sarif", "--exit-zero")
    assert code == 0
    assert json.loads(out)["runs"][0]["results"]


def test_checklist_view_is_selectable() -> None:
    code, out, _ = run(
        "check",
        "examples/vllm-llama-3.1-8b",
        "--checklist",
        "llm-inference-readiness",
        "--format",
        "json",
        "--exit-zero",
    )
    (view,) = json.loads(out)["checklists"]
    assert view["checklist"] == "llm-inference-readiness"
    assert (
        sum(
            view["counts"][k]
            for k in ("violated", "waived", "unknown", "satisfied", "not_applicable", "manual")
        )
        == 68
    )
    code, _, err = run("check", "examples", "--checklist", "llm-inference-readines")
    assert code == 2 and "did you mean 'llm-inference-readiness'" in err


def test_attestations_mark_manual_items_and_expire(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "answers_version: 1\nchecklist: genai-deployment\nanswers:\n"
        "  - {item: OWN-001, status: attested, by: sre-lead, date: 2026-11-01, evidence: https://wiki/owners}\n"
        "  - {item: PRF-001, status: attested, by: sre-lead, date: 2025-01-01, expires: 2025-06-30}\n"
        "  - {item: CST-002, status: open}\n"
    )
    code, out, err = run(
        "check",
        "examples/vllm-llama-3.1-8b",
        "--answers",
        str(answers),
        "--format",
        "json",
        "--exit-zero",
    )
    assert code == 0
    items = {i["item"]: i for i in json.loads(out)["items"]}
    assert items["OWN-001"]["attested"] is True
    assert (
        items["OWN-001"]["reason"]
        == "attested by sre-lead on 2026-11-01, evidence https://wiki/owners"
    )
    assert items["PRF-001"]["attested"] is False
    assert "the attestation of PRF-001 expired on 2025-06-30; it is open again" in err


def test_bad_answers_file_is_a_usage_error(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("answers:\n  - {item: OWN-999, status: attested, by: x, date: 2026-01-01}\n")
    code, _, err = run("check", "examples", "--answers", str(answers))
    assert code == 2 and "answers/0: unknown item 'OWN-999'" in err


def test_baseline_reports_only_new_findings(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    run("check", "examples/vllm-llama-3.1-8b", "--output", f"json={baseline}", "--exit-zero")
    code, out, _ = run(
        "check", "examples/vllm-llama-3.1-8b", "--baseline", str(baseline), "--format", "json"
    )
    findings = json.loads(out)["findings"]
    assert (
        code == 0
        and findings
        and all(f["waiver"] == "baseline: present in the baseline report" for f in findings)
    )
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    for name in ("service.yaml", "autoscaling.yaml"):
        (deploy / name).write_text((ROOT / "examples/vllm-llama-3.1-8b" / name).read_text())
    edited = deploy / "deployment.yaml"
    text = (ROOT / "examples/vllm-llama-3.1-8b/deployment.yaml").read_text()
    edited.write_text(
        "# shifted\n# lines\n"
        + text.replace('--gpu-memory-utilization\n            - "0.92"', "--enforce-eager")
    )
    code, out, _ = run(
        "check", str(deploy), "--baseline", str(baseline), "--format", "json", "--exit-zero"
    )
    new = {f["rule"] for f in json.loads(out)["findings"] if not f["waived"]}
    assert new == {"eager-mode-enabled"}


def test_check_reports_modelspec_drift_with_evidence_in_the_manifest() -> None:
    code, out, err = run(
        "check", "tests/fixtures/modelspec/drift", "--select", "SRV-017", "--format", "json"
    )
    data = json.loads(out)
    drift = [(f["rule"], f["evidence"]["line"]) for f in data["findings"]]
    assert drift == [
        ("modelspec-drift", 9),
        ("modelspec-drift", 9),
        ("modelspec-drift", 22),
        ("modelspec-drift", 32),
        ("modelspec-drift", 39),
        ("modelspec-drift", 43),
    ]
    assert code == 0  # SRV-017 is medium; the default --fail-on is high
    assert "not-understood" not in err  # ModelSpec files are understood by check
    statuses = {i["item"]: i["status"] for i in data["items"]}
    assert statuses["SRV-017"] == "violated"
    code, out, _ = run(
        "check",
        "tests/fixtures/modelspec/drift",
        "--ignore",
        "modelspec-drift",
        "--format",
        "json",
        "--exit-zero",
    )
    assert not [f for f in json.loads(out)["findings"] if f["rule"] == "modelspec-drift"]


# ------------------------------------------------------------ check --prometheus --selector

LLAMA = """\
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
          image: vllm/vllm-openai:v0.10.1
          args: [--model, meta-llama/Llama-3.1-8B-Instruct, --served-model-name, llama-3-8b,
                 --max-num-seqs, "8"]
"""


@pytest.fixture
def fake_prometheus() -> Iterator[str]:
    import threading
    from http.server import ThreadingHTTPServer

    from tests.runtime.test_prometheus_source import FakePrometheus

    FakePrometheus.answers, FakePrometheus.seen = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_check_prometheus_links_the_deployment_and_reports_its_replicas(
    fake_prometheus: str, tmp_path: Path
) -> None:
    from tests.runtime.test_prometheus_source import SEL, SELECTOR, two_replicas

    two_replicas()
    (tmp_path / "llama.yaml").write_text(LLAMA)
    code, out, err = run(
        "check",
        str(tmp_path),
        "--prometheus",
        fake_prometheus,
        "--selector",
        SEL,
        "--format",
        "json",
        "--exit-zero",
    )
    assert code == 0, err
    data = json.loads(out)
    runtime = {o["rule"]: o for o in data["outcomes"] if o["rule"].startswith("runtime-")}
    subject = "Deployment/llm/llama/vllm"
    assert {o["subject"] for o in runtime.values()} == {subject}
    assert runtime["runtime-replica-imbalance"]["outcome"] == "failed"
    assert runtime["runtime-kv-cache-pressure"] == {
        "rule": "runtime-kv-cache-pressure",
        "item": "GPU-005",
        "subject": subject,
        "outcome": "failed",
        "reason": "instance 10.0.1.1:8000: KV-cache pressure: KV-cache usage reached 97%, "
        "3 preemptions, up to 4 requests waiting (over a 300s window)",
    }
    # max-num-seqs 8 comes from the linked manifest, so batching collapse can be judged.
    assert runtime["runtime-batching-collapse"]["outcome"] == "passed"
    found = {f["rule"]: f for f in data["findings"] if f["rule"].startswith("runtime-")}
    assert found["runtime-replica-imbalance"]["item"] == "NET-501"
    assert found["runtime-replica-imbalance"]["message"].endswith(
        f"[Prometheus {fake_prometheus} {SELECTOR}; playbook gpu-utilization]"
    )
    assert found["runtime-replica-imbalance"]["evidence"]["path"] == (
        f"{fake_prometheus}/api/v1/query"
    )


def test_check_prometheus_that_cannot_be_read_is_an_input_error(fake_prometheus: str) -> None:
    code, _, err = run(
        "check",
        "tests/fixtures/manifests/probe",
        "--prometheus",
        fake_prometheus,
        "--selector",
        'deployment="tiny-llama"',
    )
    assert code == 3
    assert (
        f'{fake_prometheus}/api/v1/query: no vLLM series match {{deployment="tiny-llama"}}' in err
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prometheus", "http://127.0.0.1:9"], "--prometheus needs --selector"),
        (["--selector", 'deployment="x"'], "--selector needs --prometheus URL"),
        (["--prometheus", "http://127.0.0.1:9", "--selector", "x"], "expected a matcher"),
        (
            ["--prometheus", "http://127.0.0.1:9", "--selector", "a='b'", "--prometheus-window=0"],
            "window 0.0s is not positive",
        ),
    ],
)
def test_check_prometheus_usage_errors(args: list[str], message: str) -> None:
    code, _, err = run("check", "tests/fixtures/manifests/probe", *args)
    assert code == 2
    assert message in err


def test_check_sends_the_token_to_prometheus_and_never_prints_it(
    fake_prometheus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.runtime.test_prometheus_source import SEL, FakePrometheus, two_replicas

    two_replicas()
    monkeypatch.setenv("PROM_TOKEN", "t0ken-value")
    (tmp_path / "llama.yaml").write_text(LLAMA)
    args = ["check", str(tmp_path), "--prometheus", fake_prometheus, "--selector", SEL]
    code, out, err = run(*args, "--token-env", "PROM_TOKEN", "--format", "json", "--exit-zero")
    assert code == 0, err
    assert {auth for _, _, auth in FakePrometheus.seen} == {"Bearer t0ken-value"}
    assert "t0ken-value" not in out + err
    code, _, err = run(*args, "--token-env", "UNSET_TOKEN_VAR")
    assert code == 2
    assert "UNSET_TOKEN_VAR is empty or unset" in err
    code, _, err = run(*args, "--insecure", "--ca-file", str(tmp_path / "llama.yaml"))
    assert (code, "give --insecure or --ca-file, not both" in err) == (2, True)
