"""The ModelSpec JSON Schema: load it, validate a located document, place each error in the file."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from piqc_advisor.collectors.yaml_source import LocatedList, LocatedMap
from piqc_advisor.facts.origin import Origin
from piqc_advisor.knowledge.queries import closest
from piqc_advisor.modelspec.facts import escape_pointer

SCHEMA_FILE = "modelspec.v1alpha1.schema.json"
MAX_ERRORS_PER_DOCUMENT = 200
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def schema_text() -> str:
    """The schema exactly as shipped in the package."""
    return resources.files("piqc_advisor").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text())
    return data


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema())


@dataclass(frozen=True)
class SchemaError:
    """One way a document breaks the schema, with the JSONPath and file position of the value."""

    json_path: str
    origin: Origin
    keyword: str
    message: str
    suggestion: str | None = None

    @property
    def text(self) -> str:
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        return f"{self.json_path}: {self.message}{hint}"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.json_path,
            "keyword": self.keyword,
            "message": self.message,
            "suggestion": self.suggestion,
            "source": self.origin.to_json(),
        }


def json_path(parts: Sequence[str | int]) -> str:
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}"
        else:
            text += "[" + json.dumps(part) + "]"
    return text


def _pointer(parts: Sequence[str | int]) -> str:
    return "".join(f"/{escape_pointer(str(p))}" for p in parts)


def locate(
    data: Any, parts: Sequence[str | int], path: str, document: int, key: bool = False
) -> Origin:
    """Where the value at `parts` starts (or its key, with `key`); the nearest known parent else."""
    line = getattr(data, "line", 1)
    col = getattr(data, "col", 1)
    node = data
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(node, LocatedMap) and isinstance(part, str) and part in node:
            positions = node.key_lines if (last and key) else node.value_lines
            line, col = positions.get(part, (line, col))
            node = node[part]
        elif isinstance(node, LocatedList) and isinstance(part, int) and 0 <= part < len(node):
            line, col = node.item_lines[part]
            node = node[part]
        else:
            break
    return Origin(path, line, col, _pointer(parts), document)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _value(error: ValidationError) -> Any:
    value: Any = error.validator_value
    return value


def _errors_for(error: ValidationError, data: Any, path: str, document: int) -> list[SchemaError]:
    parts: list[str | int] = list(error.absolute_path)
    where = json_path(parts)
    keyword = str(error.validator)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        found: list[SchemaError] = []
        for name in instance:
            if name in known:
                continue
            key_parts = [*parts, name]
            found.append(
                SchemaError(
                    json_path(key_parts),
                    locate(data, key_parts, path, document, key=True),
                    keyword,
                    f"unknown key {name!r}"
                    + (f"; allowed here: {', '.join(known)}" if known else ""),
                    closest(name, known) if known else None,
                )
            )
        return found
    origin = locate(data, parts, path, document)
    if keyword == "required" and isinstance(instance, dict):
        missing = [k for k in _value(error) if k not in instance]
        return [
            SchemaError(
                json_path([*parts, name]), origin, keyword, f"required key {name!r} is missing"
            )
            for name in missing
        ]
    if keyword == "type":
        message = f"expected {_value(error)}, got {_describe(instance)}"
    elif keyword == "enum":
        allowed = ", ".join(str(v) for v in _value(error))
        message = f"{_describe(instance)} is not one of: {allowed}"
        hint = closest(str(instance), [str(v) for v in _value(error)])
        return [SchemaError(where, origin, keyword, message, hint)]
    elif keyword == "const":
        message = f"must be {_value(error)!r}, got {_describe(instance)}"
    elif keyword == "minimum":
        message = f"must be at least {_value(error)}, got {_describe(instance)}"
    elif keyword == "maximum":
        message = f"must be at most {_value(error)}, got {_describe(instance)}"
    else:
        message = error.message
    return [SchemaError(where, origin, keyword, message)]


def schema_errors(data: Any, path: str, document: int = 0) -> list[SchemaError]:
    """Every schema error of one document, in file order (capped per document)."""
    found: list[SchemaError] = []
    for error in validator().iter_errors(data):
        found.extend(_errors_for(error, data, path, document))
        if len(found) >= MAX_ERRORS_PER_DOCUMENT:
            break
    found.sort(key=lambda e: (e.origin.line, e.origin.col, e.json_path, e.message))
    return found[:MAX_ERRORS_PER_DOCUMENT]
