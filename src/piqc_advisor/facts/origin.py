"""Where a fact came from: a file position (with JSON pointer) and what declared it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Origin:
    """A position in an input file; `pointer` is the JSON pointer inside its document."""

    path: str
    line: int
    col: int = 1
    pointer: str = ""
    document: int = 0
    template: str | None = None
    template_line: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "line": self.line, "col": self.col}
        if self.pointer:
            data["pointer"] = self.pointer
        if self.template:
            data["template"] = self.template
            data["template_line"] = self.template_line
        return data

    def short(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Declared(Generic[T]):
    """A value as the input declares it, where, and through what (a flag, a field, an env var)."""

    value: T
    origin: Origin
    via: str

    def to_json(self) -> dict[str, Any]:
        return {"value": _plain(self.value), "via": self.via, "source": self.origin.to_json()}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
