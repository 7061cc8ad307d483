"""Organisation extensions through --kb-path: valid ones load, broken or hostile ones exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from piqc_advisor.cli import main
from piqc_advisor.knowledge import KnowledgeError, load_catalog

GOOD_ITEMS = """\
area: ACME
items:
  - id: ACME-001
    title: Inference pods carry the cost-centre label
    severity: low
    phase: day-1
    owners: [platform]
    rationale: Finance charges GPU hours back to teams by the cost-centre label.
    remediation: Add metadata.labels.cost-centre to every inference workload.
    verified_by: [manifest]
    manual: Look for the cost-centre label on the Deployment.
"""
GOOD_AREAS = "areas:\n  - {code: ACME, title: Acme house rules}\n"
GOOD_CHECKLIST = """\
id: acme-release
title: Acme release gate
summary: What Acme checks before any model rollout.
sections:
  - id: labels
    title: Labels
    items: [ACME-001]
"""


def make_kb(root: Path, items: str = GOOD_ITEMS, checklist: str = GOOD_CHECKLIST) -> Path:
    (root / "items").mkdir(parents=True)
    (root / "checklists").mkdir()
    (root / "areas.yaml").write_text(GOOD_AREAS)
    (root / "items" / "acme.yaml").write_text(items)
    (root / "checklists" / "acme.yaml").write_text(checklist)
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_extension_adds_items_and_checklists(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb")
    catalog = load_catalog([kb])
    assert catalog.items["ACME-001"].source_file == str(kb / "items" / "acme.yaml")
    assert catalog.checklists["acme-release"].item_ids() == ("ACME-001",)
    code, out, _ = invoke("--kb-path", str(kb), "kb", "show", "acme-release")
    assert code == 0 and "ACME-001" in out


def test_extension_via_environment_variable(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kb = make_kb(tmp_path / "kb")
    monkeypatch.setenv("PIQC_ADVISOR_KB_PATH", str(kb))
    code, out, _ = invoke("explain", "ACME-001")
    assert code == 0 and out.startswith("ACME-001  Inference pods carry the cost-centre label\n")


def test_missing_key_names_file_item_and_key(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb", items=GOOD_ITEMS.replace("    severity: low\n", ""))
    code, out, err = invoke("--kb-path", str(kb), "kb", "list")
    assert code == 2 and out == ""
    assert (
        f"{kb / 'items' / 'acme.yaml'}: items/[ACME-001]: 'severity' is a required property" in err
    )


def test_wrong_types_are_reported(tmp_path: Path) -> None:
    kb = make_kb(
        tmp_path / "kb", items=GOOD_ITEMS.replace("owners: [platform]", "owners: platform")
    )
    try:
        load_catalog([kb])
    except KnowledgeError as exc:
        assert [str(p) for p in exc.problems] == [
            f"{kb / 'items' / 'acme.yaml'}: items/[ACME-001]/owners: 'platform' is not of type 'array'",
            # the invalid file is not loaded, so the checklist's reference cannot resolve either
            f"{kb / 'checklists' / 'acme.yaml'}: labels: unknown item 'ACME-001'",
        ]
    else:
        raise AssertionError("expected KnowledgeError")


def test_unknown_item_in_checklist_and_duplicate_builtin_id(tmp_path: Path) -> None:
    checklist = GOOD_CHECKLIST.replace("[ACME-001]", "[ACME-001, ACME-002]")
    kb = make_kb(tmp_path / "kb", checklist=checklist)
    with_dup = kb / "items" / "dup.yaml"
    first_builtin = next(iter(load_catalog().items.values()))
    with_dup.write_text(
        GOOD_ITEMS.replace("ACME-001", first_builtin.id).replace(
            "area: ACME", f"area: {first_builtin.area}"
        )
    )
    try:
        load_catalog([kb])
    except KnowledgeError as exc:
        messages = [str(p) for p in exc.problems]
    else:
        raise AssertionError("expected KnowledgeError")
    assert (
        f"{with_dup}: [{first_builtin.id}]: duplicate item id (also in {first_builtin.source_file})"
        in messages
    )
    assert f"{kb / 'checklists' / 'acme.yaml'}: labels: unknown item 'ACME-002'" in messages


def test_alias_bomb_is_refused_without_expansion(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    kb = make_kb(tmp_path / "kb", items=bomb)
    code, _, err = invoke("--kb-path", str(kb), "kb", "list")
    assert code == 2
    assert (
        f"{kb / 'items' / 'acme.yaml'}: line 2: invalid YAML: YAML aliases are not allowed in this file"
        in err
    )


def test_binary_non_utf8_and_broken_yaml(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb")
    (kb / "items" / "binary.yaml").write_bytes(b"\x7fELF\x00\x01\x02")
    (kb / "items" / "latin1.yaml").write_bytes(b"area: ACME\ntitle: caf\xe9\n")
    (kb / "items" / "broken.yaml").write_text("area: ACME\nitems:\n  - id: [unclosed\n")
    try:
        load_catalog([kb])
    except KnowledgeError as exc:
        messages = sorted(str(p) for p in exc.problems)
    else:
        raise AssertionError("expected KnowledgeError")
    assert messages == [
        f"{kb / 'items' / 'binary.yaml'}: binary content (NUL byte), not YAML",
        f"{kb / 'items' / 'broken.yaml'}: line 4: invalid YAML: did not find expected ',' or ']'",
        f"{kb / 'items' / 'latin1.yaml'}: line 2: not valid UTF-8",
    ]


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb")
    huge = kb / "items" / "huge.yaml"
    with huge.open("w") as handle:
        handle.write("area: ACME\nitems:\n")
        handle.write("# padding\n" * 500_000)
    try:
        load_catalog([kb])
    except KnowledgeError as exc:
        assert [str(p) for p in exc.problems] == [
            f"{huge}: file is {huge.stat().st_size} bytes, more than the 4194304-byte limit"
        ]
    else:
        raise AssertionError("expected KnowledgeError")


def test_missing_directory(tmp_path: Path) -> None:
    code, _, err = invoke("--kb-path", str(tmp_path / "nope"), "kb", "list")
    assert code == 2 and "knowledge path is not a directory" in err
