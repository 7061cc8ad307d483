"""SARIF 2.1.0 for code scanning: ruleId is the item id, help comes from the knowledge base."""

from __future__ import annotations

import json
from typing import Any

from piqc_advisor import __version__
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.report import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def _rule_entry(catalog: Catalog, item_id: str) -> dict[str, Any]:
    item = catalog.items[item_id]
    help_text = f"{item.rationale}\n\nHow to fix: {item.remediation}"
    return {
        "id": item.id,
        "name": item.title,
        "shortDescription": {"text": item.title},
        "fullDescription": {"text": item.rationale},
        "help": {
            "text": help_text,
            "markdown": (
                f"**Why it matters.** {item.rationale}\n\n**How to fix.** {item.remediation}"
            ),
        },
        "defaultConfiguration": {"level": LEVELS.get(item.severity, "warning")},
        "properties": {
            "tags": [item.area, item.phase, *item.owners],
            "severity": item.severity,
            "rules": list(item.rules),
        },
    }


def render_sarif(report: Report, catalog: Catalog) -> str:
    """One run with every item that has a finding as a rule; valid with zero results."""
    item_ids = sorted({f.item for f in report.findings})
    index = {item_id: i for i, item_id in enumerate(item_ids)}
    results = []
    for finding in report.findings:
        location = finding.evidence
        result: dict[str, Any] = {
            "ruleId": finding.item,
            "ruleIndex": index[finding.item],
            "level": LEVELS.get(finding.severity, "warning"),
            "message": {"text": f"{finding.message} [{finding.rule}]"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": location.path.replace("\\", "/")},
                        "region": {
                            "startLine": max(location.line, 1),
                            "startColumn": max(location.col, 1),
                        },
                    },
                    "logicalLocations": [{"name": finding.subject, "kind": "resource"}],
                }
            ],
            "partialFingerprints": {"piqcFindingHash/v1": finding.fingerprint},
            "properties": {
                "rule": finding.rule,
                "subject": finding.subject,
                "severity": finding.severity,
            },
        }
        if finding.waived:
            result["suppressions"] = [{"kind": "external", "justification": finding.waived_by}]
        results.append(result)
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
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
