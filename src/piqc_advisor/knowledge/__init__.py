"""The PIQC knowledge base as data: items, checklists, signals, playbooks and glossary."""

from piqc_advisor.knowledge.loader import KbProblem, KnowledgeError, builtin_catalog, load_catalog
from piqc_advisor.knowledge.model import Catalog, Checklist, Item

__all__ = [
    "Catalog",
    "Checklist",
    "Item",
    "KbProblem",
    "KnowledgeError",
    "builtin_catalog",
    "load_catalog",
]
