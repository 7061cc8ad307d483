"""Parse manifest text into documents whose maps and lists remember their source lines."""

from __future__ import annotations

import json
import math
import operator
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

MAX_DEPTH = 200
"""Deepest nesting of maps and lists accepted in one document."""

MAX_EXPANDED_NODES = 100_000
"""Largest node count a document that uses aliases may expand to."""

Severity = Literal["error", "warning"]
Position = tuple[int, int]


class LocatedMap(dict[str, Any]):
    """A plain dict that also knows where it, each key and each value sit in the file."""

    __slots__ = ("col", "key_lines", "line", "value_lines")

    line: int
    col: int
    key_lines: dict[str, Position]
    value_lines: dict[str, Position]


class LocatedList(list[Any]):
    """A plain list that also knows where it and each of its items sit in the file."""

    __slots__ = ("col", "item_lines", "line")

    line: int
    col: int
    item_lines: list[Position]


@dataclass(frozen=True)
class Document:
    """One YAML document of a file, converted to plain (located) Python data."""

    path: str
    index: int
    line: int
    data: Any
    template: str | None = None
    template_line_offset: int = 0


@dataclass(frozen=True)
class Problem:
    """Something wrong with an input, at a place in it where one is known."""

    path: str
    line: int | None
    col: int | None
    severity: Severity
    code: str
    message: str


def position_of(container: LocatedMap | LocatedList, key_or_index: str | int) -> Position:
    """Line and column of a map's key, or of a list's item."""
    if isinstance(container, LocatedMap):
        return container.key_lines[str(key_or_index)]
    if not isinstance(key_or_index, int):
        raise TypeError("a list position needs an integer index")
    return container.item_lines[key_or_index]


def value_position(container: LocatedMap | LocatedList, key_or_index: str | int) -> Position:
    """Line and column where the value under a map key (or a list item) itself starts."""
    if isinstance(container, LocatedMap):
        return container.value_lines[str(key_or_index)]
    return position_of(container, key_or_index)


# --------------------------------------------------------------------------- tag resolution

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_INT = _TAG + "int"
_FLOAT = _TAG + "float"
_BOOL = _TAG + "bool"
_NULL = _TAG + "null"
_MERGE = _TAG + "merge"
_MAP = _TAG + "map"
_SEQ = _TAG + "seq"
_OCTAL_0O = re.compile(r"[-+]?0o[0-7_]+\Z")
_TAG_CACHE: dict[str, str] = {}
_TAG_CACHE_LIMIT = 50_000


