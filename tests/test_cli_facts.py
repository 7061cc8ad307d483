import json
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from piqc_advisor.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = "tests/fixtures/manifests"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_facts_table_on_the_bundled_example(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out, err = run("facts", "examples/vllm-llama-3.1-8b")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "WORKLOAD                               ENGINE       MODEL                             TP   GPUS/REPLICA  REPLICAS  SIZING            SOURCE",
        "Deployment/inference/llama-31-8b/vllm  vllm 0.10.1  meta-llama/Llama-3.1-8B-Instruct  (1)  1             2         fits 4.1 x 8,192  examples/vllm-llama-3.1-8b/deployment.yaml:3",
        "4 objects in 3 files gave 1 workloads; 0 problems. Values in parentheses are engine defaults.",
        "SIZING: max_model_len sequences the KV cache holds; details in --format json.",
    ]


def test_facts_exit_code_3_and_problems_on_stderr(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out, err = run("facts", f"{FIXTURES}/misc/broken-multidoc.yaml", "--format", "json")
    assert code == 3
    data = json.loads(out)
    assert [w["id"] for w in data["workloads"]] == ["Pod/default/wrong-types/c"]
    assert err.splitlines()[0] == (
        f"{FIXTURES}/misc/broken-multidoc.yaml:11:1: error: could not parse YAML: "
        "found character '\\t' that cannot start any token [yaml-syntax]"
    )


def test_warnings_alone_keep_exit_code_0(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, _, err = run("facts", f"{FIXTURES}/misc/unknown-crd.yaml")
    assert code == 0 and "[not-understood]" in err


def test_stdin_is_read_as_a_stream(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    text = (ROOT / FIXTURES / "helm" / "rendered.yaml").read_text()
    code, out, _ = run("facts", "-", "--format", "json", stdin=text)
    assert code == 0
    (workload,) = json.loads(out)["workloads"]
    assert workload["source"]["path"] == "<stdin>"
    assert workload["source"]["template"] == "vllm-stack/templates/deployment-vllm.yaml"


def test_secret_values_never_appear_in_any_output(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    secrets = ["sk-test-not-a-real-key-1234567890", "hf_abcdefghijklmnopqrstuvwxyz012345"]
    for fmt in ("table", "json", "yaml"):
        code, out, err = run("facts", f"{FIXTURES}/misc", f"{FIXTURES}/lws", "--format", fmt)
        assert code == 3  # misc holds a broken file on purpose
        for secret in secrets:
            assert secret not in out and secret not in err


def test_missing_path_is_an_input_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out, err = run("facts", "does/not/exist.yaml", "--format", "json")
    assert code == 3
    assert json.loads(out)["workloads"] == []
    assert "does/not/exist.yaml" in err and "[unreadable]" in err


def test_module_entry_point_runs_facts() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "piqc_advisor",
            "facts",
            "examples/vllm-llama-3.1-8b",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["schema_version"] == 1


def test_json_and_yaml_carry_the_sizing_block(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import yaml

    monkeypatch.chdir(ROOT)
    code, out, _ = run("facts", "examples/vllm-llama-3.1-8b", "--format", "json")
    assert code == 0
    sizing = json.loads(out)["workloads"][0]["sizing"]
    picked = (sizing["status"], sizing["gpu"], sizing["kv_cache_tokens"], sizing["fits"])
    assert picked == ("estimated", "L4", 33472, True)
    code, out, _ = run("facts", "examples/vllm-llama-3.1-8b", "--format", "yaml")
    assert code == 0 and yaml.safe_load(out)["workloads"][0]["sizing"] == sizing


def test_yaml_writes_shared_values_out_without_anchors(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out, _ = run("facts", "examples", "--format", "yaml")
    assert code == 0
    assert "&id" not in out and "*id" not in out
    code, as_json, _ = run("facts", "examples", "--format", "json")
    assert yaml.safe_load(out) == json.loads(as_json)


def test_integers_beyond_64_bits_are_written_not_a_crash(tmp_path: Path) -> None:
    manifest = tmp_path / "d.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n"
        "  replicas: 99999999999999999999999\n  template:\n    spec:\n      containers:\n"
        "        - name: vllm\n          image: vllm/vllm-openai:v0.32.0\n"
        '          args: ["--model", "m"]\n'
    )
    for fmt in ("json", "yaml"):
        code, out, err = run("facts", str(manifest), "--format", fmt)
        assert code == 0, err
        (workload,) = yaml.safe_load(out)["workloads"]
        assert workload["replicas"]["value"] == 99999999999999999999999
