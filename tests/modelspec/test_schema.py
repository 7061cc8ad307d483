"""The ModelSpec schema: shipped, printed, compatible with the reference schema (mutation tests)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from piqc_advisor.cli import main
from piqc_advisor.modelspec.schema import load_schema, schema_text

WRONG_VALUES: tuple[Any, ...] = ("text", 7, -1, 0, 1.5, True, None, [], {}, 70000, "bogus")


def _examples(reference_dir: Path) -> list[tuple[str, Any]]:
    folder = reference_dir / "modelspec" / "examples"
    return [(p.name, yaml.safe_load(p.read_text())) for p in sorted(folder.glob("*.yaml"))]


def _reference(reference_dir: Path) -> Draft202012Validator:
    data = json.loads((reference_dir / "modelspec" / "modelspec.v0.1.schema.json").read_text())
    return Draft202012Validator(data)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from _paths(child, (*prefix, index))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def _drop(doc: Any, path: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return out


def _mutations(doc: Any) -> Iterator[Any]:
    for path in _paths(doc):
        yield _drop(doc, path)
        for value in WRONG_VALUES:
            yield _set(doc, path, value)
        parent = path[:-1]
        target = doc
        for part in parent:
            target = target[part]
        if isinstance(target, dict):
            yield _set(doc, (*parent, "unexpectedKey"), "x")
    yield {**doc, "extra": 1}


def test_schema_is_draft_2020_12_and_valid() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://piqc.ai/schemas/piqc-advisor/modelspec-v1alpha1.schema.json"
    Draft202012Validator.check_schema(schema)


def test_spec_schema_prints_the_shipped_schema() -> None:
    result = CliRunner().invoke(main, ["spec", "schema"])
    assert result.exit_code == 0
    assert result.output == schema_text()
    assert json.loads(result.output) == load_schema()


def test_reference_examples_are_valid(reference_dir: Path) -> None:
    ours = Draft202012Validator(load_schema())
    examples = _examples(reference_dir)
    assert len(examples) == 9
    for name, doc in examples:
        assert list(ours.iter_errors(doc)) == [], name


def test_mutations_agree_with_the_reference(reference_dir: Path) -> None:
    ours = Draft202012Validator(load_schema())
    theirs = _reference(reference_dir)
    total = rejected = 0
    disagreements: list[str] = []
    for name, doc in _examples(reference_dir):
        for mutated in _mutations(doc):
            total += 1
            expected = theirs.is_valid(mutated)
            rejected += not expected
            if ours.is_valid(mutated) != expected:
                disagreements.append(f"{name}: {json.dumps(mutated)[:200]}")
    assert disagreements == []
    assert total == 3723
    assert rejected == 3198
