"""GitHub Actions output: workflow-command annotations and the job-summary Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from piqc_advisor.findings import Finding
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.report import Report
from piqc_advisor.reporters.markdown import render_markdown

LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "notice",
    "info": "notice",
}
LEVEL_ORDER = ("error", "warning", "notice")
# GitHub keeps at most this many annotations of each level from one step.
MAX_PER_LEVEL = 10


def escape_data(text: str) -> str:
    """Escape a workflow-command message the way the Actions toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value: data escapes plus ':' and ','."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, **properties: str | int) -> str:
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items())
    return f"::{level}{' ' + props if props else ''}::{escape_data(message)}\n"


def _finding_line(finding: Finding) -> str:
    where = finding.evidence
    return annotation(
        LEVELS.get(finding.severity, "warning"),
        f"{finding.message}\n\nFix: {finding.remediation}\n({finding.rule} on {finding.subject})",
        file=where.path.replace("\\", "/"),
        line=max(where.line, 1),
        col=max(where.col, 1),
        title=f"{finding.item} [{finding.severity}] {finding.title}",
    )


def _select(findings: Sequence[Finding]) -> tuple[dict[str, list[Finding]], int]:
    """The most severe findings of each level that fit GitHub's limits, and how many do not.

    When some are left out, one notice slot is kept for the line that counts them.
    """
    by_level: dict[str, list[Finding]] = {level: [] for level in LEVEL_ORDER}
    for finding in sorted(findings, key=Finding.sort_key):
        by_level[LEVELS.get(finding.severity, "warning")].append(finding)
    overflow = any(len(group) > MAX_PER_LEVEL for group in by_level.values())
    kept = {
        level: group[: MAX_PER_LEVEL - 1 if overflow and level == "notice" else MAX_PER_LEVEL]
        for level, group in by_level.items()
    }
    hidden = len(findings) - sum(len(group) for group in kept.values())
    return kept, hidden


def render_annotations(report: Report) -> str:
    """One `::error`/`::warning`/`::notice` line per open finding, within GitHub's limits."""
    kept, hidden = _select(report.open_findings)
    lines = [_finding_line(f) for level in LEVEL_ORDER for f in kept[level]]
    if hidden:
        lines.append(
            annotation(
                "notice",
                f"{hidden} more findings are not annotated (GitHub shows at most "
                f"{MAX_PER_LEVEL} annotations of each level per step); "
                "see the job summary or the SARIF/JSON report.",
                title="piqc-advisor",
            )
        )
    return "".join(lines)


def render_github(report: Report, catalog: Catalog) -> tuple[str, str]:
    """(annotations for standard output, Markdown for $GITHUB_STEP_SUMMARY)."""
    return render_annotations(report), render_markdown(report, catalog)
