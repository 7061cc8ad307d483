"""Every origin the scanner records points at a line that really holds that key or value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from piqc_advisor.collectors.scan import scan

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ["tests/fixtures/manifests", "examples"]


def _origins(data: Any, found: list[dict[str, Any]]) -> None:
    if isinstance(data, dict):
        source = data.get("source")
        if isinstance(source, dict) and "pointer" in source:
            found.append(source)
        for value in data.values():
            _origins(value, found)
    elif isinstance(data, list):
        for value in data:
            _origins(value, found)


def _inside_block_scalar(lines: list[str], index: int) -> bool:
    """True when line `index` is content of a literal block scalar started above it."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    for back in range(index - 1, max(index - 40, -1), -1):
        above = lines[back]
        if above.rstrip().endswith(("|", "|-", ">", ">-")):
            return len(above) - len(above.lstrip()) < indent
    return False


def _scalar_text(lines: list[str], index: int) -> str:
    """The origin line, plus the following lines when a quoted scalar continues over them."""
    text = lines[index]
    if text.count('"') % 2 == 1:
        for following in lines[index + 1 : index + 20]:
            text += " " + following.strip()
            if following.count('"') % 2 == 1:
                break
    return text


def test_every_pointer_line_holds_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    document = scan(FOLDERS).to_json()
    origins: list[dict[str, Any]] = []
    _origins(document["workloads"], origins)
    assert len(origins) > 100
    lines_by_path: dict[str, list[str]] = {}
    wrong = []
    for origin in origins:
        lines = lines_by_path.setdefault(
            origin["path"], (ROOT / origin["path"]).read_text().splitlines()
        )
        line = lines[origin["line"] - 1]
        last = origin["pointer"].rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
        if last.isdigit():
            # A list element: a block entry ("- x"), or an element of a flow list ([a, b]).
            ok = (
                line.lstrip().startswith("-")
                or "[" in line
                or _inside_block_scalar(lines, origin["line"] - 1)
            )
        else:
            ok = last in line
        if not ok:
            wrong.append((origin["path"], origin["line"], origin["pointer"], line))
    assert wrong == []


def test_serving_values_point_at_their_flag_or_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    wrong = []
    for workload in scan(FOLDERS).workloads:
        for key, declared in workload.serving.items():
            if declared is None or key == "api_key":
                continue
            lines = (ROOT / declared.origin.path).read_text().splitlines()
            text = _scalar_text(lines, declared.origin.line - 1)
            value = declared.value[0] if isinstance(declared.value, list) else declared.value
            flag = declared.via.split()[-1].split(".")[-1]
            if str(value) not in text and flag not in text and str(value).lower() not in text:
                wrong.append((workload.id, key, declared.origin.line, text))
    assert wrong == []
