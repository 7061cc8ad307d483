"""Golden-file comparison; set PIQC_UPDATE_GOLDEN=1 to rewrite the files after a reviewed change."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN_DIR / name
    if os.environ.get("PIQC_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"golden file {path} missing; run with PIQC_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")
