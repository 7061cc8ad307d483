"""`spec validate`: schema errors with positions, semantic checks, formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from jsonschema import validators

from piqc_advisor.cli import main
from tests.golden_files import assert_golden
from tests.modelspec.conftest import FIXTURES

GOOD = str(FIXTURES / "good.modelspec.yaml")
BAD = str(FIXTURES / "bad-semantics.modelspec.yaml")
SCHEMA_ERRORS = str(FIXTURES / "schema-errors.modelspec.yaml")


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["spec", "validate", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _findings(*args: str) -> list[tuple[str, str, int, int]]:
    _code, out, _ = _run(*args, "--format", "json")
    data = json.loads(out)
    return [
        (f["rule"], f["item"], f["evidence"]["line"], f["evidence"]["col"])
        for f in data["findings"]
    ]


def test_clean_spec_passes_with_unknown_memory_fit() -> None:
    code, out, err = _run(GOOD)
    assert code == 0
    assert err == ""
    assert_golden("modelspec/validate-good.txt", out)


def test_schema_errors_have_json_path_position_and_suggestions() -> None:
    code, out, _ = _run(SCHEMA_ERRORS, "--format", "json")
    assert code == 1
    errors = [
        (f["evidence"]["line"], f["evidence"]["col"], f["message"])
        for f in json.loads(out)["findings"]
        if f["rule"] == "modelspec-schema"
    ]
    assert errors == [
        (1, 13, "$.apiVersion: must be 'piqc.ai/v1alpha1', got string 'piqc.ai/v1alpha2'"),
        (
            5,
            3,
            "$.metadata.lables: unknown key 'lables'; allowed here: name, version, description, labels, annotations (did you mean 'labels'?)",
        ),
        (10, 7, "$.spec.identity.model.framework: required key 'framework' is missing"),
        (10, 11, "$.spec.identity.model.id: expected string, got number 7"),
        (14, 5, "$.spec.runtime.accelerator: required key 'accelerator' is missing"),
        (
            14,
            5,
            "$.spec.runtime.acelerator: unknown key 'acelerator'; allowed here: accelerator, batch, resources, environment (did you mean 'accelerator'?)",
        ),
        (17, 21, "$.spec.runtime.batch.maxBatchSize: expected integer, got string '32'"),
        (
            20,
            17,
            "$.spec.operations.serving.protocol: string 'htttp' is not one of: http, grpc (did you mean 'http'?)",
        ),
        (21, 13, "$.spec.operations.serving.port: must be at most 65535, got number 70000"),
        (
            23,
            17,
            "$.spec.operations.scaling.strategy: string 'sometimes' is not one of: reactive, predictive, manual",
        ),
        (
            27,
            15,
            "$.spec.pipeline.dependencies[0].role: string 'helper' is not one of: input, guardrail, reranker, postprocess, custom",
        ),
        (28, 19, "$.spec.pipeline.dependencies[0].required: expected boolean, got string 'yes'"),
    ]


def test_semantic_checks_each_name_their_item() -> None:
    assert _findings(BAD) == [
        ("vllm-max-sequence-length", "MID-005", 13, 18),
        ("precision-supported", "MID-012", 14, 18),
        ("accelerator-known", "GPU-004", 18, 13),
        ("serving-protocol", "SRV-004", 24, 17),
        ("serving-port", "NET-001", 25, 13),
        ("serving-readiness-probe", "K8S-005", 27, 9),
        ("serving-readiness-probe", "K8S-005", 27, 25),
        ("serving-liveness-probe", "K8S-006", 29, 15),
        ("serving-concurrency-batch", "SRV-005", 30, 23),
        ("serving-timeout-latency", "RLB-003", 31, 23),
        ("production-throughput-target", "PRF-002", 33, 7),
        ("scaling-replica-bounds", "SCL-004", 33, 20),
        ("scaling-strategy-targets", "SCL-002", 35, 17),
        ("dependency-latency-budget", "PRF-007", 36, 27),
        ("scaling-warm-pool", "SCL-006", 38, 15),
        ("pipeline-step-names", "QAL-003", 44, 17),
        ("dependency-required-present", "OWN-003", 48, 9),
        ("dependency-spec-ref", "OWN-007", 56, 18),
        ("dependency-types", "OWN-006", 58, 22),
        ("dependency-types", "OWN-006", 61, 9),
        ("dependency-spec-ref", "OWN-007", 64, 18),
        ("cost-target", "CST-002", 66, 5),
        ("production-owner", "GOV-005", 66, 5),
        ("production-change-approval", "GOV-006", 66, 5),
        ("retention-set", "GOV-004", 67, 7),
        ("pii-policy", "GOV-003", 68, 18),
    ]


def test_table_json_and_sarif_goldens() -> None:
    # Item titles, rationale and remediation come from the knowledge base and change with it,
    # so the JSON and SARIF goldens keep only the ids of the items.
    code, out, _ = _run(BAD)
    assert code == 1
    assert_golden("modelspec/validate-bad.txt", out)
    _, out, _ = _run(BAD, "--format", "json")
    data = json.loads(out)
    for finding in data["findings"]:
        del finding["title"], finding["remediation"]
    assert_golden("modelspec/validate-bad.json", json.dumps(data, indent=2) + "\n")
    _, out, _ = _run(BAD, "--format", "sarif")
    sarif = json.loads(out)
    driver = sarif["runs"][0]["tool"]["driver"]
    driver["rules"] = [rule["id"] for rule in driver["rules"]]
    assert_golden("modelspec/validate-bad.sarif", json.dumps(sarif, indent=2) + "\n")


def test_sarif_validates_against_the_sarif_schema(reference_dir: Path) -> None:
    schema = json.loads((reference_dir / "sarif" / "sarif-schema-2.1.0.json").read_text())
    validator = validators.validator_for(schema)(schema)
    for args in ([BAD], [SCHEMA_ERRORS], [GOOD], ["tests/fixtures/modelspec/missing.yaml"]):
        _, out, _ = _run(*args, "--format", "sarif")
        document = json.loads(out)
        assert list(validator.iter_errors(document)) == [], args
    _, out, _ = _run("tests/fixtures/modelspec/missing.yaml", "--format", "sarif")
    run = json.loads(out)["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["descriptor"] == {
        "id": "unreadable"
    }


def test_fail_on_and_exit_codes() -> None:
    assert _run(BAD, "--fail-on", "critical")[0] == 0
    assert _run(GOOD, "--fail-on", "info")[0] == 0
    assert _run(SCHEMA_ERRORS)[0] == 1
    assert _run(BAD, "--format", "xml")[0] == 2
    assert CliRunner().invoke(main, ["spec", "validate"]).exit_code == 2
    code, _out, err = _run("tests/fixtures/modelspec/missing.yaml")
    assert code == 3
    assert err == (
        "tests/fixtures/modelspec/missing.yaml: error: cannot read "
        "tests/fixtures/modelspec/missing.yaml: no such file or directory [unreadable]\n"
    )


def test_stdin_and_non_modelspec_documents() -> None:
    text = Path(GOOD).read_text() + "---\napiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
    code, out, err = _run("-", stdin=text)
    assert code == 3
    assert err == (
        "<stdin>:71: error: document 2 is not a ModelSpec (expected apiVersion: "
        "piqc.ai/v1alpha1 and kind: ModelSpec) [not-a-modelspec]\n"
    )
    # specRefs of a spec read from standard input resolve against the working directory
    assert out.startswith(
        "<stdin>:52:18: medium OWN-007 [dependency-spec-ref] dependency guard: specRef "
        "'refs/guard.modelspec.yaml' does not resolve to a file\n"
    )
    assert out.endswith(
        "1 spec(s), 1 finding(s) (1 medium), 1 unknown, 1 input problem(s); 0 at or above high\n"
    )


def test_directories_skip_other_documents(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    (tmp_path / "spec.yaml").write_text(Path(GOOD).read_text().replace("refs/guard", "guard"))
    (tmp_path / "guard.modelspec.yaml").write_text(
        (FIXTURES / "refs" / "guard.modelspec.yaml").read_text()
    )
    code, out, _ = _run(str(tmp_path), "--format", "json")
    data = json.loads(out)
    assert data["subjects"] == ["ModelSpec/guard", "ModelSpec/chat-prod"]
    assert data["problems"] == []
    assert code == 0


def test_reference_validator_check_vllm_needs_sequence_length(tmp_path: Path) -> None:
    text = Path(GOOD).read_text().replace("      maxSequenceLengthTokens: 8192\n", "")
    spec = tmp_path / "x.yaml"
    spec.write_text(text.replace("refs/guard.modelspec.yaml", "g.yaml"))
    _, out, _ = _run(str(spec), "--format", "json")
    found = [f for f in json.loads(out)["findings"] if f["item"] == "MID-005"]
    assert [(f["rule"], f["evidence"]["line"]) for f in found] == [("vllm-max-sequence-length", 14)]


def test_reference_examples_validate_without_schema_errors(reference_dir: Path) -> None:
    folder = reference_dir / "modelspec" / "examples"
    code, out, _ = _run(str(folder), "--format", "json")
    data = json.loads(out)
    assert len(data["subjects"]) == 9
    assert [f for f in data["findings"] if f["rule"] == "modelspec-schema"] == []
    assert data["problems"] == []
    assert code == 0
