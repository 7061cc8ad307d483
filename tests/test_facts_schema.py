"""The facts document validates against the bundled JSON Schema, and the schema has teeth."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from piqc_advisor.collectors.scan import scan
from piqc_advisor.facts.workload import SERVING_KEYS

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "tests" / "fixtures" / "manifests"
EXAMPLES = ROOT / "examples"
KB = ROOT.parent / "shared" / "reference" / "kb"


def _schema() -> dict[str, Any]:
    text = resources.files("piqc_advisor").joinpath("schemas", "facts.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


SCHEMA = _schema()
VALIDATOR = Draft202012Validator(SCHEMA)


def _dirs_with_manifests(top: Path) -> list[Path]:
    """Every directory under `top` (itself included) that holds at least one file."""
    found = [top, *sorted(p for p in top.rglob("*") if p.is_dir())]
    return [d for d in found if any(child.is_file() for child in d.iterdir())]


def _inputs() -> list[Path]:
    paths = [*_dirs_with_manifests(MANIFESTS), *_dirs_with_manifests(EXAMPLES)]
    paths += sorted(KB.glob("vllm-on-*/deployment.yaml")) if KB.is_dir() else []
    return paths


def _facts(*paths: Path) -> dict[str, Any]:
    return scan([str(p) for p in paths]).to_json()


def _errors(document: dict[str, Any]) -> list[str]:
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in VALIDATOR.iter_errors(document)
    ]


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    document = _facts(EXAMPLES)
    assert document["workloads"], "the bundled example should yield a workload"
    return document


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] == "https://piqc.ai/schemas/piqc-advisor/facts-v1.schema.json"


def test_schema_serving_keys_match_the_code() -> None:
    serving = SCHEMA["$defs"]["workload"]["properties"]["serving"]
    assert tuple(serving["properties"]) == SERVING_KEYS
    assert serving["required"] == list(SERVING_KEYS)
    assert tuple(serving["properties"]) == tuple(
        SCHEMA["$defs"]["workload"]["properties"]["effective"]["properties"]
    )


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_scan_output_matches_schema(path: Path) -> None:
    document = _facts(path)
    assert _errors(document) == []


def test_all_inputs_together_match_schema() -> None:
    document = _facts(*_inputs())
    assert document["workloads"]
    assert _errors(document) == []


def _broken(example: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    document = copy.deepcopy(example)
    return document, document["workloads"][0]


def test_workload_without_engine_is_rejected(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    del workload["engine"]
    assert any("'engine' is a required property" in e for e in _errors(document))


def test_unknown_top_level_key_is_rejected(example: dict[str, Any]) -> None:
    document = copy.deepcopy(example)
    document["surprise"] = True
    assert any("surprise" in e for e in _errors(document))


@pytest.mark.parametrize(
    "where",
    ["workload", "engine", "source", "serving", "probe", "hf_token", "problem"],
)
def test_unknown_nested_key_is_rejected(example: dict[str, Any], where: str) -> None:
    document, workload = _broken(example)
    targets: dict[str, dict[str, Any]] = {
        "workload": workload,
        "engine": workload["engine"],
        "source": workload["source"],
        "serving": workload["serving"],
        "probe": workload["probes"]["readiness"],
        "hf_token": workload["hf_token"],
    }
    if where == "problem":
        document["problems"].append(
            {
                "path": "x.yaml",
                "line": 1,
                "col": None,
                "severity": "error",
                "code": "yaml-syntax",
                "message": "broken",
                "extra": 1,
            }
        )
    else:
        targets[where]["extra"] = 1
    assert _errors(document)


def test_serving_raw_value_instead_of_declared_object_is_rejected(
    example: dict[str, Any],
) -> None:
    document, workload = _broken(example)
    workload["serving"]["max_model_len"] = 8192
    assert any("/serving/max_model_len" in e for e in _errors(document))


def test_serving_missing_key_is_rejected(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    del workload["serving"]["revision"]
    assert any("'revision' is a required property" in e for e in _errors(document))


def test_serving_value_of_wrong_type_is_rejected(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    workload["serving"]["max_model_len"]["value"] = "8192"
    workload["effective"]["max_model_len"] = "8192"
    errors = _errors(document)
    assert any("/serving/max_model_len" in e for e in errors)
    assert any("/effective/max_model_len" in e for e in errors)


def test_unresolved_reference_is_a_valid_serving_value(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    workload["serving"]["max_model_len"]["value"] = "$(MAX_LEN)"
    workload["effective"]["max_model_len"] = "<from configMapKeyRef:cm/len>"
    assert _errors(document) == []


def test_api_key_value_is_rejected(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    workload["serving"]["api_key"]["value"] = "sk-live-1234"
    assert any("/serving/api_key" in e for e in _errors(document))


def test_hf_token_carries_no_value(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    workload["hf_token"] = {"source": "none"}
    assert _errors(document) == []
    workload["hf_token"] = {"source": "none", "value": "hf_abc"}
    assert _errors(document)
    workload["hf_token"] = {**example["workloads"][0]["hf_token"], "source": "plaintext"}
    assert _errors(document)


def test_problem_severity_is_checked(example: dict[str, Any]) -> None:
    document = copy.deepcopy(example)
    document["problems"].append(
        {
            "path": "x.yaml",
            "line": None,
            "col": None,
            "severity": "fatal",
            "code": "yaml-syntax",
            "message": "broken",
        }
    )
    assert any("/problems/0/severity" in e for e in _errors(document))


def test_effective_is_complete_when_an_engine_was_found(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    del workload["effective"]["port"]
    assert any("'port' is a required property" in e for e in _errors(document))


def test_problems_from_unreadable_inputs_match_schema(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("a: [1, 2\n")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\x01")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "dup.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nkind: ConfigMap\n")
    (tmp_path / "odd.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\n"
        "spec:\n  template:\n    spec:\n      containers:\n"
        "      - name: v\n        image: vllm/vllm-openai:v0.10.1\n"
    )
    document = _facts(tmp_path, tmp_path / "missing.yaml")
    codes = {p["code"] for p in document["problems"]}
    assert {"yaml-syntax", "binary-file", "not-an-object", "duplicate-key"} <= codes
    assert {"not-understood", "unreadable"} <= codes
    assert _errors(document) == []


def test_sizing_block_is_checked(example: dict[str, Any]) -> None:
    document, workload = _broken(example)
    assert workload["sizing"]["status"] == "estimated"
    workload["sizing"]["extra"] = 1
    assert any(e.startswith("/workloads/0/sizing") for e in _errors(document))
    workload["sizing"] = {"status": "unknown", "reason": "GPU type unknown"}
    assert _errors(document) == []
    workload["sizing"] = {"status": "guessed", "reason": "GPU type unknown"}
    assert _errors(document)
    del workload["sizing"]
    assert _errors(document) == []  # optional in schema version 1
