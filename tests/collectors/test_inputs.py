from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from piqc_advisor.collectors import inputs
from piqc_advisor.collectors.inputs import InputFile, discover, read_all
from piqc_advisor.collectors.yaml_source import Problem


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_bytes(data.encode("utf-8"))
    return path


def _names(items: list[InputFile | Problem]) -> list[str]:
    return [item.path for item in items]


def test_directory_walk_is_sorted_recursive_and_filtered(in_tmp: Path) -> None:
    for name in [
        "b.yaml",
        "a.yml",
        "c.json",
        "notes.txt",
        "Chart.YAML",
        "sub/z.yaml",
        "sub/deeper/y.yml",
        "a-dir/x.yaml",
        ".git/config.yaml",
        ".hidden.yaml",
        "sub/.cache/k.yaml",
    ]:
        _write(in_tmp / "m" / name, "a: 1\n")
    items = list(discover(["m"]))
    assert all(isinstance(item, InputFile) for item in items)
    assert _names(items) == [
        "m/Chart.YAML",
        "m/a-dir/x.yaml",
        "m/a.yml",
        "m/b.yaml",
        "m/c.json",
        "m/sub/deeper/y.yml",
        "m/sub/z.yaml",
    ]
    assert list(discover(["m"])) == items


def test_named_file_is_read_whatever_its_extension(in_tmp: Path) -> None:
    _write(in_tmp / "manifest.txt", "kind: A\n")
    assert list(discover(["manifest.txt"])) == [InputFile("manifest.txt", "kind: A\n")]


def test_paths_are_shown_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "work" / "k8s" / "a.yaml", "a: 1\n")
    _write(tmp_path / "elsewhere" / "b.yaml", "b: 1\n")
    monkeypatch.chdir(tmp_path / "work")
    outside = str(tmp_path / "elsewhere" / "b.yaml")
    items = list(discover([str(tmp_path / "work" / "k8s"), "./k8s/a.yaml", outside]))
    # the second name is the same file as the first one found: read once
    assert _names(items) == ["k8s/a.yaml", outside]


def test_same_file_twice_is_read_once(in_tmp: Path) -> None:
    _write(in_tmp / "a.yaml", "a: 1\n")
    assert _names(list(discover(["a.yaml", "a.yaml", "."]))) == ["a.yaml"]


def test_missing_path_is_unreadable(in_tmp: Path) -> None:
    assert list(discover(["nope.yaml"])) == [
        Problem(
            "nope.yaml",
            None,
            None,
            "error",
            "unreadable",
            "cannot read nope.yaml: no such file or directory",
        )
    ]


def test_broken_symlink_is_unreadable(in_tmp: Path) -> None:
    (in_tmp / "d").mkdir()
    os.symlink("gone.yaml", in_tmp / "d" / "link.yaml")
    os.symlink("gone", in_tmp / "d" / "link-without-suffix")
    expected = Problem(
        "d/link.yaml",
        None,
        None,
        "error",
        "unreadable",
        "cannot read d/link.yaml: broken symbolic link (its target gone.yaml does not exist)",
    )
    assert list(discover(["d"])) == [expected]
    assert list(discover(["d/link.yaml"])) == [expected]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_unreadable(in_tmp: Path) -> None:
    secret = _write(in_tmp / "secret.yaml", "a: 1\n")
    secret.chmod(0)
    try:
        assert list(discover(["secret.yaml"])) == [
            Problem(
                "secret.yaml",
                None,
                None,
                "error",
                "unreadable",
                "cannot read secret.yaml: permission denied",
            )
        ]
    finally:
        secret.chmod(0o644)


