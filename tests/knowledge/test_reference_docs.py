from pathlib import Path

from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.knowledge.reference_docs import render_reference
from piqc_advisor.rules.docs import render_rule_pages

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference"


def test_generated_reference_docs_are_up_to_date() -> None:
    catalog = builtin_catalog()
    pages = {**render_reference(catalog), **render_rule_pages(catalog)}
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    stale = sorted(
        name
        for name, text in pages.items()
        if not (DOCS / name).exists() or (DOCS / name).read_text() != text
    )
    assert stale == [], "run: python tools/generate_docs.py"
    assert sorted(on_disk - set(pages)) == [], "pages for removed items; run tools/generate_docs.py"


def test_every_item_and_checklist_has_a_page() -> None:
    catalog = builtin_catalog()
    pages = render_reference(catalog)
    assert {f"items/{i}.md" for i in catalog.items} <= set(pages)
    assert {f"checklists/{c}.md" for c in catalog.checklists} <= set(pages)
