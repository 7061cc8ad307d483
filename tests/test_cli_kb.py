import json

import pytest
import yaml
from click.testing import CliRunner

from piqc_advisor.cli import main
from piqc_advisor.knowledge import builtin_catalog
from tests.golden_files import assert_golden

CATALOG = builtin_catalog()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_kb_list_plain_output_is_golden() -> None:
    code, out, _ = run("kb", "list")
    assert code == 0
    assert_golden("kb/list.txt", out)


def test_kb_list_json_counts_match_catalog() -> None:
    code, out, _ = run("kb", "list", "--format", "json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)["checklists"]}
    assert set(rows) == set(CATALOG.checklists)
    for checklist_id, row in rows.items():
        ids = CATALOG.checklists[checklist_id].item_ids()
        assert row["items"] == len(ids)
        assert row["automated"] + row["manual"] == len(ids)


def test_kb_show_filters_by_phase_and_owner() -> None:
    code, out, _ = run(
        "kb",
        "show",
        "llm-inference-readiness",
        "--phase",
        "day-2",
        "--owner",
        "sre",
        "--format",
        "json",
    )
    assert code == 0
    entries = json.loads(out)["entries"]
    assert entries
    assert all(e["phase"] == "day-2" and "sre" in e["owners"] for e in entries)


def test_kb_show_section_filter() -> None:
    first = CATALOG.checklists["genai-deployment"].sections[0]
    code, out, _ = run("kb", "show", "genai-deployment", "--section", first.id, "--format", "json")
    assert code == 0
    assert [e["id"] for e in json.loads(out)["entries"]] == list(first.items)


def test_kb_show_plain_is_golden() -> None:
    code, out, _ = run("kb", "show", "genai-deployment")
    assert code == 0
    assert_golden("kb/show-genai-deployment.txt", out)


def test_unknown_checklist_is_usage_error_with_suggestion() -> None:
    code, out, err = run("kb", "show", "genai-deploymnt")
    assert code == 2
    assert out == ""
    assert (
        err
        == "piqc-advisor: error: unknown checklist 'genai-deploymnt' (did you mean 'genai-deployment'?)\n"
    )


def test_unknown_section_and_owner_are_usage_errors() -> None:
    code, _, err = run("kb", "show", "genai-deployment", "--section", "nope-nothing")
    assert code == 2 and "has no section 'nope-nothing'" in err
    code, _, err = run("kb", "show", "genai-deployment", "--owner", "sre-team")
    assert code == 2 and "is owned by 'sre-team'" in err


def test_explain_item_lists_checklists_and_verification() -> None:
    item = next(i for i in CATALOG.items.values() if len(CATALOG.checklists_including(i.id)) > 1)
    code, out, _ = run("explain", item.id, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["id"] == item.id
    assert {p["checklist"] for p in data["checklists"]} == {
        c.id for c in CATALOG.checklists_including(item.id)
    }
    assert data["verification"] == item.verification
    code, out, _ = run("explain", item.id.lower())
    assert code == 0 and out.startswith(f"{item.id}  {item.title}\n")
    assert "Why it matters:" in out and "How to fix:" in out and "In checklists:" in out


def test_explain_unknown_id_suggests_closest() -> None:
    known = next(iter(CATALOG.items))
    typo = known[:-1] + ("9" if known[-1] != "9" else "8")
    code, _, err = run("explain", typo + "X")
    assert code == 2
    assert "nothing in the knowledge base is called" in err and "did you mean" in err


def test_explain_signal_and_playbook_and_term() -> None:
    code, out, _ = run("explain", "kv-cache-usage", "--format", "json")
    assert code == 0 and json.loads(out)["kind"] == "signal"
    assert "vllm:kv_cache_usage_perc" in json.loads(out)["metrics"]
    code, out, _ = run("explain", "kv-cache-pressure", "--format", "json")
    assert code == 0 and json.loads(out)["kind"] == "playbook"
    code, out, _ = run("kb", "glossary", "TTFT", "--format", "json")
    assert code == 0 and json.loads(out)["id"] == "ttft"


def test_glossary_unknown_term() -> None:
    code, _, err = run("kb", "glossary", "kv cach")
    assert code == 2 and "did you mean" in err


def test_search_requires_every_word() -> None:
    code, out, _ = run("kb", "search", "shm tensor", "--format", "json")
    assert code == 0
    for result in json.loads(out)["results"]:
        assert result["kind"] in {"item", "checklist", "signal", "playbook", "term"}
    code, out, _ = run("kb", "search", "zzzqqq")
    assert code == 0 and out == "nothing matches 'zzzqqq'\n"


def test_export_markdown_is_golden_and_fillable() -> None:
    code, out, _ = run("kb", "export", "genai-deployment", "--format", "markdown")
    assert code == 0
    boxes = [line for line in out.splitlines() if line.startswith("- [ ] **")]
    assert len(boxes) == sum(1 for _ in CATALOG.checklists["genai-deployment"].entries())
    assert_golden("kb/export-genai-deployment.md", out)


def test_export_governance_markdown_has_control_columns() -> None:
    code, out, _ = run("kb", "export", "governance-compliance")
    assert code == 0
    assert "Maturity levels:" in out and "maturity: _/5 · evidence:" in out
    assert_golden("kb/export-governance-compliance.md", out)


def test_export_json_and_yaml_agree() -> None:
    _, as_json, _ = run("kb", "export", "infra-audit-42", "--format", "json")
    _, as_yaml, _ = run("kb", "export", "infra-audit-42", "--format", "yaml")
    assert json.loads(as_json) == yaml.safe_load(as_yaml)
    data = json.loads(as_json)
    assert data["schema_version"] == 1 and data["id"] == "infra-audit-42"
    assert sum(len(s["items"]) for s in data["sections"]) == 42


def test_export_answers_template_lists_manual_items(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "answers.yaml"
    code, out, _ = run("kb", "export", "governance-compliance", "--answers", "-o", str(target))
    assert code == 0 and out == ""
    data = yaml.safe_load(target.read_text())
    assert data["checklist"] == "governance-compliance"
    manual = [
        i
        for i in CATALOG.checklists["governance-compliance"].item_ids()
        if not CATALOG.items[i].automation
    ]
    assert [a["item"] for a in data["answers"]] == manual
    assert all(a["status"] == "open" and "maturity" in a for a in data["answers"])


@pytest.mark.parametrize("command", [["kb", "list"], ["kb", "signals"], ["kb", "glossary"]])
def test_listing_commands_support_json(command: list[str]) -> None:
    code, out, _ = run(*command, "--format", "json")
    assert code == 0
    json.loads(out)


def test_python_dash_m_entry_point() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "piqc_advisor", "kb", "validate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("knowledge base valid: ")


def test_explain_a_rule_shows_its_page() -> None:
    code, out, _ = run("explain", "shm-missing-for-multi-gpu")
    assert code == 0
    assert out.splitlines()[:3] == [
        "# shm-missing-for-multi-gpu",
        "",
        "Tensor or pipeline parallelism without a memory-backed /dev/shm.",
    ]
    code, _, err = run("explain", "shm-missing-for-multi-gp")
    assert code == 2 and "did you mean 'shm-missing-for-multi-gpu'" in err
