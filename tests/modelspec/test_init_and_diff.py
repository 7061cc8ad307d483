"""`spec init` from manifests, `spec diff` against them, and drift findings for `check`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from piqc_advisor.cli import main
from piqc_advisor.collectors.scan import scan
from piqc_advisor.knowledge import load_catalog
from piqc_advisor.modelspec.collect import read_specs
from piqc_advisor.modelspec.drift import drift_findings, link_reason
from piqc_advisor.modelspec.integration import is_modelspec_problem, modelspec_drift
from piqc_advisor.modelspec.schema import load_schema
from tests.golden_files import assert_golden
from tests.modelspec.conftest import FIXTURES

EXAMPLE = "examples/vllm-llama-3.1-8b"
DRIFT = FIXTURES / "drift"
SPEC = str(DRIFT / "chat.modelspec.yaml")
DEPLOYMENT = str(DRIFT / "deployment.yaml")


def _valid(text: str) -> list[dict[str, object]]:
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    validator = Draft202012Validator(load_schema())
    for document in documents:
        assert list(validator.iter_errors(document)) == []
    return documents


def test_init_writes_a_valid_spec_with_placeholders() -> None:
    result = CliRunner().invoke(main, ["spec", "init", "--from", EXAMPLE])
    assert result.exit_code == 0
    assert_golden("modelspec/init-example.yaml", result.stdout)
    (document,) = _valid(result.stdout)
    assert document["spec"]["runtime"] == {  # type: ignore[index]
        "accelerator": {"vendor": "nvidia", "type": "l4", "count": 1},
        "batch": {"maxBatchSize": 64, "maxSequenceLengthTokens": 8192},
        "resources": {"cpuCores": 4, "memoryGb": 25.8},
    }
    assert "  # governance:\n" in result.stdout


def test_init_output_file_and_validate_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "spec.yaml"
    result = CliRunner().invoke(main, ["spec", "init", "--from", DEPLOYMENT, "-o", str(out)])
    assert result.exit_code == 0
    assert result.stdout == ""
    _valid(out.read_text())
    check = CliRunner().invoke(main, ["spec", "validate", str(out), "--format", "json"])
    findings = json.loads(check.stdout)["findings"]
    assert [f for f in findings if f["rule"] == "modelspec-schema"] == []


def test_init_interactive_fills_the_placeholders() -> None:
    answers = (
        "\n".join(
            [
                "prod",
                "",
                "chat-completion",
                "",
                "ml-platform",
                "cab",
                "800",
                "50",
                "no",
                "pii-v1",
                "30",
                "ninety",
                "0.002",
            ]
        )
        + "\n"
    )
    result = CliRunner().invoke(
        main, ["spec", "init", "--from", EXAMPLE, "--interactive"], input=answers
    )
    assert result.exit_code == 0
    text = result.stdout.split("# yaml-language-server", 1)[1]
    (document,) = _valid("# yaml-language-server" + text)
    spec = document["spec"]
    assert document["metadata"]["labels"] == {"environment": "prod"}  # type: ignore[index]
    assert spec["identity"]["model"]["task"] == "chat-completion"  # type: ignore[index]
    assert spec["operations"]["scaling"]["targetLatencyMsP95"] == 800  # type: ignore[index]
    assert spec["governance"] == {  # type: ignore[index]
        "compliance": {
            "pii": {"allowed": False, "policy": "pii-v1"},
            "retention": {"logsDays": 30},
            "governance": {"owner": "ml-platform", "changeApproval": "cab"},
        },
        "cost": {"targetCostPer1kTokensUsd": 0.002},
    }
    assert "ignored: 'ninety' is not a int" in result.stderr


def test_init_without_workloads_exits_3(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    result = CliRunner().invoke(main, ["spec", "init", "--from", str(tmp_path)])
    assert result.exit_code == 3
    assert result.stderr == "piqc-advisor: error: no serving workload found in the inputs\n"


def test_diff_field_by_field_with_evidence() -> None:
    result = CliRunner().invoke(main, ["spec", "diff", SPEC, DEPLOYMENT, "--format", "json"])
    assert result.exit_code == 1
    (comparison,) = json.loads(result.stdout)["comparisons"]
    assert comparison["workload"] == "Deployment/inference/llama-chat/vllm"
    assert comparison["linked_by"] == "annotation piqc.ai/modelspec: chat.modelspec.yaml"
    drift = [
        (f["field"], f["expected"], f["actual"], f["spec"]["line"], f["manifest"]["line"])
        for f in comparison["fields"]
        if f["status"] == "drift"
    ]
    assert drift == [
        ("spec.runtime.accelerator.count", 2, 1, 19, 43),
        ("spec.runtime.batch.maxBatchSize", 32, 64, 21, 32),
        ("spec.operations.serving.readinessProbe.path", "/health", "/v1/models", 31, 39),
        ("spec.operations.scaling.minReplicas", 1, 2, 33, 9),
        ("spec.operations.scaling.maxReplicas", 3, 2, 34, 9),
        ("spec.operations.observability.tracing.enabled", True, False, 39, 22),
    ]
    assert len(comparison["fields"]) == 16


def test_diff_table_golden() -> None:
    result = CliRunner().invoke(main, ["spec", "diff", SPEC, DEPLOYMENT])
    assert result.exit_code == 1
    assert_golden("modelspec/diff-drift.txt", result.stdout)


def test_diff_without_drift_exits_0(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    init = CliRunner().invoke(main, ["spec", "init", "--from", DEPLOYMENT, "-o", str(spec)])
    assert init.exit_code == 0
    result = CliRunner().invoke(main, ["spec", "diff", str(spec), DEPLOYMENT])
    assert result.exit_code == 0, result.stdout
    assert "0 drift" in result.stdout


def test_links_by_annotation_name_and_label() -> None:
    (spec,) = read_specs([SPEC]).specs
    workloads = {w.name: w for w in scan([DEPLOYMENT, EXAMPLE]).workloads}
    chat, llama = workloads["llama-chat"], workloads["llama-31-8b"]
    assert link_reason(spec, chat) == "annotation piqc.ai/modelspec: chat.modelspec.yaml"
    assert link_reason(spec, llama) is None
    assert spec.name is not None
    by_name = replace(spec, name=replace(spec.name, value="llama-31-8b"))
    assert link_reason(by_name, llama) == "name"
    label = replace(spec.name, value="llama-31-8b", via="metadata.labels.app.kubernetes.io/name")
    by_label = replace(spec, labels={"app.kubernetes.io/name": label})
    assert link_reason(by_label, llama) == "label app.kubernetes.io/name=llama-31-8b"


def test_drift_findings_for_check() -> None:
    catalog = load_catalog(())
    specs = read_specs([SPEC]).specs
    workloads = scan([str(DRIFT)]).workloads
    findings = drift_findings(specs, workloads, catalog)
    assert [(f.item, f.rule, f.key, f.evidence.line) for f in findings] == [
        ("SRV-017", "modelspec-drift", "spec.runtime.accelerator.count", 43),
        ("SRV-017", "modelspec-drift", "spec.runtime.batch.maxBatchSize", 32),
        ("SRV-017", "modelspec-drift", "spec.operations.serving.readinessProbe.path", 39),
        ("SRV-017", "modelspec-drift", "spec.operations.scaling.minReplicas", 9),
        ("SRV-017", "modelspec-drift", "spec.operations.scaling.maxReplicas", 9),
        ("SRV-017", "modelspec-drift", "spec.operations.observability.tracing.enabled", 22),
    ]
    assert findings[1].message == (
        "spec.runtime.batch.maxBatchSize: the spec declares 32 "
        "(tests/fixtures/modelspec/drift/chat.modelspec.yaml:21), the manifests say 64 "
        "(--max-num-seqs) at tests/fixtures/modelspec/drift/deployment.yaml:32"
    )
    result = modelspec_drift([str(DRIFT)], workloads, catalog)
    assert result.findings == findings
    assert [(o.rule, o.item, o.subject, o.outcome) for o in result.outcomes] == [
        ("modelspec-drift", "SRV-017", "Deployment/inference/llama-chat/vllm", "failed")
    ]
    store = scan([str(DRIFT)])
    assert [p.code for p in store.problems if is_modelspec_problem(p)] == ["not-understood"]
