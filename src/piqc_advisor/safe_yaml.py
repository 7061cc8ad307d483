"""Bounded, alias-free YAML loading for small trusted-format files (knowledge base, config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent

MAX_DATA_FILE_BYTES = 4 * 1024 * 1024


class DataFileError(Exception):
    """A data file that cannot be read: names the file and, where known, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


_FastLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _refuse_aliases(text: str) -> None:
    """Scan parser events (C speed) and refuse the first alias before anything is built."""
    for event in yaml.parse(text, Loader=_FastLoader):
        if isinstance(event, AliasEvent):
            raise yaml.MarkedYAMLError(
                problem="YAML aliases are not allowed in this file",
                problem_mark=event.start_mark,  # type: ignore[arg-type]
            )


def load_yaml_file(path: Path, max_bytes: int = MAX_DATA_FILE_BYTES) -> Any:
    """Read one YAML document from a file, refusing huge, binary, non-UTF-8 and aliased input."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise DataFileError(path, f"file is {size} bytes, more than the {max_bytes}-byte limit")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    return parse_yaml_text(raw, path)


def parse_yaml_text(raw: bytes, path: Path | str) -> Any:
    """Parse YAML bytes that were already read; errors name the path and line."""
    if b"\x00" in raw:
        raise DataFileError(path, "binary content (NUL byte), not YAML")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(path, "not valid UTF-8", line) from exc
    try:
        _refuse_aliases(text)
        return yaml.load(text, Loader=_FastLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        mark_line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise DataFileError(path, f"invalid YAML: {reason}", mark_line) from exc
    except yaml.YAMLError as exc:
        raise DataFileError(path, f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise DataFileError(path, "YAML nesting is too deep") from exc
