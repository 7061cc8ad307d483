"""The PIQC knowledge base as data: items, checklists, signals, playbooks and glossary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from piqc_advisor.knowledge.model import Catalog, Checklist, Item

if TYPE_CHECKING:
    from piqc_advisor.knowledge.loader import (
        KbProblem,
        KnowledgeError,
        builtin_catalog,
        load_catalog,
    )

_FROM_LOADER = frozenset({"KbProblem", "KnowledgeError", "builtin_catalog", "load_catalog"})


def __getattr__(name: str) -> Any:
    """Import the loader (and jsonschema) only when something loads the knowledge base."""
    if name in _FROM_LOADER:
        from piqc_advisor.knowledge import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Catalog",
    "Checklist",
    "Item",
    "KbProblem",
    "KnowledgeError",
    "builtin_catalog",
    "load_catalog",
]
