"""Write docs/reference/ (a page per item and per checklist) from the knowledge base."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.knowledge.reference_docs import render_reference

TARGET = Path(__file__).resolve().parent.parent / "docs" / "reference"


def main() -> int:
    pages = render_reference(builtin_catalog())
    if TARGET.exists():
        shutil.rmtree(TARGET)
    for relative, text in pages.items():
        path = TARGET / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(pages)} pages to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
