"""Every report format on the bundled example and on a clean manifest, against golden files."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from piqc_advisor import __version__
from piqc_advisor.findings import RuleOutcome
from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.pipeline import CheckOptions, check
from piqc_advisor.report import Report
from piqc_advisor.reporters.github import (
    MAX_PER_LEVEL,
    escape_data,
    escape_property,
    render_annotations,
    render_github,
)
from piqc_advisor.reporters.junit import render_junit
from piqc_advisor.reporters.markdown import render_markdown
from piqc_advisor.reporters.sarif import render_sarif
from piqc_advisor.reporters.text import render_text
from piqc_advisor.terminal import dump_json
from tests.golden_files import assert_golden

ROOT = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = ROOT / "src" / "piqc_advisor" / "schemas" / "report.schema.json"
CASES = {
    "example": "examples/vllm-llama-3.1-8b",
    "clean": "tests/fixtures/manifests/clean",
}
VERSION_MARK = "<version>"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return builtin_catalog()


def run_check(catalog: Catalog, path: str, **options: Any) -> Report:
    # The fixture and the example sit under the repository root: their paths stay relative.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return check(catalog, CheckOptions(paths=(path,), **options))


@pytest.fixture(scope="module")
def reports(catalog: Catalog) -> dict[str, Report]:
    return {name: run_check(catalog, path) for name, path in CASES.items()}


def _versionless(text: str, *pointers: tuple[str, ...]) -> str:
    """JSON text with the tool version at each pointer replaced by a mark, else unchanged."""
    document = json.loads(text)
    assert dump_json(document) == text, "the JSON is not in the canonical layout"
    for pointer in pointers:
        node = document
        for step in pointer[:-1]:
            node = node[int(step)] if isinstance(node, list) else node[step]
        expected = node[pointer[-1]]
        assert expected in (__version__, f"piqc-advisor {__version__}")
        node[pointer[-1]] = expected.replace(__version__, VERSION_MARK)
    return dump_json(document)


def test_clean_fixture_has_no_findings(reports: dict[str, Report]) -> None:
    clean = reports["clean"]
    assert clean.findings == ()
    assert clean.problems == ()
    assert clean.waiver_notes == ()
    assert clean.subjects


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_files(case: str, reports: dict[str, Report], catalog: Catalog) -> None:
    report = reports[case]
    annotations, summary = render_github(report, catalog)
    driver = ("runs", "0", "tool", "driver")
    outputs = {
        "table.txt": render_text(report),
        "report.json": _versionless(dump_json(report.to_json()), ("generator",)),
        "report.sarif": _versionless(
            render_sarif(report, catalog), (*driver, "version"), (*driver, "semanticVersion")
        ),
        "junit.xml": render_junit(report, catalog),
        "comment.md": render_markdown(report, catalog),
        "github-annotations.txt": annotations,
        "github-summary.md": summary,
    }
    for suffix, text in outputs.items():
        assert_golden(f"reporters/{case}.{suffix}", text)


def test_goldens_hold_no_version_except_the_mark() -> None:
    for path in sorted((ROOT / "tests" / "golden" / "reporters").iterdir()):
        text = path.read_text(encoding="utf-8")
        assert f"piqc-advisor {__version__}" not in text, path.name
        assert f'"version": "{__version__}"' not in text, path.name


# --- SARIF -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_sarif_is_valid_against_the_official_schema(
    case: str, reports: dict[str, Report], catalog: Catalog, reference_dir: Path
) -> None:
    schema = json.loads((reference_dir / "sarif" / "sarif-schema-2.1.0.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    document = json.loads(render_sarif(reports[case], catalog))
    errors = [e.message for e in validator_class(schema).iter_errors(document)]
    assert errors == []
    results = document["runs"][0]["results"]
    assert len(results) == len(reports[case].findings)


# --- JSON --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(
    ("path", "options"),
    [
        (CASES["example"], {}),
        (CASES["clean"], {}),
        (CASES["clean"], {"checklists": ("advisor-manifest-checks",)}),
        ("tests/fixtures/manifests/waivers", {}),
        ("tests/fixtures/manifests", {"fail_on": "medium"}),
    ],
)
def test_json_report_matches_its_schema(
    path: str,
    options: dict[str, Any],
    catalog: Catalog,
    report_validator: jsonschema.Draft202012Validator,
) -> None:
    document = json.loads(dump_json(run_check(catalog, path, **options).to_json()))
    errors = [f"{e.json_path}: {e.message}" for e in report_validator.iter_errors(document)]
    assert errors == []


def test_report_schema_is_strict(
    reports: dict[str, Report], report_validator: jsonschema.Draft202012Validator
) -> None:
    document = json.loads(dump_json(reports["example"].to_json()))
    document["findings"][0]["surprise"] = 1
    assert not report_validator.is_valid(document)
    document = json.loads(dump_json(reports["example"].to_json()))
    document["summary"]["by_severity"]["urgent"] = 1
    assert not report_validator.is_valid(document)


# --- JUnit -------------------------------------------------------------------------------


def _junit_checks(text: str) -> ET.Element:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    cases = list(root.iter("testcase"))
    names = [c.get("name") for c in cases]
    assert len(names) == len(set(names)), "testcase names must be unique"
    totals = Counter[str]()
    for suite in root.findall("testsuite"):
        members = suite.findall("testcase")
        counted = {
            "tests": len(members),
            "failures": sum(1 for c in members if c.find("failure") is not None),
            "errors": sum(1 for c in members if c.find("error") is not None),
            "skipped": sum(1 for c in members if c.find("skipped") is not None),
        }
        for key, value in counted.items():
            assert suite.get(key) == str(value), (suite.get("name"), key)
            totals[key] += value
    for key in ("tests", "failures", "errors", "skipped"):
        assert root.get(key) == str(totals[key])
    return root


def test_junit_has_one_case_per_evaluated_pair(
    reports: dict[str, Report], catalog: Catalog
) -> None:
    for report in reports.values():
        root = _junit_checks(render_junit(report, catalog))
        pairs = {(o.item, o.subject) for o in report.outcomes}
        assert root.get("tests") == str(len(pairs))
        failing_pairs = {(f.item, f.subject) for f in report.open_findings}
        assert root.get("failures") == str(len(failing_pairs))


def test_junit_failure_names_evidence(reports: dict[str, Report], catalog: Catalog) -> None:
    root = _junit_checks(render_junit(reports["example"], catalog))
    failure = next(
        c for c in root.iter("testcase") if c.get("name", "").startswith("K8S-902 ")
    ).find("failure")
    assert failure is not None
    assert failure.get("type") == "medium"
    body = failure.text or ""
    assert "examples/vllm-llama-3.1-8b/deployment.yaml:67:" in body
    assert "examples/vllm-llama-3.1-8b/deployment.yaml:72:" in body


def test_junit_skips_with_reasons_and_escapes(reports: dict[str, Report], catalog: Catalog) -> None:
    report = reports["example"]
    subject = report.subjects[0]
    nasty = 'tag <b>&"quoted"\x01 end'
    findings = list(report.findings)
    findings[0] = replace(findings[0], message=nasty)
    waived_item = findings[-1].item
    findings = [
        replace(f, waived_by="config: accepted risk") if f.item == waived_item else f
        for f in findings
    ]
    # Two items that passed: one becomes unknown, the other meets a crashing rule.
    outcomes = [
        *(o for o in report.outcomes if o.item not in ("K8S-001", "K8S-002")),
        RuleOutcome("made-up-unknown", "K8S-001", subject, "unknown", "no GPU type"),
        RuleOutcome("made-up-error", "K8S-002", subject, "error", "KeyError: 'x'"),
    ]
    changed = replace(report, findings=tuple(findings), outcomes=tuple(outcomes))
    root = _junit_checks(render_junit(changed, catalog))
    by_item = {c.get("classname", "").split(".")[1]: c for c in root.iter("testcase")}
    skipped = by_item[waived_item].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "waived: config: accepted risk"
    unknown = by_item["K8S-001"].find("skipped")
    assert unknown is not None
    assert unknown.get("message") == "unknown: made-up-unknown: no GPU type"
    error = by_item["K8S-002"].find("error")
    assert error is not None
    assert "KeyError" in (error.get("message") or "")
    not_applicable = by_item["K8S-008"].find("skipped")
    assert not_applicable is not None
    assert (not_applicable.get("message") or "").startswith("not applicable: ")
    escaped = by_item[findings[0].item].find("failure")
    assert escaped is not None
    assert escaped.get("message") == nasty.replace("\x01", "\ufffd")


def test_junit_with_nothing_evaluated(catalog: Catalog, reports: dict[str, Report]) -> None:
    empty = replace(reports["clean"], outcomes=(), subjects=())
    root = _junit_checks(render_junit(empty, catalog))
    assert root.get("tests") == "0"


# --- Markdown ----------------------------------------------------------------------------

SEVERITIES = ("critical", "high", "medium", "low", "info")


def _many_findings(report: Report, count: int) -> Report:
    base = report.findings
    findings = tuple(
        replace(
            base[i % len(base)],
            severity=SEVERITIES[i % len(SEVERITIES)],
            key=f"synthetic-{i}",
            message=f"synthetic finding {i}: {base[i % len(base)].message}",
        )
        for i in range(count)
    )
    return replace(report, findings=tuple(sorted(findings, key=lambda f: f.sort_key())))


@pytest.mark.parametrize("limit", [65_536, 20_000, 3_000])
def test_markdown_truncates_least_severe_first(
    limit: int, reports: dict[str, Report], catalog: Catalog
) -> None:
    big = _many_findings(reports["example"], 5_000)
    text = render_markdown(big, catalog, limit=limit)
    assert len(text) <= limit
    match = re.search(r"^(\d+) more findings not shown; see the SARIF/JSON report\.$", text, re.M)
    assert match is not None
    rows = [
        line
        for line in text.splitlines()
        if re.match(r"^\| (critical|high|medium|low|info) \|", line)
    ]
    assert rows, "some findings must still be shown"
    assert len(rows) + int(match.group(1)) == 5_000
    shown = [line.split(" | ")[0].removeprefix("| ") for line in rows]
    ranks = [SEVERITIES.index(s) for s in shown]
    assert ranks == sorted(ranks)
    assert ranks[0] == 0
    assert "coverage:" in text


def test_markdown_fits_when_even_the_readiness_view_does_not(
    reports: dict[str, Report], catalog: Catalog
) -> None:
    big = _many_findings(reports["example"], 50)
    for limit in (900, 400, 50):
        assert len(render_markdown(big, catalog, limit=limit)) <= limit


def test_markdown_escapes_manifest_text(reports: dict[str, Report], catalog: Catalog) -> None:
    report = reports["example"]
    first = replace(report.findings[0], message="a | b <script> @octocat [x](y) `z`\nnext")
    text = render_markdown(replace(report, findings=(first,)), catalog)
    row = next(line for line in text.splitlines() if line.startswith("| high |"))
    assert row.count(" | ") == 3
    assert "<script>" not in text
    assert "@octocat" not in text
    assert "\\[x\\](y)" in row


def test_markdown_verdict(reports: dict[str, Report], catalog: Catalog) -> None:
    assert "**FAIL** (fail-on high: 8 finding(s)" in render_markdown(reports["example"], catalog)
    assert "**PASS**" in render_markdown(reports["clean"], catalog)
    relaxed = replace(reports["example"], fail_on="critical")
    assert "**PASS** (fail-on critical" in render_markdown(relaxed, catalog)


# --- GitHub ------------------------------------------------------------------------------

ANNOTATION = re.compile(r"^::(error|warning|notice)( [^:]*)?::(.*)$")


def test_github_annotations_respect_the_per_level_limit(
    reports: dict[str, Report], catalog: Catalog
) -> None:
    big = _many_findings(reports["example"], 5_000)
    annotations, summary = render_github(big, catalog)
    lines = annotations.splitlines()
    assert all(ANNOTATION.match(line) for line in lines)
    levels = Counter(line.split(" ", 1)[0].strip(":") for line in lines)
    assert all(n <= MAX_PER_LEVEL for n in levels.values()), levels
    assert lines[-1].startswith("::notice title=piqc-advisor::")
    hidden = int(lines[-1].split("::")[2].split(" ")[0])
    assert hidden + len(lines) - 1 == 5_000
    errors = [line for line in lines if line.startswith("::error ")]
    assert all("[critical]" in e for e in errors), "the most severe come first"
    assert summary == render_markdown(big, catalog)


def test_github_annotations_without_overflow_have_no_summary_notice(
    reports: dict[str, Report],
) -> None:
    lines = render_annotations(reports["example"]).splitlines()
    assert len(lines) == len(reports["example"].open_findings)
    assert not any("title=piqc-advisor::" in line for line in lines)
    assert render_annotations(reports["clean"]) == ""


def test_github_escaping() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"


def test_github_annotation_properties_are_escaped(reports: dict[str, Report]) -> None:
    report = reports["example"]
    finding = report.findings[0]
    odd = replace(
        finding,
        title="Title, with: colon",
        message="100% sure\nsecond line",
        evidence=replace(finding.evidence, path="dir,with:odd/file.yaml"),
    )
    line = render_annotations(replace(report, findings=(odd,)))
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert "file=dir%2Cwith%3Aodd/file.yaml," in line
    assert "Title%2C with%3A colon::" in line
    assert "::100%25 sure%0Asecond line" in line
