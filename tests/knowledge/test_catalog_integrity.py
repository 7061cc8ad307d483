import re

import pytest

from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.knowledge.model import Item

CATALOG = builtin_catalog()
EXPECTED_CHECKLISTS = {
    "genai-deployment",
    "deployment-quality",
    "llm-inference-readiness",
    "infra-audit-42",
    "governance-compliance",
    "vllm-runtime-signals",
    "cluster-bringup",
    "inference-optimization",
    "vllm-on-eks",
    "vllm-on-gke",
    "vllm-on-runpod",
    "infra-best-practices",
    "advisor-manifest-checks",
}
ITEMS = list(CATALOG.items.values())


def test_every_expected_checklist_is_present() -> None:
    assert set(CATALOG.checklists) == EXPECTED_CHECKLISTS


def test_item_ids_follow_area_pattern_and_area_exists() -> None:
    for item in ITEMS:
        assert re.fullmatch(rf"{item.area}-\d{{3}}", item.id), item.id
        assert item.area in CATALOG.areas


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.id)
def test_item_is_automated_or_manual_and_well_written(item: Item) -> None:
    assert item.automation or item.manual
    assert item.remediation.rstrip().endswith((".", ")")), item.remediation
    assert item.title == item.title.strip()
    assert item.rationale != item.remediation


def test_attestation_only_items_have_no_rules() -> None:
    for item in ITEMS:
        if item.verified_by == ("attestation",):
            assert not item.automation, item.id


def test_every_item_is_in_some_checklist() -> None:
    placed = {i for c in CATALOG.checklists.values() for i in c.item_ids()}
    orphans = sorted(i.id for i in ITEMS if i.id not in placed and not i.retired)
    assert orphans == []


def test_signal_table_has_the_25_signals_in_order() -> None:
    numbers = [s.number for s in CATALOG.signals.values()]
    assert numbers == list(range(1, 26))


def test_signal_metric_names_exist_in_vllm_032(reference_dir) -> None:  # type: ignore[no-untyped-def]
    lines = (reference_dir / "vllm-0.32-metrics.tsv").read_text().splitlines()[1:]
    known = {line.split("\t")[0] for line in lines}
    for signal in CATALOG.signals.values():
        for metric in signal.metrics:
            assert metric in known, (signal.id, metric)


def test_engine_flags_named_in_data_exist_in_vllm_032(reference_dir) -> None:  # type: ignore[no-untyped-def]
    lines = (reference_dir / "vllm-0.32-serve-args.tsv").read_text().splitlines()[1:]
    known: set[str] = set()
    for line in lines:
        flag, aliases = line.split("\t")[:2]
        known.add(flag)
        known.update(a for a in aliases.split(",") if a)
    named = [a for s in CATALOG.signals.values() for a in s.engine_args]
    named += [
        a
        for p in CATALOG.playbooks.values()
        for s in p.sections
        for e in s.entries
        for a in e.engine_args
    ]
    assert sorted(set(named) - known) == []


def test_vllm_flags_mentioned_in_item_text_exist(reference_dir) -> None:  # type: ignore[no-untyped-def]
    lines = (reference_dir / "vllm-0.32-serve-args.tsv").read_text().splitlines()[1:]
    known: set[str] = set()
    for line in lines:
        flag, aliases = line.split("\t")[:2]
        known.add(flag)
        known.update(a for a in aliases.split(",") if a)
    unknown = set()
    for item in ITEMS:
        if item.applies("runtimes") and "vllm" not in item.applies("runtimes"):
            continue
        text = " ".join([item.rationale, item.remediation, item.manual or ""])
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", text):
            if flag not in known:
                unknown.add((item.id, flag))
    assert sorted(unknown) == []


def test_governance_checklist_supports_framework_columns() -> None:
    governance = CATALOG.checklists["governance-compliance"]
    assert governance.columns == ("maturity", "evidence", "automation_readiness", "review_cadence")
    assert [m.level for m in governance.maturity_scale] == [0, 1, 2, 3, 4, 5]
    for item_id in governance.item_ids():
        control = CATALOG.items[item_id].control
        if CATALOG.items[item_id].area == "GOV":
            assert control is not None and control.evidence and control.review_cadence, item_id
    domains = {s.domain for s in governance.sections if s.domain}
    assert domains == {"healthcare", "finance", "real-estate", "retail", "public-sector"}


def test_playbooks_and_glossary_present() -> None:
    assert set(CATALOG.playbooks) == {
        "kv-cache-pressure",
        "gpu-utilization",
        "training-serving-skew",
    }
    assert {s.kind for s in CATALOG.playbooks["kv-cache-pressure"].sections} >= {
        "symptoms",
        "diagnostics",
        "mitigation",
        "prevention",
    }
    assert any(
        s.kind == "misinterpretations" for s in CATALOG.playbooks["gpu-utilization"].sections
    )
    for term in ("kv-cache", "ttft", "tpot", "paged-attention", "prefix-caching", "cold-start"):
        assert term in CATALOG.glossary
