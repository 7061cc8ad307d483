"""Read ModelSpec documents from files, directories and standard input, with problems."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from piqc_advisor.collectors.inputs import DEFAULT_MAX_FILE_BYTES, discover
from piqc_advisor.collectors.yaml_source import Document, LocatedMap, Problem, parse_documents
from piqc_advisor.modelspec.facts import DeclaredSpec, declared_spec, is_modelspec


@dataclass(frozen=True)
class SpecDocument:
    """A ModelSpec document as parsed (for the schema) and as typed facts."""

    document: Document
    spec: DeclaredSpec


@dataclass(frozen=True)
class SpecInputs:
    documents: tuple[SpecDocument, ...]
    problems: tuple[Problem, ...]
    inputs: tuple[str, ...]
    skipped: int = 0

    @property
    def specs(self) -> tuple[DeclaredSpec, ...]:
        return tuple(d.spec for d in self.documents)


def specs_from_documents(
    documents: Sequence[Document],
) -> tuple[list[SpecDocument], int]:
    """The ModelSpec documents among parsed documents, and how many others were skipped."""
    found: list[SpecDocument] = []
    skipped = 0
    for document in documents:
        if isinstance(document.data, LocatedMap) and is_modelspec(document.data):
            found.append(
                SpecDocument(document, declared_spec(document.data, document.path, document.index))
            )
        else:
            skipped += 1
    return found, skipped


def read_specs(
    paths: Sequence[str], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, strict: bool = True
) -> SpecInputs:
    """Read every ModelSpec in the inputs.

    A file named directly (or standard input) must hold only ModelSpec documents when
    `strict` is set; other documents there are `not-a-modelspec` errors. Files found by walking
    a directory may hold anything: their other documents are skipped.
    """
    documents: list[SpecDocument] = []
    problems: list[Problem] = []
    inputs: list[str] = []
    skipped = 0
    seen: set[str] = set()
    for given in paths:
        named = given == "-" or not os.path.isdir(given)
        for item in discover([given], max_file_bytes):
            if isinstance(item, Problem):
                problems.append(item)
                continue
            if item.path in seen:
                continue
            seen.add(item.path)
            parsed, trouble = parse_documents(item.text, item.path)
            problems.extend(trouble)
            found, others = specs_from_documents(parsed)
            if found or named:
                inputs.append(item.path)
            documents.extend(found)
            if named and strict and not parsed and not trouble:
                problems.append(
                    Problem(item.path, None, None, "error", "not-a-modelspec", "no document found")
                )
            if named and strict:
                for document in parsed:
                    if isinstance(document.data, LocatedMap) and is_modelspec(document.data):
                        continue
                    problems.append(
                        Problem(
                            item.path,
                            document.line,
                            None,
                            "error",
                            "not-a-modelspec",
                            f"document {document.index + 1} is not a ModelSpec "
                            "(expected apiVersion: piqc.ai/v1alpha1 and kind: ModelSpec)",
                        )
                    )
            else:
                skipped += others
    return SpecInputs(tuple(documents), tuple(problems), tuple(inputs), skipped)