def test_permission_error_while_reading_is_unreadable(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(in_tmp / "locked.yaml", "a: 1\n")

    def refuse(path: str, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr("builtins.open", refuse)
    assert list(discover(["locked.yaml"])) == [
        Problem(
            "locked.yaml",
            None,
            None,
            "error",
            "unreadable",
            "cannot read locked.yaml: permission denied",
        )
    ]


def test_symlink_loop_between_directories(in_tmp: Path) -> None:
    _write(in_tmp / "top" / "sub" / "a.yaml", "a: 1\n")
    os.symlink("..", in_tmp / "top" / "sub" / "back")
    items = list(discover(["top"]))
    assert items == [
        InputFile("top/sub/a.yaml", "a: 1\n"),
        Problem(
            "top/sub/back",
            None,
            None,
            "error",
            "symlink-loop",
            "top/sub/back links back to a directory that contains it; not followed again",
        ),
    ]


def test_symlink_to_itself(in_tmp: Path) -> None:
    (in_tmp / "d").mkdir()
    os.symlink("self.yaml", in_tmp / "d" / "self.yaml")
    expected = Problem(
        "d/self.yaml",
        None,
        None,
        "error",
        "symlink-loop",
        "d/self.yaml: symbolic links loop back on themselves",
    )
    assert list(discover(["d"])) == [expected]
    assert list(discover(["d/self.yaml"])) == [expected]


def test_symlinked_directory_elsewhere_is_followed(in_tmp: Path) -> None:
    _write(in_tmp / "real" / "a.yaml", "a: 1\n")
    (in_tmp / "scan").mkdir()
    os.symlink("../real", in_tmp / "scan" / "linked")
    assert _names(list(discover(["scan"]))) == ["scan/linked/a.yaml"]


def test_huge_sparse_file_is_not_read(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    huge = in_tmp / "huge.yaml"
    with open(huge, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)
    opened: list[str] = []
    real_open = open

    def spy(path: str, *args: object, **kwargs: object) -> object:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spy)
    items = list(discover(["huge.yaml"]))
    assert opened == []
    assert items == [
        Problem(
            "huge.yaml",
            None,
            None,
            "error",
            "file-too-large",
            "huge.yaml is 209,715,200 bytes, over the 33,554,432-byte limit; it was not read",
        )
    ]


def test_limit_is_configurable(in_tmp: Path) -> None:
    _write(in_tmp / "a.yaml", "a: 1\n")
    assert [p.code for p in discover(["a.yaml"], max_file_bytes=4)] == ["file-too-large"]  # type: ignore[union-attr]
    assert list(discover(["a.yaml"], max_file_bytes=5)) == [InputFile("a.yaml", "a: 1\n")]


def test_binary_file(in_tmp: Path) -> None:
    _write(in_tmp / "blob.yaml", b"a: 1\n\x00\x01\x02")
    assert list(discover(["blob.yaml"])) == [
        Problem(
            "blob.yaml",
            None,
            None,
            "error",
            "binary-file",
            "blob.yaml is a binary file (it holds NUL bytes)",
        )
    ]


def test_latin_1_file_is_not_utf8(in_tmp: Path) -> None:
    _write(in_tmp / "l1.yaml", "a: 1\nname: caf\u00e9\n".encode("latin-1"))
    assert list(discover(["l1.yaml"])) == [
        Problem(
            "l1.yaml",
            2,
            None,
            "error",
            "not-utf8",
            "l1.yaml is not UTF-8 text: byte 0xe9 on line 2 cannot be decoded",
        )
    ]


def test_bom_is_stripped(in_tmp: Path) -> None:
    _write(in_tmp / "bom.yaml", b"\xef\xbb\xbfa: 1\n")
    assert list(discover(["bom.yaml"])) == [InputFile("bom.yaml", "a: 1\n")]


def test_empty_file(in_tmp: Path) -> None:
    _write(in_tmp / "empty.yaml", b"")
    assert list(discover(["empty.yaml"])) == [InputFile("empty.yaml", "")]
    assert read_all(["empty.yaml"]) == ([], [])


def test_stdin_text_stream_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("kind: A\n---\nkind: B\n"))
    items = list(discover(["-", "-"]))
    assert items == [InputFile(inputs.STDIN_NAME, "kind: A\n---\nkind: B\n")]
    assert inputs.STDIN_NAME == "<stdin>"


def test_stdin_bytes_go_through_the_same_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbfa: 1\r\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stream)
    docs, problems = read_all(["-"])
    assert problems == []
    assert [(d.path, d.line, d.data) for d in docs] == [("<stdin>", 1, {"a": 1})]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\x00"), encoding="utf-8"))
    assert [p.code for p in discover(["-"])] == ["binary-file"]  # type: ignore[union-attr]


def test_read_all_combines_discovery_and_parsing(in_tmp: Path) -> None:
    _write(in_tmp / "m" / "a.yaml", "kind: A\n---\nkind: [\n---\nkind: C\n")
    _write(in_tmp / "m" / "b.json", '{"kind": "B"}')
    _write(in_tmp / "m" / "c.yaml", b"\xff")
    docs, problems = read_all(["m", "missing"])
    assert [(d.path, d.index, d.line, d.data) for d in docs] == [
        ("m/a.yaml", 0, 1, {"kind": "A"}),
        ("m/a.yaml", 2, 5, {"kind": "C"}),
        ("m/b.json", 0, 1, {"kind": "B"}),
    ]
    assert [(p.path, p.code, p.line) for p in problems] == [
        ("m/a.yaml", "yaml-syntax", 4),
        ("m/c.yaml", "not-utf8", 1),
        ("missing", "unreadable", None),
    ]


def test_read_all_restores_the_garbage_collector(in_tmp: Path) -> None:
    import gc

    _write(in_tmp / "a.yaml", "a: 1\n")
    assert gc.isenabled()
    read_all(["a.yaml"])
    assert gc.isenabled()
    gc.disable()
    try:
        read_all(["a.yaml"])
        assert not gc.isenabled()
    finally:
        gc.enable()
