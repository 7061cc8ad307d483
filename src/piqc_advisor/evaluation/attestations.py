"""Attestations: a person's answers to manual items, from the `kb export --answers` file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from piqc_advisor.safe_yaml import DataFileError, load_yaml_file


class AnswersError(Exception):
    """An answers file that cannot be used; the message names the file and entry."""


@dataclass(frozen=True)
class Attestation:
    item: str
    status: str
    by: str
    on: date
    evidence: str | None
    expires: date | None
    maturity: int | None

    def note(self) -> str:
        evidence = f", evidence {self.evidence}" if self.evidence else ""
        maturity = f", maturity {self.maturity}/5" if self.maturity is not None else ""
        return f"attested by {self.by} on {self.on.isoformat()}{evidence}{maturity}"


def _date(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise AnswersError(f"{where}: {value!r} is not a YYYY-MM-DD date") from exc


def load_answers(
    path: Path, known_items: set[str], today: date
) -> tuple[dict[str, Attestation], list[str]]:
    """Valid, unexpired attestations by item, plus notes about expired and open entries."""
    try:
        data = load_yaml_file(path)
    except DataFileError as exc:
        raise AnswersError(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("answers"), list):
        raise AnswersError(
            f"{path}: expected a mapping with an 'answers' list (from kb export --answers)"
        )
    attested: dict[str, Attestation] = {}
    notes: list[str] = []
    for index, entry in enumerate(data["answers"]):
        where = f"{path}: answers/{index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("item"), str):
            raise AnswersError(f"{where}: each answer needs an 'item'")
        item = entry["item"]
        if item not in known_items:
            raise AnswersError(f"{where}: unknown item {item!r}")
        status = entry.get("status", "open")
        if status not in ("open", "attested", "not_applicable"):
            raise AnswersError(f"{where}: status must be open, attested or not_applicable")
        if status == "open":
            continue
        by = entry.get("by")
        on = _date(entry.get("date"), f"{where}/date")
        if not by or on is None:
            raise AnswersError(f"{where}: an answered item needs 'by' and 'date'")
        expires = _date(entry.get("expires"), f"{where}/expires")
        maturity = entry.get("maturity")
        if maturity is not None and (not isinstance(maturity, int) or not 0 <= maturity <= 5):
            raise AnswersError(f"{where}: maturity must be a whole number 0-5")
        if expires is not None and expires < today:
            notes.append(
                f"{where}: the attestation of {item} expired on {expires.isoformat()}; "
                "it is open again"
            )
            continue
        attested[item] = Attestation(
            item, status, str(by), on, entry.get("evidence"), expires, maturity
        )
    return attested, notes
