"""Write docs/reference/ (a page per item and per checklist) from the knowledge base."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.knowledge.reference_docs import render_reference
from piqc_advisor.rules.docs import render_rule_pages

TARGET = Path(__file__).resolve().parent.parent / "docs" / "reference"


def main() -> int:
    catalog = builtin_catalog()
    pages = {**render_reference(catalog), **render_rule_pages(catalog)}
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