class _Loader(yaml.CSafeLoader):
    """The libyaml composer with a memoising resolver and no path resolvers."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR
            tag = _TAG_CACHE.get(value)
            if tag is None:
                if _OCTAL_0O.match(value):
                    tag = _INT
                else:
                    tag = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
                if len(_TAG_CACHE) >= _TAG_CACHE_LIMIT:
                    _TAG_CACHE.clear()
                _TAG_CACHE[value] = tag
            return tag
        return _MAP if kind is MappingNode else _SEQ

    # libyaml's composer calls these two for every node; path resolvers are not used, so
    # they are C functions that take the same arguments and do nothing of note (a Python
    # no-op costs a call frame per node).
    descend_resolver = operator.is_  # type: ignore[assignment]
    ascend_resolver = tuple  # type: ignore[assignment]


# --------------------------------------------------------------------------- scalar values

_BOOL_VALUES = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "on": True,
    "off": False,
    "y": True,
    "n": False,
}


def _sexagesimal(digits: str, parse: Any) -> Any:
    total = parse("0")
    for part in digits.split(":"):
        total = total * 60 + parse(part)
    return total


def _to_int(text: str) -> int:
    value = text.replace("_", "")
    sign = 1
    if value[:1] in "+-" and value:
        if value[0] == "-":
            sign = -1
        value = value[1:]
    if value == "0":
        return 0
    lowered = value.lower()
    if lowered.startswith("0b"):
        return sign * int(value[2:], 2)
    if lowered.startswith("0x"):
        return sign * int(value[2:], 16)
    if lowered.startswith("0o"):
        return sign * int(value[2:], 8)
    if ":" in value:
        return sign * int(_sexagesimal(value, int))
    if value.startswith("0") and len(value) > 1:
        return sign * int(value, 8)
    return sign * int(value)


def _to_float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = 1.0
    if value[:1] in "+-" and value:
        if value[0] == "-":
            sign = -1.0
        value = value[1:]
    if value == ".inf":
        return sign * math.inf
    if value == ".nan":
        return math.nan
    if ":" in value:
        return sign * float(_sexagesimal(value, float))
    return sign * float(value)


def _to_bool(text: str) -> bool:
    return _BOOL_VALUES[text.lower()]


def _to_null(text: str) -> None:
    if text not in ("", "~", "null", "Null", "NULL"):
        raise ValueError(text)
    return None


_SCALAR_CONVERTERS: dict[str, Any] = {
    _INT: _to_int,
    _FLOAT: _to_float,
    _BOOL: _to_bool,
    _NULL: _to_null,
}


# --------------------------------------------------------------------------- conversion


class _Refused(Exception):
    """A document that cannot be converted; carries the problem to report."""

    def __init__(self, line: int | None, col: int | None, code: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.code = code
        self.message = message


_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")
_TEMPLATE_HINT = "render the chart (for example with `helm template`) before scanning"


class _Converter:
    """Turns one composed document into LocatedMap/LocatedList/scalars."""

    def __init__(self, path: str, text: str, first_line: int, root: Node) -> None:
        self.path = path
        self.root = root
        self.text = text
        self.first_line = first_line
        self.track_aliases = "*" in text
        self.memo: dict[int, tuple[Any, int]] = {}
        self.count = 0
        self.aliased = False
        self.warnings: list[Problem] = []

    def line_of(self, node: Node) -> int:
        return int(node.start_mark.line) + self.first_line

    def convert(self, node: Node, depth: int) -> Any:
        if node.__class__ is ScalarNode:
            return self.scalar(node)
        if depth > MAX_DEPTH:
            raise _Refused(
                self.line_of(node),
                node.start_mark.column + 1,
                "too-deep",
                f"nesting deeper than {MAX_DEPTH} levels; the document was not read",
            )
        if self.track_aliases:
            seen = self.memo.get(id(node))
            if seen is not None:
                self.aliased = True
                self.count += seen[1]
                if self.count > MAX_EXPANDED_NODES:
                    self.refuse_bomb()
                return seen[0]
            before = self.count
        if node.__class__ is MappingNode:
            result: Any = self.mapping(node, depth)
        else:
            result = self.sequence(node, depth)
        if self.track_aliases:
            self.memo[id(node)] = (result, self.count - before)
        return result

    def refuse_bomb(self) -> None:
        raise _Refused(
            self.line_of(self.root),
            self.root.start_mark.column + 1,
            "alias-bomb",
            f"aliases expand this document to more than {MAX_EXPANDED_NODES:,} nodes "
            "(a 'billion laughs' document); the document was not read",
        )

    def scalar(self, node: Node) -> Any:
        tag = node.tag
        value = node.value
        if tag == _STR:
            return value
        convert = _SCALAR_CONVERTERS.get(tag)
        if convert is None:
            return value
        try:
            return convert(value)
        except (ValueError, KeyError) as exc:
            short = tag[len(_TAG) :] if tag.startswith(_TAG) else tag
            raise _Refused(
                self.line_of(node),
                node.start_mark.column + 1,
                "yaml-syntax",
                f"could not read {value!r} as a YAML {short}",
            ) from exc

    def bad_key(self, key: Node) -> _Refused:
        line = self.line_of(key)
        col = key.start_mark.column + 1
        source_line = self.text.split("\n")[key.start_mark.line]
        placeholder = _PLACEHOLDER.search(source_line)
        if placeholder is not None:
            message = f"unrendered template placeholder {placeholder.group(0)!r}: {_TEMPLATE_HINT}"
        else:
            kind = "map" if key.__class__ is MappingNode else "list"
            message = f"a mapping key is a {kind}, not a string"
        return _Refused(line, col, "yaml-syntax", message)

    def mapping(self, node: Node, depth: int) -> LocatedMap:
        first = self.first_line
        result = LocatedMap()
        mark = node.start_mark
        result.line = mark.line + first
        result.col = mark.column + 1
        key_lines: dict[str, Position] = {}
        value_lines: dict[str, Position] = {}
        result.key_lines = key_lines
        result.value_lines = value_lines
        pairs = node.value
        self.count += len(pairs)
        merges: list[Node] | None = None
        convert = self.convert
        scalar = self.scalar
        for key_node, value_node in pairs:
            if key_node.__class__ is not ScalarNode:
                raise self.bad_key(key_node)
            if key_node.tag == _MERGE:
                if merges is None:
                    merges = []
                merges.append(value_node)
                continue
            key = key_node.value
            if value_node.__class__ is ScalarNode:
                value = value_node.value if value_node.tag == _STR else scalar(value_node)
            else:
                value = convert(value_node, depth + 1)
            key_mark = key_node.start_mark
            value_mark = value_node.start_mark
            if key in result:
                self.duplicate(key, key_lines[key][0], key_mark)
            result[key] = value
            key_lines[key] = (key_mark.line + first, key_mark.column + 1)
            value_lines[key] = (value_mark.line + first, value_mark.column + 1)
        if merges is not None:
            self.merge(result, merges, depth)
        return result

    def duplicate(self, key: str, first_line: int, mark: Any) -> None:
        line = mark.line + self.first_line
        self.warnings.append(
            Problem(
                self.path,
                line,
                mark.column + 1,
                "warning",
                "duplicate-key",
                f"duplicate key {key!r} (first at line {first_line}); "
                "the last value wins, as with kubectl",
            )
        )

    def merge(self, target: LocatedMap, merges: list[Node], depth: int) -> None:
        sources: list[LocatedMap] = []
        for value_node in merges:
            value = self.convert(value_node, depth + 1)
            items = [value] if isinstance(value, LocatedMap) else value
            if not isinstance(items, list) or not all(isinstance(i, LocatedMap) for i in items):
                raise _Refused(
                    self.line_of(value_node),
                    value_node.start_mark.column + 1,
                    "yaml-syntax",
                    "a merge key '<<' needs a map or a list of maps",
                )
            sources.extend(items)
        for source in sources:
            for key, value in source.items():
                if key in target:
                    continue
                target[key] = value
                target.key_lines[key] = source.key_lines[key]
                target.value_lines[key] = source.value_lines[key]

    def sequence(self, node: Node, depth: int) -> LocatedList:
        first = self.first_line
        result = LocatedList()
        mark = node.start_mark
        result.line = mark.line + first
        result.col = mark.column + 1
        item_lines: list[Position] = []
        result.item_lines = item_lines
        items = node.value
        self.count += len(items)
        convert = self.convert
        append = result.append
        append_line = item_lines.append
        scalar = self.scalar
        for item in items:
            if item.__class__ is ScalarNode:
                append(item.value if item.tag == _STR else scalar(item))
            else:
                append(convert(item, depth + 1))
            item_mark = item.start_mark
            append_line((item_mark.line + first, item_mark.column + 1))
        return result


# --------------------------------------------------------------------------- splitting

_BOUNDARY = re.compile(r"\n(?:(?:---|\.\.\.)(?=[ \t\n]|\Z)|%)")
_SOURCE_PREFIX = "# Source:"


@dataclass(frozen=True)
class _Chunk:
    start: int
    end: int
    line: int  # 1-based file line of the chunk's first line


def _split(text: str) -> list[_Chunk]:
    """Cut a stream at document markers so each document parses on its own."""
    if not (
        text.startswith(("---", "...", "%")) or "\n---" in text or "\n..." in text or "\n%" in text
    ):
        return [_Chunk(0, len(text), 1)] if text and not text.isspace() else []
    chunks: list[_Chunk] = []
    start = 0
    start_line = 1
    line = 1
    scanned = 0
    in_directives = False

    def close(end: int) -> None:
        if end > start and not text[start:end].isspace():
            chunks.append(_Chunk(start, end, start_line))

    for match in _BOUNDARY.finditer("\n" + text):
        pos = match.start()  # the marker's offset in text (the search text has one more char)
        line += text.count("\n", scanned, pos)
        scanned = pos
        marker = text[pos]
        if marker == "%":
            if not in_directives:
                close(pos)
                start, start_line, in_directives = pos, line, True
        elif marker == "-":
            if in_directives:
                in_directives = False
                continue
            close(pos)
            start, start_line = pos, line
        else:
            newline = text.find("\n", pos)
            end = len(text) if newline < 0 else newline + 1
            close(end)
            start, start_line, in_directives = end, line + 1, False
    close(len(text))
    return chunks


def _helm_source(text: str, chunk: _Chunk) -> tuple[str | None, int]:
    """The `# Source:` comment heading a chunk, with its file line."""
    if _SOURCE_PREFIX not in text[chunk.start : chunk.end]:
        return None, 0
    template: str | None = None
    template_line = 0
    pos = chunk.start
    line = chunk.line
    while pos < chunk.end:
        newline = text.find("\n", pos, chunk.end)
        eol = chunk.end if newline < 0 else newline
        stripped = text[pos:eol].strip()
        if stripped.startswith(_SOURCE_PREFIX):
            template = stripped[len(_SOURCE_PREFIX) :].strip() or None
            template_line = line if template else 0
        elif stripped.startswith("---"):
            rest = stripped[3:].strip()
            if rest and not rest.startswith("#"):
                break
        elif stripped and not stripped.startswith(("#", "%")):
            break
        pos = eol + 1
        line += 1
    return template, template_line


# --------------------------------------------------------------------------- parsing


def _syntax_problem(path: str, chunk_text: str, first_line: int, exc: Exception) -> Problem:
    """A Problem for a libyaml error, at the file line/column of the error."""
    line: int | None = first_line
    col: int | None = None
    reason = str(exc)
    code = "yaml-syntax"
    mark = None
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
    elif isinstance(exc, yaml.reader.ReaderError):
        offset = exc.position
        row = chunk_text.count("\n", 0, offset)
        line = first_line + row
        col = offset - (chunk_text.rfind("\n", 0, offset) + 1) + 1
        character = exc.character
        if isinstance(character, int):
            character = chr(character)
        reason = f"character {character!r} is not allowed ({exc.reason})"
    row_index: int | None = None
    if mark is not None:
        row_index = mark.line
        line = first_line + mark.line
        col = mark.column + 1
        if reason == "found character that cannot start any token":
            index = mark.index
            if 0 <= index < len(chunk_text):
                reason = f"found character {chunk_text[index]!r} that cannot start any token"
    if "maximum nesting depth" in reason:
        code = "too-deep"
        reason = "nesting is too deep (libyaml allows 1000 levels)"
    message = f"could not parse YAML: {reason}"
    if row_index is not None:
        lines = chunk_text.split("\n")
        if row_index < len(lines):
            placeholder = _PLACEHOLDER.search(lines[row_index])
            if placeholder is not None:
                message += (
                    f" (unrendered template placeholder {placeholder.group(0)!r}: {_TEMPLATE_HINT})"
                )
    return Problem(path, line, col, "error", code, message)


class _JsonPositions:
    """Rebuilds a JSON value (already known to be valid) with positions."""

    def __init__(self, path: str, text: str, first_line: int) -> None:
        self.path = path
        self.text = text
        self.first_line = first_line
        self.decoder = json.JSONDecoder()
        self.space = re.compile(r"[ \t\n\r]*")
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.warnings: list[Problem] = []

    def where(self, offset: int) -> Position:
        row = bisect_right(self.line_starts, offset) - 1
        return row + self.first_line, offset - self.line_starts[row] + 1

    def skip(self, offset: int) -> int:
        match = self.space.match(self.text, offset)
        return offset if match is None else match.end()

    def value(self, offset: int, depth: int) -> tuple[Any, int]:
        text = self.text
        char = text[offset]
        if char not in "{[":
            value, end = self.decoder.raw_decode(text, offset)
            return value, end
        if depth > MAX_DEPTH:
            line, col = self.where(offset)
            raise _Refused(
                line,
                col,
                "too-deep",
                f"nesting deeper than {MAX_DEPTH} levels; the document was not read",
            )
        line, col = self.where(offset)
        offset = self.skip(offset + 1)
        if char == "[":
            items = LocatedList()
            items.line, items.col = line, col
            items.item_lines = []
            while text[offset] != "]":
                items.item_lines.append(self.where(offset))
                item, offset = self.value(offset, depth + 1)
                items.append(item)
                offset = self.skip(offset)
                if text[offset] == ",":
                    offset = self.skip(offset + 1)
            return items, offset + 1
        mapping = LocatedMap()
        mapping.line, mapping.col = line, col
        mapping.key_lines, mapping.value_lines = {}, {}
        while text[offset] != "}":
            key_at = self.where(offset)
            key, offset = self.decoder.raw_decode(text, offset)
            offset = self.skip(self.skip(offset) + 1)  # the ':'
            value_at = self.where(offset)
            value, offset = self.value(offset, depth + 1)
            if key in mapping:
                self.warnings.append(
                    Problem(
                        self.path,
                        key_at[0],
                        key_at[1],
                        "warning",
                        "duplicate-key",
                        f"duplicate key {key!r} (first at line {mapping.key_lines[key][0]}); "
                        "the last value wins, as with kubectl",
                    )
                )
            mapping[key] = value
            mapping.key_lines[key] = key_at
            mapping.value_lines[key] = value_at
            offset = self.skip(offset)
            if text[offset] == ",":
                offset = self.skip(offset + 1)
        return mapping, offset + 1


def _parse_json(path: str, text: str, first_line: int) -> tuple[Any, list[Problem]] | None:
    """Read a chunk as JSON (with positions) when YAML refused it; None if not JSON."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return None
    reader = _JsonPositions(path, text, first_line)
    value, _ = reader.value(reader.skip(0), 0)
    return value, reader.warnings


