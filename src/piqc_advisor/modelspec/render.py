"""Render a `spec validate` report as plain text, JSON or SARIF 2.1.0."""

from __future__ import annotations

import json
from typing import Any

from piqc_advisor import __version__
from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.findings import Finding
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.modelspec.validate import SpecReport
from piqc_advisor.reporters.sarif import LEVELS, SARIF_SCHEMA, _rule_entry
from piqc_advisor.terminal import dump_json


def _where(path: str, line: int | None, col: int | None) -> str:
    text = path
    if line is not None:
        text += f":{line}"
        if col is not None:
            text += f":{col}"
    return text


def finding_line(finding: Finding) -> str:
    e = finding.evidence
    return (
        f"{_where(e.path, e.line, e.col)}: {finding.severity} {finding.item} "
        f"[{finding.rule}] {finding.message}"
    )


def render_table(report: SpecReport) -> str:
    lines: list[str] = []
    for finding in report.findings:
        lines.append(finding_line(finding))
    unknown = report.unknown()
    if unknown:
        if lines:
            lines.append("")
        lines.append("could not tell (unknown, never a pass):")
        for outcome in unknown:
            lines.append(f"  {outcome.subject} {outcome.rule} ({outcome.item}): {outcome.reason}")
    counts = report.severity_counts()
    shown = ", ".join(f"{n} {sev}" for sev, n in counts.items() if n)
    if lines:
        lines.append("")
    lines.append(
        f"{len(report.subjects)} spec(s), {len(report.findings)} finding(s)"
        + (f" ({shown})" if shown else "")
        + f", {len(unknown)} unknown, {len(report.problems)} input problem(s); "
        + f"{len(report.failing())} at or above {report.fail_on}"
    )
    return "\n".join(lines) + "\n"


def render_json(report: SpecReport) -> str:
    return dump_json(report.to_json())


def _location(path: str, line: int | None, col: int | None) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(line or 1, 1)}
    if col is not None:
        region["startColumn"] = max(col, 1)
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path.replace("\\", "/")},
            "region": region,
        }
    }


def _notification(problem: Problem) -> dict[str, Any]:
    return {
        "level": "error" if problem.severity == "error" else "warning",
        "message": {"text": f"{problem.message} [{problem.code}]"},
        "locations": [_location(problem.path, problem.line, problem.col)],
        "descriptor": {"id": problem.code},
    }


def render_sarif(report: SpecReport, catalog: Catalog) -> str:
    """One run; findings are results (ruleId = item), input problems are notifications."""
    item_ids = sorted({f.item for f in report.findings})
    index = {item_id: i for i, item_id in enumerate(item_ids)}
    results = []
    for finding in report.findings:
        location = _location(finding.evidence.path, finding.evidence.line, finding.evidence.col)
        location["logicalLocations"] = [{"name": finding.subject, "kind": "resource"}]
        results.append(
            {
                "ruleId": finding.item,
                "ruleIndex": index[finding.item],
                "level": LEVELS.get(finding.severity, "warning"),
                "message": {"text": f"{finding.message} [{finding.rule}]"},
                "locations": [location],
                "partialFingerprints": {"piqcFindingHash/v1": finding.fingerprint},
                "properties": {
                    "rule": finding.rule,
                    "subject": finding.subject,
                    "severity": finding.severity,
                },
            }
        )
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "piqc-advisor",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/paralleliq/piqc-knowledge-base",
                        "rules": [_rule_entry(catalog, item_id) for item_id in item_ids],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not report.input_errors,
                        "toolExecutionNotifications": [_notification(p) for p in report.problems],
                    }
                ],
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
