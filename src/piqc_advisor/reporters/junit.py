"""JUnit XML for CI test reports: one suite per item area, one test case per checked pair."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from piqc_advisor.findings import SEVERITY_ORDER, Finding, RuleOutcome
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.report import Report

# Characters XML 1.0 cannot carry at all, escaped or not; manifest text may still hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
INPUTS_SUITE = "inputs"


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass
class _Case:
    """What the report says about one (item, subject) pair."""

    item: str
    subject: str
    outcomes: list[RuleOutcome]
    open: list[Finding]
    waived: list[Finding]


def _cases(report: Report) -> dict[tuple[str, str], _Case]:
    cases: dict[tuple[str, str], _Case] = {}
    for outcome in report.outcomes:
        key = (outcome.item, outcome.subject)
        case = cases.setdefault(key, _Case(outcome.item, outcome.subject, [], [], []))
        case.outcomes.append(outcome)
    for finding in report.findings:
        key = (finding.item, finding.subject)
        case = cases.setdefault(key, _Case(finding.item, finding.subject, [], [], []))
        (case.waived if finding.waived else case.open).append(finding)
    return cases


def _evidence_line(finding: Finding) -> str:
    where = finding.evidence
    return f"{where.path}:{where.line}:{where.col} [{finding.rule}] {finding.message}"


def _verdict(case: _Case, report: Report) -> tuple[str, str, str] | None:
    """(element, message, body) for a case that did not plainly pass; None when it passed."""
    if case.open:
        ordered = sorted(case.open, key=Finding.sort_key)
        first = ordered[0]
        message = (
            first.message if len(ordered) == 1 else f"{len(ordered)} findings: {first.message}"
        )
        body = "\n".join(_evidence_line(f) for f in ordered)
        return "failure", message, f"{body}\nfix: {first.remediation}"
    status = report.items.get(case.item)
    if status is not None and status.status == "manual":
        return "skipped", f"manual: {status.reason}", ""
    if case.waived:
        reasons = sorted({f.waived_by or "" for f in case.waived})
        return "skipped", f"waived: {'; '.join(reasons)}", ""
    errors = [o for o in case.outcomes if o.outcome == "error"]
    if errors:
        text = "\n".join(f"{o.rule}: {o.reason}" for o in errors)
        return "error", f"rule error: {errors[0].rule}: {errors[0].reason}", text
    unknown = [o for o in case.outcomes if o.outcome == "unknown"]
    if unknown:
        return "skipped", f"unknown: {unknown[0].rule}: {unknown[0].reason}", ""
    if case.outcomes and all(o.outcome == "not_applicable" for o in case.outcomes):
        return "skipped", f"not applicable: {case.outcomes[0].reason or 'no reason given'}", ""
    if any(o.outcome == "failed" for o in case.outcomes):
        # Failed, yet no finding is reported: a baseline run leaves out the known ones.
        return "skipped", "failed, but its findings are not reported (known from a baseline)", ""
    return None


def _unique(name: str, seen: set[str]) -> str:
    candidate, n = name, 1
    while candidate in seen:
        n += 1
        candidate = f"{name} #{n}"
    seen.add(candidate)
    return candidate


def _suite(name: str, cases: Sequence[ET.Element]) -> ET.Element:
    suite = ET.Element("testsuite", name=_clean(name))
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("time", "0")
    suite.extend(cases)
    return suite


def render_junit(report: Report, catalog: Catalog) -> str:
    """JUnit XML with one `testsuite` per item area (each item lives in exactly one area).

    Areas rather than checklists: an item appears in many checklists, and suites per
    checklist would repeat its test cases and inflate the counts. A test case is one
    (item, subject) pair that at least one rule evaluated: a `failure` for open findings
    (message plus each finding's file:line:col), `error` for a rule that crashed, and
    `skipped` with the reason for waived, unknown, not-applicable or manual items and for
    findings a baseline hides. Items no rule checks (manual, or rules not selected) have no
    test case. Names are unique across the whole document (GitLab drops repeats). Input
    problems of severity error form a last suite named `inputs`.
    """
    seen: set[str] = set()
    by_area: dict[str, list[ET.Element]] = {}
    cases = sorted(_cases(report).values(), key=lambda c: (c.item, c.subject))
    for case in cases:
        item = catalog.items.get(case.item)
        area = item.area if item is not None else case.item.split("-", 1)[0]
        title = item.title if item is not None else case.item
        name = _unique(f"{case.item} {title} [{case.subject}]", seen)
        element = ET.Element("testcase", name=_clean(name), classname=f"{area}.{case.item}")
        element.set("time", "0")
        if case.open:
            element.set("file", _clean(min(case.open, key=Finding.sort_key).evidence.path))
        verdict = _verdict(case, report)
        if verdict is not None:
            tag, message, body = verdict
            child = ET.SubElement(element, tag, message=_clean(message))
            if tag == "failure":
                severities = [f.severity for f in case.open]
                child.set("type", min(severities, key=lambda s: SEVERITY_ORDER.get(s, 9)))
            if body:
                child.text = _clean(body)
        by_area.setdefault(area, []).append(element)
    root = ET.Element("testsuites", name="piqc-advisor")
    for area in sorted(by_area):
        known = catalog.areas.get(area)
        label = f"{area} {known.title}" if known is not None else area
        root.append(_suite(label, by_area[area]))
    problems: list[ET.Element] = []
    for problem in report.problems:
        if problem.severity != "error":
            continue
        where = problem.path if problem.line is None else f"{problem.path}:{problem.line}"
        element = ET.Element("testcase", name=_clean(_unique(f"{where} {problem.code}", seen)))
        element.set("classname", f"{INPUTS_SUITE}.{problem.code}")
        element.set("file", _clean(problem.path))
        element.set("time", "0")
        ET.SubElement(element, "error", message=_clean(problem.message), type=problem.code)
        problems.append(element)
    if problems:
        root.append(_suite(INPUTS_SUITE, problems))
    for counter in ("tests", "failures", "errors", "skipped"):
        root.set(counter, str(sum(int(s.get(counter, "0")) for s in root)))
    root.set("time", "0")
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