def _is_empty_document(node: Node) -> bool:
    return (
        node.__class__ is ScalarNode and node.tag == _NULL and node.value == "" and not node.style
    )


def parse_documents(text: str, path: str) -> tuple[list[Document], list[Problem]]:
    """Split a YAML (or JSON) stream into documents; broken documents become problems."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    documents: list[Document] = []
    problems: list[Problem] = []
    index = 0
    for chunk in _split(text):
        chunk_text = text[chunk.start : chunk.end]
        template, template_line = _helm_source(text, chunk)
        try:
            node = yaml.compose(chunk_text, Loader=_Loader)
        except (yaml.YAMLError, RecursionError) as exc:
            fallback = None
            if chunk_text.lstrip()[:1] in ("{", "["):
                try:
                    fallback = _parse_json(path, chunk_text, chunk.line)
                except _Refused as refused:
                    problems.append(_refusal(path, refused))
                    index += 1
                    continue
            if fallback is None:
                if isinstance(exc, RecursionError):
                    problems.append(
                        Problem(path, chunk.line, None, "error", "too-deep", "nesting is too deep")
                    )
                else:
                    problems.append(_syntax_problem(path, chunk_text, chunk.line, exc))
                index += 1
                continue
            data, warnings = fallback
            problems.extend(warnings)
            line = getattr(data, "line", chunk.line)
            documents.append(Document(path, index, line, data, template, template_line))
            index += 1
            continue
        if node is None or _is_empty_document(node):
            continue
        converter = _Converter(path, chunk_text, chunk.line, node)
        try:
            data = converter.convert(node, 0)
            if converter.aliased and converter.count + 1 > MAX_EXPANDED_NODES:
                converter.refuse_bomb()
        except _Refused as refused:
            problems.append(_refusal(path, refused))
            index += 1
            continue
        problems.extend(converter.warnings)
        line = node.start_mark.line + chunk.line
        documents.append(Document(path, index, line, data, template, template_line))
        index += 1
    return documents, problems


def _refusal(path: str, refused: _Refused) -> Problem:
    return Problem(path, refused.line, refused.col, "error", refused.code, refused.message)
