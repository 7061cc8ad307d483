"""Findings and per-rule outcomes as the report carries them, with stable fingerprints."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from piqc_advisor.facts.origin import Origin

OutcomeKind = Literal["passed", "failed", "not_applicable", "unknown", "error"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def fingerprint(item: str, rule: str, subject: str, key: str) -> str:
    """Identity of a finding that survives edits: never a line number."""
    raw = "\x1f".join((item, rule, subject, key))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Finding:
    """A violation of one item by one subject, stamped with the catalog's severity and fix."""

    item: str
    rule: str
    subject: str
    message: str
    evidence: Origin
    severity: str
    title: str
    remediation: str
    key: str = ""
    waived_by: str | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.item, self.rule, self.subject, self.key)

    @property
    def waived(self) -> bool:
        return self.waived_by is not None

    def sort_key(self) -> tuple[Any, ...]:
        return (
            SEVERITY_ORDER.get(self.severity, 9),
            self.item,
            self.evidence.path,
            self.evidence.line,
            self.rule,
            self.subject,
            self.key,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "subject": self.subject,
            "message": self.message,
            "evidence": self.evidence.to_json(),
            "remediation": self.remediation,
            "fingerprint": self.fingerprint,
            "waived": self.waived,
            "waiver": self.waived_by,
        }


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule concluded about one subject."""

    rule: str
    item: str
    subject: str
    outcome: OutcomeKind
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "item": self.item,
            "subject": self.subject,
            "outcome": self.outcome,
            "reason": self.reason,
        }
