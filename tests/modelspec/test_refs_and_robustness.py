"""specRef resolution (cycles, URLs, outside the repository) and hostile inputs: errors, no hangs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from piqc_advisor.cli import main
from piqc_advisor.modelspec.checks import repository_root, resolve_ref
from tests.modelspec.conftest import FIXTURES

REFS = FIXTURES / "refs"
HEADER = "apiVersion: piqc.ai/v1alpha1\nkind: ModelSpec\n"


def _json(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(main, ["spec", "validate", *args, "--format", "json"])
    return result.exit_code, json.loads(result.stdout), result.stderr


def _messages(data: dict[str, object], item: str) -> list[str]:
    findings = data["findings"]
    assert isinstance(findings, list)
    return [f["message"] for f in findings if f["item"] == item]


def test_cycle_across_files_and_self_reference() -> None:
    _, data, _ = _json(str(REFS / "a.modelspec.yaml"), str(REFS / "self.modelspec.yaml"))
    assert _messages(data, "OWN-008") == [
        "specRefs form a cycle: tests/fixtures/modelspec/refs/a.modelspec.yaml -> "
        "tests/fixtures/modelspec/refs/sub/b.modelspec.yaml -> "
        "tests/fixtures/modelspec/refs/a.modelspec.yaml",
        "specRefs form a cycle: tests/fixtures/modelspec/refs/self.modelspec.yaml -> "
        "tests/fixtures/modelspec/refs/self.modelspec.yaml",
    ]
    assert _messages(data, "OWN-007") == [
        "dependency missing: specRef 'nowhere.modelspec.yaml' does not resolve to a file"
    ]


def test_refs_never_follow_urls_or_leave_the_root(tmp_path: Path) -> None:
    root = str(tmp_path)
    spec = str(tmp_path / "s.yaml")
    assert resolve_ref(spec, "https://example.com/x.yaml", root) == (
        None,
        "specRef 'https://example.com/x.yaml' is a URL; only relative file paths are followed",
    )
    assert resolve_ref(spec, "s3://bucket/x.yaml", root)[0] is None
    assert resolve_ref(spec, "../outside.yaml", root) == (
        None,
        "specRef '../outside.yaml' points outside the repository root; not followed",
    )
    assert resolve_ref(spec, "/etc/passwd", root)[0] is None
    (tmp_path / "link.yaml").symlink_to("/etc/hostname")
    assert resolve_ref(spec, "link.yaml", root)[1].endswith(
        "outside the repository root; not followed"
    )
    (tmp_path / "ok.yaml").write_text("x: 1\n")
    assert resolve_ref(spec, "ok.yaml", root) == (str((tmp_path / "ok.yaml").resolve()), "")


def test_repository_root_is_the_git_directory_or_cwd(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    assert repository_root(str(tmp_path / "repo" / "a" / "b")) == str((tmp_path / "repo").resolve())
    assert repository_root(str(tmp_path)) == str(tmp_path.resolve())


def test_referenced_file_that_is_not_a_spec(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "notspec.yaml").write_text("a: [1, 2\n")
    (tmp_path / "s.yaml").write_text(
        HEADER
        + "metadata: {name: s}\nspec:\n  identity: {model: {id: a, family: b, task: c, framework: d}}\n"
        "  runtime: {accelerator: {vendor: nvidia, type: l4, count: 1}}\n"
        "  pipeline:\n    dependencies:\n      - {id: n, role: input, specRef: notspec.yaml}\n"
    )
    _, data, _ = _json(str(tmp_path / "s.yaml"))
    messages = _messages(data, "OWN-007")
    assert len(messages) == 1
    assert messages[0].startswith("dependency n: specRef 'notspec.yaml' cannot be used: ")


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(HEADER + "\n".join(lines) + "\n")
    start = time.monotonic()
    code, data, err = _json(str(bomb))
    assert time.monotonic() - start < 5
    assert code == 3
    assert data["subjects"] == []
    assert "[alias-bomb]" in err


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(HEADER + "metadata: " + "[" * 5000 + "]" * 5000 + "\n")
    code, data, err = _json(str(deep))
    assert code == 3
    assert data["subjects"] == []
    assert err.startswith(f"{deep}:") and ("[too-deep]" in err or "[yaml-syntax]" in err)


def test_huge_file_is_not_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text(HEADER + "# " + "x" * (2 * 1024 * 1024) + "\n")
    code, _data, err = _json(str(huge), "--max-file-size", "1")
    assert code == 3
    assert "[file-too-large]" in err


def test_binary_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\x00\x01\x02")
    (tmp_path / "empty.yaml").write_text("")
    code, _data, err = _json(str(tmp_path / "bin.yaml"), str(tmp_path / "empty.yaml"))
    assert code == 3
    assert "[binary-file]" in err
    assert "no document found [not-a-modelspec]" in err


def test_wrong_types_everywhere_never_crash(tmp_path: Path) -> None:
    text = (FIXTURES / "good.modelspec.yaml").read_text()
    for replacement in ("[1, 2]", "{a: 1}", "null", "true", "-3", '"text"'):
        mangled = []
        for line in text.splitlines():
            key, sep, value = line.partition(": ")
            if sep and value and not line.lstrip().startswith(("apiVersion", "kind", "#")):
                mangled.append(f"{key}: {replacement}")
            else:
                mangled.append(line)
        path = tmp_path / "wrong.yaml"
        path.write_text("\n".join(mangled) + "\n")
        code, data, _err = _json(str(path))
        assert code == 1, replacement
        outcomes = data["outcomes"]
        assert isinstance(outcomes, list)
        assert [o for o in outcomes if o["outcome"] == "error"] == [], replacement
        assert any(f["rule"] == "modelspec-schema" for f in data["findings"])  # type: ignore[union-attr]


def test_document_root_of_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEADER + "metadata: 5\nspec: [1]\n")
    code, data, _ = _json(str(path))
    assert code == 1
    assert _messages(data, "REL-008") == [
        "$.metadata: expected object, got number 5",
        "$.spec: expected object, got a list",
    ]
