"""The table report: findings grouped by item, then the readiness view and a coverage line."""

from __future__ import annotations

from piqc_advisor.evaluation.assessment import readiness_score
from piqc_advisor.report import Report


def render_text(report: Report) -> str:
    """Plain text (the CLI shows the same content with rich styling on a terminal)."""
    lines: list[str] = []
    current = None
    for finding in report.findings:
        if finding.item != current:
            current = finding.item
            lines.append("")
            lines.append(f"{finding.item} [{finding.severity}] {finding.title}")
            lines.append(f"  fix: {finding.remediation}")
        mark = f" (waived: {finding.waived_by})" if finding.waived else ""
        lines.append(f"  {finding.evidence.short()}  {finding.rule}  {finding.subject}{mark}")
        lines.append(f"    {finding.message}")
    if not report.findings:
        lines.append("no findings")
    if report.checklists:
        lines.append("")
        lines.append("readiness:")
        for view in report.checklists:
            counts = view.counts
            score = f"{view.score:.1f}%" if view.score is not None else "n/a"
            lines.append(
                f"  {view.checklist}: {score} - {counts['satisfied']} satisfied, "
                f"{counts['violated']} violated, {counts['waived']} waived, "
                f"{counts['unknown']} unknown, {counts['not_applicable']} not applicable, "
                f"{counts['manual']} manual ({counts['attested']} attested)"
            )
            by_phase = []
            for phase, phase_counts in view.phases.items():
                phase_score = readiness_score(phase_counts)
                shown = f"{phase_score:.1f}%" if phase_score is not None else "n/a"
                by_phase.append(f"{phase} {shown}")
            if by_phase:
                lines.append(f"    by phase: {', '.join(by_phase)}")
    severities = report.severity_counts()
    summary = ", ".join(f"{n} {s}" for s, n in severities.items() if n)
    lines.append("")
    waived = len(report.findings) - len(report.open_findings)
    lines.append(
        f"{len(report.open_findings)} findings ({summary or 'none'}) in {len(report.subjects)} "
        f"workloads from {len(report.inputs)} files; {waived} waived; "
        f"{len(report.problems)} input problems; fail-on {report.fail_on}: "
        f"{len(report.failing())} failing."
    )
    lines.append(report.coverage.line() + ".")
    return "\n".join(lines).lstrip("\n") + "\n"
