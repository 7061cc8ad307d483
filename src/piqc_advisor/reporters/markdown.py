"""Markdown for a pull-request comment or job summary, kept under a size limit."""

from __future__ import annotations

from piqc_advisor.findings import Finding
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.report import Report

GITHUB_COMMENT_LIMIT = 65_536
MAX_PROBLEMS_SHOWN = 10
TABLE_HEADER = "| Severity | Item | Location | Message |\n|---|---|---|---|\n"
_MARKDOWN_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "|": "\\|",
        "~": "\\~",
        "@": "@&#8203;",  # a zero-width space keeps "@name" from pinging anyone
        "\r": " ",
        "\n": " ",
    }
)


def escape_markdown(text: str) -> str:
    """Text from manifests, inert in a table cell: no markup, no HTML, no mentions."""
    return text.translate(_MARKDOWN_SPECIAL)


def verdict(report: Report) -> str:
    failing = len(report.failing())
    if failing:
        return f"**FAIL** (fail-on {report.fail_on}: {failing} finding(s) at or above it)"
    return f"**PASS** (fail-on {report.fail_on}: nothing at or above it)"


def _head(report: Report) -> str:
    counts = report.severity_counts()
    by_severity = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    waived = len(report.findings) - len(report.open_findings)
    lines = [
        "### piqc-advisor check",
        "",
        f"{verdict(report)}: {len(report.open_findings)} findings ({by_severity}); "
        f"{waived} waived; {len(report.problems)} input problems; "
        f"{len(report.subjects)} workloads from {len(report.inputs)} files.",
        "",
    ]
    if report.problems:
        lines.append("Input problems:")
        for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
            where = problem.path if problem.line is None else f"{problem.path}:{problem.line}"
            lines.append(
                f"- {problem.severity} {escape_markdown(where)} {escape_markdown(problem.code)}: "
                f"{escape_markdown(problem.message)}"
            )
        hidden = len(report.problems) - MAX_PROBLEMS_SHOWN
        if hidden > 0:
            lines.append(f"- and {hidden} more")
        lines.append("")
    if report.waiver_notes:
        lines.append("Waivers that need attention:")
        for note in report.waiver_notes[:MAX_PROBLEMS_SHOWN]:
            where = f"{note.origin.short()} " if note.origin is not None else ""
            lines.append(f"- {note.kind} {escape_markdown(where + note.message)}")
        hidden = len(report.waiver_notes) - MAX_PROBLEMS_SHOWN
        if hidden > 0:
            lines.append(f"- and {hidden} more")
        lines.append("")
    return "\n".join(lines) + "\n"


def _row(finding: Finding, with_subject: bool) -> str:
    context = f"{finding.rule}, {finding.subject}" if with_subject else finding.rule
    cells = (
        finding.severity,
        finding.item,
        finding.evidence.short(),
        f"{finding.message} ({context})",
    )
    return "| " + " | ".join(escape_markdown(c) for c in cells) + " |\n"


def _readiness(report: Report) -> str:
    if not report.checklists:
        return "No readiness view: no checklist was chosen and no finding touched one.\n\n"
    lines = [
        "#### Readiness",
        "",
        "| Checklist | Score | Satisfied | Violated | Waived | Unknown | Not applicable "
        "| Manual (attested) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for view in report.checklists:
        counts = view.counts
        score = f"{view.score:.1f}%" if view.score is not None else "n/a"
        lines.append(
            f"| {escape_markdown(view.checklist)} | {score} | {counts['satisfied']} "
            f"| {counts['violated']} | {counts['waived']} | {counts['unknown']} "
            f"| {counts['not_applicable']} | {counts['manual']} ({counts['attested']}) |"
        )
    return "\n".join(lines) + "\n\n"


def _more(hidden: int) -> str:
    return f"{hidden} more findings not shown; see the SARIF/JSON report.\n\n"


def render_markdown(report: Report, catalog: Catalog, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """Summary line, findings table, readiness view and coverage, at most `limit` characters.

    Rows go most severe first; when they do not all fit, the least severe are dropped and
    a line counts them. Should even the fixed parts exceed the limit, the readiness table
    goes next, and as a last resort the text is cut.
    """
    del catalog  # the report carries every title and message this format shows
    head = _head(report)
    tail = _readiness(report) + report.coverage.line() + ".\n"
    several = len(set(report.subjects)) > 1
    rows = [_row(f, several) for f in sorted(report.open_findings, key=Finding.sort_key)]
    fixed = len(head) + len(tail)
    table = TABLE_HEADER + "".join(rows) + "\n" if rows else ""
    if fixed + len(table) <= limit:
        return head + table + tail
    if fixed + len(_more(len(rows))) > limit:
        tail = report.coverage.line() + ".\n"
        fixed = len(head) + len(tail)
    shown = 0
    budget = limit - fixed - len(TABLE_HEADER) - 1
    for row in rows:
        if len(row) + len(_more(len(rows) - shown - 1)) > budget:
            break
        budget -= len(row)
        shown += 1
    more = _more(len(rows) - shown)
    table = TABLE_HEADER + "".join(rows[:shown]) + "\n" if shown else ""
    text = head + table + more + tail
    if len(text) > limit:
        cut = "\n\n(truncated)\n"
        text = text[: max(limit - len(cut), 0)] + cut
        text = text[:limit]
    return text
