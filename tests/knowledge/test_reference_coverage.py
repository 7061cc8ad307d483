"""Each reference checklist maps to the data section by section: same headings, same entry counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.knowledge.model import Checklist, Section

CATALOG = builtin_catalog()
SOURCES = {
    "genai-deployment": "kb/CHECKLIST.md",
    "deployment-quality": "kb/ai-model-deployment-quality-checklist/README.md",
    "llm-inference-readiness": "kb/llm-inference-production-readiness-checklist/README.md",
    "infra-audit-42": "kb/ai-infrastructure-audit-and-readiness-checklist/README.md",
    "governance-compliance": "kb/ai-governance-and-compliance-checklist/README.md",
    "vllm-runtime-signals": "kb/vllm-runtime-metrics-and-observability-guide/README.md",
    "cluster-bringup": "kb/ai-cluster-bringup-checklist/README.md",
    "inference-optimization": "kb/llm-inference-optimization/CHECKLIST.md",
    "vllm-on-eks": "kb/vllm-on-eks/CHECKLIST.md",
    "vllm-on-gke": "kb/vllm-on-gke/CHECKLIST.md",
    "vllm-on-runpod": "kb/vllm-on-runpod/CHECKLIST.md",
    "infra-best-practices": "kb/ai-infrastructure-best-practices-and-playbooks/README.md",
}
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
CHECKBOX = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+\S")


def normalise(text: str) -> str:
    text = re.sub(r"[*_`\[\]()]", " ", text)
    text = re.sub(r"[^\w\s&/+-]", " ", text)
    text = re.sub(r"^\s*(\d+[.)]\s*)", "", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def reference_sections(path: Path) -> dict[str, list[str]]:
    """Heading (normalised) -> the checkbox lines directly under it."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = HEADING.match(line)
        if match:
            current = sections.setdefault(normalise(match.group(2)), [])
            continue
        if current is not None and CHECKBOX.match(line):
            current.append(line)
    return sections


def walk(sections: tuple[Section, ...]) -> list[Section]:
    found: list[Section] = []
    for section in sections:
        found.append(section)
        found.extend(walk(section.sections))
    return found


def test_every_checklist_names_its_reference() -> None:
    from_kb = {c.id for c in CATALOG.checklists.values() if c.origin == "piqc-kb"}
    assert set(SOURCES) == from_kb


@pytest.mark.parametrize("checklist_id", sorted(SOURCES))
def test_sections_with_checkboxes_match_reference_counts(
    checklist_id: str, reference_dir: Path
) -> None:
    checklist: Checklist = CATALOG.checklists[checklist_id]
    reference = reference_sections(reference_dir / SOURCES[checklist_id])
    mismatches = []
    for section in walk(checklist.sections):
        if section.source is None:
            continue
        key = normalise(section.source)
        assert key in reference, f"{checklist_id}: no reference heading {section.source!r}"
        expected = len(reference[key])
        if expected and expected != len(section.items):
            mismatches.append((section.id, expected, len(section.items)))
    assert mismatches == []


@pytest.mark.parametrize("checklist_id", sorted(SOURCES))
def test_every_reference_checkbox_heading_is_mapped(checklist_id: str, reference_dir: Path) -> None:
    checklist = CATALOG.checklists[checklist_id]
    mapped = {normalise(s.source) for s in walk(checklist.sections) if s.source}
    reference = reference_sections(reference_dir / SOURCES[checklist_id])
    unmapped = sorted(h for h, boxes in reference.items() if boxes and h not in mapped)
    assert unmapped == []


def test_infra_audit_has_42_points_in_6_areas() -> None:
    audit = CATALOG.checklists["infra-audit-42"]
    assert len(audit.sections) == 6
    assert sum(1 for _ in audit.entries()) == 42


def test_genai_checklist_has_9_sections_and_quality_10_categories() -> None:
    assert len(CATALOG.checklists["genai-deployment"].sections) == 9
    assert len(CATALOG.checklists["deployment-quality"].sections) == 10


def test_readiness_framework_has_phases_0_to_4_with_owners() -> None:
    readiness = CATALOG.checklists["llm-inference-readiness"]
    assert len(readiness.sections) >= 5
    for phase in readiness.sections[:5]:
        assert phase.sections, phase.id
        for block in phase.sections:
            assert block.owners, block.id
