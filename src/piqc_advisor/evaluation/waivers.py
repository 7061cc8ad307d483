"""Waivers: reasoned, optionally expiring suppressions from config, annotations and comments."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from piqc_advisor.facts.origin import Origin
from piqc_advisor.facts.workload import Workload
from piqc_advisor.findings import Finding

WaiverSource = Literal["config", "annotation", "inline"]
ANNOTATION_PREFIX = "waive.piqc.ai/"
_ITEM = r"[A-Z][A-Z0-9]{1,4}-\d{3}"
_EXPIRES = re.compile(r"\s*\[expires[=: ]\s*(\d{4}-\d{2}-\d{2})\]\s*$")
INLINE = re.compile(
    rf"#\s*piqc-advisor:\s*waive\s+(?P<ids>{_ITEM}(?:\s*,\s*{_ITEM})*)\s*(?:--\s*(?P<reason>.*))?$"
)


@dataclass(frozen=True)
class Waiver:
    """One waiver: which item, where it applies, why, until when, and where it was written."""

    item: str
    reason: str
    source: WaiverSource
    origin: Origin | None
    expires: date | None = None
    path: str | None = None
    document: int | None = None
    subject: str | None = None

    def describe(self) -> str:
        where = f" ({self.origin.short()})" if self.origin is not None else ""
        until = f", expires {self.expires.isoformat()}" if self.expires else ""
        return f"{self.source} waiver of {self.item}{where}: {self.reason}{until}"

    def covers(self, finding: Finding) -> bool:
        if finding.item != self.item:
            return False
        if self.source == "inline":
            return finding.evidence.path == self.path and finding.evidence.document == self.document
        if self.source == "annotation":
            return finding.subject == self.subject
        if self.path is not None and not fnmatch.fnmatch(finding.evidence.path, self.path):
            return False
        return self.subject is None or fnmatch.fnmatch(finding.subject, self.subject)


@dataclass(frozen=True)
class WaiverNote:
    """A waiver that needs attention: unused, expired or malformed."""

    kind: Literal["unused", "expired", "invalid", "forbidden"]
    message: str
    origin: Origin | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "source": self.origin.to_json() if self.origin is not None else None,
        }


def split_expiry(text: str) -> tuple[str, date | None, str | None]:
    """Split 'reason [expires=YYYY-MM-DD]' into reason, date and an error message."""
    match = _EXPIRES.search(text)
    if not match:
        return text.strip(), None, None
    try:
        return text[: match.start()].strip(), date.fromisoformat(match.group(1)), None
    except ValueError:
        return text[: match.start()].strip(), None, f"bad expiry date {match.group(1)!r}"


def inline_waivers(
    text: str, path: str, document_starts: Sequence[int]
) -> tuple[list[Waiver], list[WaiverNote]]:
    """Waivers written as `# piqc-advisor: waive ID[, ID] -- reason [expires=...]` comments.

    A comment applies to the document it sits in (or, above the first one, to that one).
    """
    waivers: list[Waiver] = []
    notes: list[WaiverNote] = []
    if "piqc-advisor:" not in text:
        return waivers, notes
    for number, line in enumerate(text.splitlines(), start=1):
        if "piqc-advisor:" not in line:
            continue
        match = INLINE.search(line)
        origin = Origin(path, number, line.index("#") + 1 if "#" in line else 1)
        if match is None:
            notes.append(
                WaiverNote("invalid", f"unreadable waiver comment: {line.strip()}", origin)
            )
            continue
        document = 0
        for index, start in enumerate(document_starts):
            if start <= number:
                document = index
        reason, expires, error = split_expiry(match.group("reason") or "")
        if error:
            notes.append(WaiverNote("invalid", error, origin))
        if not reason:
            notes.append(WaiverNote("invalid", "waiver without a reason is ignored", origin))
            continue
        for item in re.split(r"\s*,\s*", match.group("ids").strip()):
            waivers.append(
                Waiver(
                    item,
                    reason,
                    "inline",
                    replace(origin, document=document),
                    expires,
                    path,
                    document,
                )
            )
    return waivers, notes


def annotation_waivers(workloads: Iterable[Workload]) -> tuple[list[Waiver], list[WaiverNote]]:
    """Waivers from `waive.piqc.ai/ITEM: reason [expires=...]` on the object or pod template."""
    waivers: list[Waiver] = []
    notes: list[WaiverNote] = []
    for workload in workloads:
        for key, value in sorted(workload.annotations.items()):
            if not key.startswith(ANNOTATION_PREFIX):
                continue
            item = key[len(ANNOTATION_PREFIX) :]
            reason, expires, error = split_expiry(value)
            if error:
                notes.append(WaiverNote("invalid", f"{key}: {error}", workload.source))
            if not reason:
                notes.append(
                    WaiverNote(
                        "invalid", f"{key}: waiver without a reason is ignored", workload.source
                    )
                )
                continue
            waivers.append(
                Waiver(item, reason, "annotation", workload.source, expires, subject=workload.id)
            )
    return waivers, notes


def apply_waivers(
    findings: Sequence[Finding],
    waivers: Sequence[Waiver],
    known_items: Iterable[str],
    today: date,
) -> tuple[tuple[Finding, ...], list[WaiverNote]]:
    """Mark covered findings as waived (they stay in the report); note unused and expired ones."""
    known = set(known_items)
    notes: list[WaiverNote] = []
    active: list[Waiver] = []
    for waiver in waivers:
        if waiver.item not in known:
            notes.append(WaiverNote("invalid", f"{waiver.describe()}: unknown item", waiver.origin))
        elif waiver.expires is not None and waiver.expires < today:
            notes.append(WaiverNote("expired", f"{waiver.describe()}: expired", waiver.origin))
        else:
            active.append(waiver)
    used: set[int] = set()
    result: list[Finding] = []
    for finding in findings:
        for index, waiver in enumerate(active):
            if waiver.covers(finding):
                used.add(index)
                finding = replace(finding, waived_by=f"{waiver.source}: {waiver.reason}")
                break
        result.append(finding)
    for index, waiver in enumerate(active):
        if index not in used:
            notes.append(
                WaiverNote("unused", f"{waiver.describe()}: matches no finding", waiver.origin)
            )
    return tuple(result), notes
