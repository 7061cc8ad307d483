"""Typed navigation of a parsed manifest that knows the file position of every node."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from piqc_advisor.collectors.yaml_source import Document, position_of
from piqc_advisor.facts.origin import Origin

_new_object = object.__new__
_Value = TypeVar("_Value")


class _computed_once(Generic[_Value]):
    """functools.cached_property without its lock (Python 3.11 takes one per first access).

    Nodes are not shared between threads, and a million first accesses on large scans made
    the lock a measurable cost. The value lands in the instance's __dict__ under the same
    name, so later reads never reach this descriptor.
    """

    def __init__(self, compute: Callable[[Any], _Value]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> _Value:
        if instance is None:
            return self  # type: ignore[return-value]
        value = self.compute(instance)
        instance.__dict__[self.name] = value
        return value


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


@dataclass
class TypeIssue:
    """A field of the wrong type (a string where a list belongs), found while reading."""

    origin: Origin
    message: str


@dataclass
class NodeContext:
    """Shared by every node of one document: the document and the type issues found in it."""

    document: Document
    issues: list[TypeIssue] = field(default_factory=list)


@dataclass(frozen=True)
class Node:
    """A value in a document plus how to locate it: its parent container and key."""

    value: Any
    context: NodeContext
    path: tuple[str | int, ...] = ()
    parent: Node | None = None

    @classmethod
    def root(cls, document: Document) -> Node:
        return cls(document.data, NodeContext(document))

    @_computed_once
    def pointer(self) -> str:
        """JSON pointer of this node, built from the parent's (cached: origins are many)."""
        if not self.path:
            return ""
        if self.parent is None or len(self.parent.path) != len(self.path) - 1:
            return "".join(f"/{_escape(p)}" for p in self.path)
        return f"{self.parent.pointer}/{_escape(self.path[-1])}"

    @_computed_once
    def origin(self) -> Origin:
        """Position of this node's key in its parent (or the document start for the root)."""
        doc = self.context.document
        if self.parent is None or not self.path:
            line, col = doc.line, 1
        else:
            line, col = position_of(self.parent.value, self.path[-1])
        template_line = None
        if doc.template is not None:
            template_line = line - doc.template_line_offset
        # Filled in directly for the reason _child gives: origins are made by the hundred
        # thousand, and the frozen dataclass __init__ is several times dearer.
        origin: Origin = _new_object(Origin)
        fields = origin.__dict__
        fields["path"] = doc.path
        fields["line"] = line
        fields["col"] = col
        fields["pointer"] = self.pointer
        fields["document"] = doc.index
        fields["template"] = doc.template
        fields["template_line"] = template_line
        return origin

    def _child(self, key: str | int, value: Any) -> Node:
        # The frozen dataclass __init__ sets each field through object.__setattr__; children
        # are made a million times on large scans, so they are filled in directly (same
        # fields, same values; about three times cheaper).
        node: Node = _new_object(Node)
        fields = node.__dict__
        fields["value"] = value
        fields["context"] = self.context
        fields["path"] = (*self.path, key)
        fields["parent"] = self
        return node

    def get(self, key: str) -> Node | None:
        """The child under `key` of a mapping; None when absent, null or this is not a mapping."""
        if isinstance(self.value, dict) and key in self.value and self.value[key] is not None:
            return self._child(key, self.value[key])
        return None

    def at(self, *keys: str) -> Node | None:
        node: Node | None = self
        for key in keys:
            if node is None:
                return None
            node = node.get(key)
        return node

    def text_at(self, *keys: str) -> str | None:
        """The scalar text at a nested path, or None when any step is absent."""
        parent = self.at(*keys[:-1])
        return parent.text(keys[-1]) if parent is not None else None

    def nearest(self, *keys: str) -> Node:
        """The node at `keys`, or its nearest present ancestor (evidence for an absent field)."""
        node = self
        for key in keys:
            child = node.get(key)
            if child is None:
                return node
            node = child
        return node

    def _complain(self, expected: str) -> None:
        found = type(self.value).__name__
        names = {"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean"}
        self.context.issues.append(
            TypeIssue(
                self.origin,
                f"{self.pointer or '/'}: expected {expected}, found {names.get(found, found)}",
            )
        )

    def mapping(self, key: str) -> Node | None:
        child = self.get(key)
        if child is not None and not isinstance(child.value, dict):
            child._complain("a mapping")
            return None
        return child

    def sequence(self, key: str) -> list[Node]:
        child = self.get(key)
        if child is None:
            return []
        if not isinstance(child.value, list):
            child._complain("a list")
            return []
        return [child._child(i, v) for i, v in enumerate(child.value)]

    def entries(self) -> Iterator[tuple[str, Node]]:
        if isinstance(self.value, dict):
            for key, value in self.value.items():
                yield str(key), self._child(str(key), value)

    def items(self) -> list[Node]:
        if isinstance(self.value, list):
            return [self._child(i, v) for i, v in enumerate(self.value)]
        return []

    def text(self, key: str) -> str | None:
        """A scalar child as text (numbers and booleans are written back as YAML would)."""
        child = self.get(key)
        if child is None:
            return None
        value = child.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        child._complain("a string")
        return None

    def integer(self, key: str) -> int | None:
        child = self.get(key)
        if child is None:
            return None
        value = child.value
        if isinstance(value, bool):
            child._complain("a number")
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        child._complain("a number")
        return None

    def boolean(self, key: str) -> bool | None:
        child = self.get(key)
        if child is None:
            return None
        if isinstance(child.value, bool):
            return child.value
        if isinstance(child.value, str) and child.value.lower() in ("true", "false"):
            return child.value.lower() == "true"
        child._complain("a boolean")
        return None

    def string_map(self, key: str) -> dict[str, str]:
        """A mapping of strings (labels, selectors); non-scalar values are reported and dropped."""
        child = self.mapping(key)
        if child is None:
            return {}
        result: dict[str, str] = {}
        for name, node in child.entries():
            value = node.value
            if isinstance(value, bool):
                result[name] = "true" if value else "false"
            elif isinstance(value, (str, int, float)):
                result[name] = str(value)
            else:
                node._complain("a string")
        return result
