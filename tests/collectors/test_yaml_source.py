from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from piqc_advisor.collectors.yaml_source import (
    MAX_DEPTH,
    Document,
    LocatedList,
    LocatedMap,
    Problem,
    parse_documents,
    position_of,
    value_position,
)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.27
          args: ["--port", "8080"]
          command:
            - sh
            - -c
"""


def parse(text: str) -> tuple[list[Document], list[Problem]]:
    return parse_documents(text, "m.yaml")


def only(text: str) -> Document:
    docs, problems = parse(text)
    assert problems == []
    assert len(docs) == 1
    return docs[0]


# --------------------------------------------------------------------------- positions


def test_positions_of_keys_items_and_values() -> None:
    doc = only(DEPLOYMENT)
    data = doc.data
    assert isinstance(data, LocatedMap)
    assert (doc.line, data.line, data.col) == (1, 1, 1)
    assert position_of(data, "kind") == (2, 1)
    assert value_position(data, "kind") == (2, 7)
    spec = data["spec"]
    assert position_of(spec, "replicas") == (6, 3)
    assert value_position(spec, "replicas") == (6, 13)
    containers = spec["template"]["spec"]["containers"]
    assert isinstance(containers, LocatedList)
    assert (containers.line, containers.col) == (10, 9)
    assert position_of(containers, 0) == (10, 11)
    container = containers[0]
    assert position_of(container, "image") == (11, 11)
    args = container["args"]
    assert (args.line, args.col) == (12, 17)
    assert args.item_lines == [(12, 18), (12, 28)]
    assert value_position(container, "args") == (12, 17)
    assert value_position(container["command"], 1) == (15, 15)


def test_located_containers_are_plain_data() -> None:
    data = only(DEPLOYMENT).data
    expected = yaml.safe_load(DEPLOYMENT)
    assert data == expected
    assert isinstance(data, dict)
    assert isinstance(data["spec"]["template"]["spec"]["containers"], list)
    assert json.loads(json.dumps(data)) == expected


def test_value_position_of_multiline_block_scalar() -> None:
    text = "data:\n  script: |\n    echo one\n    echo two\n  other: x\n"
    data = only(text).data["data"]
    assert data["script"] == "echo one\necho two\n"
    assert position_of(data, "script") == (2, 3)
    assert value_position(data, "script") == (2, 11)
    assert position_of(data, "other") == (5, 3)


def test_position_of_list_needs_an_index() -> None:
    data = only("- a\n- b\n").data
    with pytest.raises(TypeError):
        position_of(data, "0")


KEY = st.text(alphabet="abcdefghij", min_size=1, max_size=6).map(lambda s: "k" + s)
SCALAR = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.none(),
    st.text(alphabet="abcdefghij", min_size=1, max_size=8).map(lambda s: "v" + s),
)
TREE = st.recursive(
    SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEY, children, max_size=4),
    ),
    max_leaves=25,
)
DOCUMENT = st.dictionaries(KEY, TREE, min_size=1, max_size=5)


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _first_line(value: Any) -> str:
    return yaml.safe_dump(value).splitlines()[0]


@settings(max_examples=150, deadline=None)
@given(
    docs=st.lists(DOCUMENT, min_size=1, max_size=4),
    noise=st.lists(st.sampled_from(["", "# a comment", "   ", "#"]), max_size=30),
    spots=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_recorded_positions_point_at_the_text(
    docs: list[dict[str, Any]], noise: list[str], spots: list[int]
) -> None:
    lines: list[str] = []
    for number, source in enumerate(docs):
        if number:
            lines.append("---")
        lines.extend(yaml.safe_dump(source, width=10**9, sort_keys=False).splitlines())
    for filler, spot in zip(noise, spots, strict=False):
        lines.insert(spot % (len(lines) + 1), filler)
    text = "\n".join(lines) + "\n"
    parsed, problems = parse(text)
    assert problems == []
    assert [d.data for d in parsed] == docs
    assert [d.index for d in parsed] == list(range(len(docs)))
    for doc in parsed:
        assert isinstance(doc.data, LocatedMap)
        assert lines[doc.line - 1].startswith(next(iter(doc.data)))
        for node in _walk(doc.data):
            if isinstance(node, LocatedMap):
                for key in node:
                    line, col = position_of(node, key)
                    assert lines[line - 1][col - 1 :].startswith(key + ":")
                    value = node[key]
                    if not isinstance(value, dict | list):
                        line, col = value_position(node, key)
                        assert lines[line - 1][col - 1 :].startswith(_first_line(value))
            elif isinstance(node, LocatedList):
                assert len(node.item_lines) == len(node)
                for index, item in enumerate(node):
                    line, col = position_of(node, index)
                    if not isinstance(item, dict | list):
                        assert lines[line - 1][col - 1 :].startswith(_first_line(item))


# --------------------------------------------------------------------------- documents


def test_broken_middle_document_keeps_the_others() -> None:
    text = "kind: A\nx: 1\n---\nkind: B\ny: [1, 2\n---\n# c\nkind: C\n"
    docs, problems = parse(text)
    assert [(d.index, d.line, d.data) for d in docs] == [
        (0, 1, {"kind": "A", "x": 1}),
        (2, 8, {"kind": "C"}),
    ]
    assert position_of(docs[1].data, "kind") == (8, 1)
    assert problems == [
        Problem(
            "m.yaml",
            6,
            1,
            "error",
            "yaml-syntax",
            "could not parse YAML: did not find expected ',' or ']'",
        )
    ]


def test_empty_documents_are_skipped() -> None:
    docs, problems = parse("---\n---\n\n---\n# only a comment\n---\na: 1\n...\n")
    assert problems == []
    assert [(d.index, d.line, d.data) for d in docs] == [(0, 7, {"a": 1})]
    assert parse("") == ([], [])
    assert parse("\n\n# nothing\n") == ([], [])


def test_document_marker_with_content_and_document_end() -> None:
    docs, problems = parse("--- |\n  text\n--- 5\n...\ny: 2\n")
    assert problems == []
    assert [(d.index, d.line, d.data) for d in docs] == [
        (0, 1, "text\n"),
        (1, 3, 5),
        (2, 5, {"y": 2}),
    ]
    assert docs[1].data == 5


def test_three_dashes_inside_a_value_is_not_a_separator() -> None:
    doc = only("a: x---y\nb: '--- not a marker'\n---c: 1\n")
    assert doc.data == {"a": "x---y", "b": "--- not a marker", "---c": 1}


def test_yaml_directive() -> None:
    docs, problems = parse("%YAML 1.1\n---\na: 1\n---\nb: 2\n")
    assert problems == []
    assert [(d.line, d.data) for d in docs] == [(3, {"a": 1}), (5, {"b": 2})]


def test_crlf_line_endings() -> None:
    doc = only("a: 1\r\nb:\r\n  - x\r\n  - y\r\nc: |\r\n  one\r\n  two\r\n")
    assert doc.data == {"a": 1, "b": ["x", "y"], "c": "one\ntwo\n"}
    assert position_of(doc.data, "c") == (5, 1)
    assert doc.data["b"].item_lines == [(3, 5), (4, 5)]


def test_byte_order_mark_is_ignored() -> None:
    doc = only("\ufeffa: 1\nb: 2\n")
    assert doc.data == {"a": 1, "b": 2}
    assert position_of(doc.data, "a") == (1, 1)


def test_tab_after_value_and_trailing_spaces_are_accepted() -> None:
    doc = only("replicas: 1\t\nname: web   \nport: 80\t# http\n")
    assert doc.data == {"replicas": 1, "name": "web", "port": 80}


def test_tab_indentation_is_a_problem_with_its_line() -> None:
    docs, problems = parse("a: 1\nb:\n\tc: 2\n")
    assert docs == []
    assert problems == [
        Problem(
            "m.yaml",
            3,
            1,
            "error",
            "yaml-syntax",
            "could not parse YAML: found character '\\t' that cannot start any token",
        )
    ]


def test_unrendered_helm_placeholder_as_value() -> None:
    docs, problems = parse("kind: A\n---\nspec:\n  image: {{ .Values.image }}\n")
    assert [d.data for d in docs] == [{"kind": "A"}]
    assert problems == [
        Problem(
            "m.yaml",
            4,
            11,
            "error",
            "yaml-syntax",
            "unrendered template placeholder '{{ .Values.image }}': render the chart "
            "(for example with `helm template`) before scanning",
        )
    ]


def test_unrendered_helm_placeholder_that_breaks_the_syntax() -> None:
    docs, problems = parse("metadata:\n  name: {{ .Release.Name }}-web\n")
    assert docs == []
    assert problems == [
        Problem(
            "m.yaml",
            2,
            28,
            "error",
            "yaml-syntax",
            "could not parse YAML: did not find expected key (unrendered template placeholder "
            "'{{ .Release.Name }}': render the chart (for example with `helm template`) "
            "before scanning)",
        )
    ]


def test_mapping_key_that_is_a_map_without_placeholder() -> None:
    docs, problems = parse("? {a: 1}\n: x\n")
    assert docs == []
    assert problems == [
        Problem("m.yaml", 1, 3, "error", "yaml-syntax", "a mapping key is a map, not a string")
    ]


def test_helm_source_comments_map_lines_to_templates() -> None:
    text = (
        "---\n"
        "# Source: chart/templates/service.yaml\n"
        "apiVersion: v1\n"
        "kind: Service\n"
        "---\n"
        "# Source: chart/templates/deployment.yaml\n"
        "# another comment\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "spec:\n"
        "  replicas: 3\n"
        "---\n"
        "kind: Plain\n"
    )
    docs, problems = parse(text)
    assert problems == []
    assert [(d.template, d.template_line_offset, d.line) for d in docs] == [
        ("chart/templates/service.yaml", 2, 3),
        ("chart/templates/deployment.yaml", 6, 8),
        (None, 0, 13),
    ]
    deployment = docs[1]
    line, _ = position_of(deployment.data["spec"], "replicas")
    assert line - deployment.template_line_offset == 5


def test_source_comment_further_down_is_not_a_template() -> None:
    doc = only("a: 1\n# Source: chart/templates/x.yaml\nb: 2\n")
    assert doc.template is None
    assert doc.template_line_offset == 0


# --------------------------------------------------------------------------- values


def test_scalars_follow_yaml_1_1() -> None:
    text = (
        "int: 42\nneg: -7\nhex: 0x1F\noctal: 0755\noctal_o: 0o17\nunder: 1_000\n"
        "sexa: 1:30\nfloat: 1.5\nexp: 6.02e+23\ninf: -.inf\nnan: .nan\n"
        "t: true\nyes: yes\noff: off\nOn: On\nnull: ~\nempty:\nnull2: null\n"
        "quoted: '1'\ndouble: \"true\"\nstamp: 2001-12-14\nstamp2: 2001-12-14t21:59:43.10-05:00\n"
        "tagged: !!int '42'\nstr_tag: !!str 42\ncustom: !Thing foo\nversion: 1.10\n"
        "1: numeric key\ntrue: bool key\n~: null key\nplain: hello world\n"
    )
    data = only(text).data
    nan = data.pop("nan")
    assert math.isnan(nan)
    assert data == {
        "int": 42,
        "neg": -7,
        "hex": 31,
        "octal": 493,
        "octal_o": 15,
        "under": 1000,
        "sexa": 90,
        "float": 1.5,
        "exp": 6.02e23,
        "inf": -math.inf,
        "t": True,
        "yes": True,
        "off": False,
        "On": True,
        "null": None,
        "empty": None,
        "null2": None,
        "quoted": "1",
        "double": "true",
        "stamp": "2001-12-14",
        "stamp2": "2001-12-14t21:59:43.10-05:00",
        "tagged": 42,
        "str_tag": "42",
        "custom": "foo",
        "version": 1.1,
        "1": "numeric key",
        "true": "bool key",
        "~": "null key",
        "plain": "hello world",
    }


def test_scalars_agree_with_safe_load() -> None:
    values = ["0", "+12", "-0x10", "0b101", "1_0.5", "+.INF", "NO", "Off", "y", "NULL", "1e3"]
    for raw in values:
        expected = yaml.safe_load(f"v: {raw}\n")["v"]
        assert only(f"v: {raw}\n").data["v"] == expected, raw


def test_bad_explicit_tag_value_is_a_problem() -> None:
    docs, problems = parse("a: !!int abc\n")
    assert docs == []
    assert problems == [
        Problem("m.yaml", 1, 4, "error", "yaml-syntax", "could not read 'abc' as a YAML int")
    ]


def test_control_character_is_a_problem() -> None:
    docs, problems = parse("a: 1\nb: x\x07y\n")
    assert docs == []
    assert problems == [
        Problem(
            "m.yaml",
            2,
            5,
            "error",
            "yaml-syntax",
            "could not parse YAML: character '\\x07' is not allowed "
            "(control characters are not allowed)",
        )
    ]


def test_duplicate_keys_last_wins_with_a_warning() -> None:
    docs, problems = parse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert docs[0].data == {"a": 3, "b": {"c": 2}}
    assert position_of(docs[0].data, "a") == (5, 1)
    assert problems == [
        Problem(
            "m.yaml",
            4,
            3,
            "warning",
            "duplicate-key",
            "duplicate key 'c' (first at line 3); the last value wins, as with kubectl",
        ),
        Problem(
            "m.yaml",
            5,
            1,
            "warning",
            "duplicate-key",
            "duplicate key 'a' (first at line 1); the last value wins, as with kubectl",
        ),
    ]


def test_merge_keys() -> None:
    text = (
        "base: &base\n  x: 1\n  y: 2\nmore: &more\n  z: 9\n  x: 8\n"
        "one:\n  <<: *base\n  y: 3\nmany:\n  <<: [*base, *more]\n"
    )
    data = only(text).data
    assert data["one"] == {"x": 1, "y": 3}
    assert position_of(data["one"], "y") == (9, 3)
    assert position_of(data["one"], "x") == (2, 3)
    assert data["many"] == {"x": 1, "y": 2, "z": 9}
    assert data == yaml.safe_load(text)


def test_bad_merge_value_is_a_problem() -> None:
    docs, problems = parse("a:\n  <<: 5\n")
    assert docs == []
    assert problems == [
        Problem(
            "m.yaml", 2, 7, "error", "yaml-syntax", "a merge key '<<' needs a map or a list of maps"
        )
    ]


def test_aliases_share_values() -> None:
    data = only("a: &x {k: [1, 2]}\nb: *x\nc: *x\n").data
    assert data["a"] is data["b"] is data["c"]
    assert data["b"] == {"k": [1, 2]}


# --------------------------------------------------------------------------- limits


def _billion_laughs() -> str:
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_and_others_kept() -> None:
    text = "kind: A\n---\n" + _billion_laughs() + "---\nkind: C\n"
    started = time.perf_counter()
    docs, problems = parse(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert [(d.index, d.data) for d in docs] == [(0, {"kind": "A"}), (2, {"kind": "C"})]
    assert docs[1].line == 14
    assert [(p.code, p.severity, p.line) for p in problems] == [("alias-bomb", "error", 3)]
    assert problems[0].message == (
        "aliases expand this document to more than 100,000 nodes "
        "(a 'billion laughs' document); the document was not read"
    )


def test_moderate_alias_use_is_accepted() -> None:
    lines = ["a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"b{i}: *a" for i in range(500)]
    doc = only("\n".join(lines) + "\n")
    assert doc.data["b499"] == list(range(1, 11))


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    depth = MAX_DEPTH + 5
    lines = [" " * level + f"k{level}:" for level in range(depth)] + [" " * depth + "leaf"]
    text = "kind: A\n---\n" + "\n".join(lines) + "\n"
    docs, problems = parse(text)
    assert [d.data for d in docs] == [{"kind": "A"}]
    assert problems == [
        Problem(
            "m.yaml",
            MAX_DEPTH + 4,
            MAX_DEPTH + 2,
            "error",
            "too-deep",
            f"nesting deeper than {MAX_DEPTH} levels; the document was not read",
        )
    ]


def test_nesting_at_the_limit_is_accepted() -> None:
    text = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    data = only(text).data
    depth = 0
    value = data["a"]
    while value:
        value = value[0]
        depth += 1
    assert depth == MAX_DEPTH - 1


def test_extreme_flow_nesting_is_refused_without_recursion_error() -> None:
    docs, problems = parse("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert docs == []
    assert [(p.code, p.line) for p in problems] == [("too-deep", 1)]


# --------------------------------------------------------------------------- JSON


def test_json_is_yaml() -> None:
    doc = only('{\n  "kind": "Pod",\n  "spec": {"containers": [{"name": "a"}]}\n}\n')
    assert doc.data == {"kind": "Pod", "spec": {"containers": [{"name": "a"}]}}
    assert position_of(doc.data, "spec") == (3, 3)


def test_json_that_yaml_rejects_falls_back_with_positions() -> None:
    text = '\t{\n\t"kind": "ConfigMap",\n\t"data": {\n\t\t"smile": "\\ud83d\\ude00",\n\t\t"n": [1,\n\t\t2]\n\t}\n}\n'
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)
    doc = only(text)
    assert doc.data == json.loads(text)
    assert doc.data["data"]["smile"] == "\U0001f600"
    assert (doc.line, doc.data.col) == (1, 2)
    assert position_of(doc.data, "kind") == (2, 2)
    assert value_position(doc.data, "data") == (3, 10)
    assert position_of(doc.data["data"], "n") == (5, 3)
    assert doc.data["data"]["n"].item_lines == [(5, 9), (6, 3)]


def test_json_fallback_reports_duplicates() -> None:
    docs, problems = parse('\t{"a": 1,\n "a": 2}\n')
    assert docs[0].data == {"a": 2}
    assert [(p.code, p.line, p.col) for p in problems] == [("duplicate-key", 2, 2)]


def test_broken_json_reports_the_yaml_error() -> None:
    docs, problems = parse('\t{"a": 1,}\n')
    assert docs == []
    assert [(p.code, p.line, p.col) for p in problems] == [("yaml-syntax", 1, 1)]


def test_recursive_alias_is_refused_not_looped() -> None:
    docs, problems = parse("kind: A\n---\na: &a [1, *a]\n")
    assert [d.data for d in docs] == [{"kind": "A"}]
    assert [(p.code, p.line) for p in problems] == [("too-deep", 3)]
