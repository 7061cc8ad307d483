"""Every rule on its own manifest cases: the `# expect: <rule>` markers give the exact findings.

A case lives at `cases/<rule-name>/pass_*.yaml` (the rule yields nothing) or
`cases/<rule-name>/fail_*.yaml` (the rule yields findings). In a fail case, a comment
`# expect: <rule-name>` sits on the line directly above each line a finding points to.
Only the rule named by the directory runs on its cases.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from piqc_advisor.collectors.scan import scan
from piqc_advisor.evaluation.runner import RunResult, run_rules
from piqc_advisor.facts.store import FactStore
from piqc_advisor.knowledge import builtin_catalog
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.rules import ALL_RULES, OTHER_RULE_ITEMS, RULES_BY_NAME
from piqc_advisor.rules.api import Rule

CASES = Path(__file__).resolve().parent / "cases"
MARKER = re.compile(r"^\s*#\s*expect:\s*(?P<rule>[a-z0-9-]+)\s*$")
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Cases on which a rule is wrong today. The case states what the rule should do; the
# reason names the defect. strict=True: once the rule is fixed the xfail must be removed.
KNOWN_WRONG: dict[str, str] = {}


@cache
def catalog() -> Catalog:
    return builtin_catalog()


@cache
def scanned(path: Path) -> FactStore:
    return scan([str(path)])


def run(rule_names: tuple[str, ...], path: Path) -> RunResult:
    rules = [RULES_BY_NAME[name] for name in rule_names]
    return run_rules(rules, scanned(path).workloads, catalog())


def expected_markers(path: Path) -> set[tuple[str, int]]:
    """(rule, line) for every marker: the line is the first non-marker line below it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    expected: set[tuple[str, int]] = set()
    for index, text in enumerate(lines):
        match = MARKER.match(text)
        if match is None:
            continue
        target = index + 1
        while target < len(lines) and MARKER.match(lines[target]):
            target += 1
        assert target < len(lines), f"{path.name}:{index + 1}: marker with no line below it"
        expected.add((match["rule"], target + 1))
    return expected


def case_files() -> list[Path]:
    return sorted(CASES.glob("*/*.yaml"))


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def case_params() -> list[object]:
    params: list[object] = []
    for path in case_files():
        reason = KNOWN_WRONG.get(case_id(path))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(path, id=case_id(path), marks=marks))
    return params


@pytest.mark.parametrize("path", case_params())
def test_rule_case(path: Path) -> None:
    rule_name = path.parent.name
    assert rule_name in RULES_BY_NAME, f"{path.parent.name} is not a registered rule"
    assert path.stem.startswith(("pass_", "fail_")), f"{path.name}: name it pass_* or fail_*"
    store = scanned(path)
    assert store.workloads, f"{path.name}: the scanner found no workload"
    errors = [p for p in store.problems if p.severity == "error"]
    assert not errors, f"{path.name}: input problems {errors}"
    expected = expected_markers(path)
    assert {rule for rule, _ in expected} <= {rule_name}, "markers must name the case's rule"
    if path.stem.startswith("pass_"):
        assert not expected, "a pass_ case carries no expect markers"
    else:
        assert expected, "a fail_ case needs at least one expect marker"
    result = run((rule_name,), path)
    errors = [o for o in result.outcomes if o.outcome == "error"]
    assert not errors, errors
    for finding in result.findings:
        assert Path(finding.evidence.path).resolve() == path, finding.evidence
    found = {(f.rule, f.evidence.line) for f in result.findings}
    assert found == expected, "\n".join(
        [f"{f.evidence.line}: {f.rule}: {f.message}" for f in result.findings] or ["no findings"]
    )


def test_every_rule_has_pass_and_fail_cases() -> None:
    missing = []
    for rule in ALL_RULES:
        folder = CASES / rule.name
        for prefix in ("pass_", "fail_"):
            if not list(folder.glob(f"{prefix}*.yaml")):
                missing.append(f"{rule.name}: no {prefix}*.yaml")
    assert not missing, missing


def test_every_case_directory_names_a_rule() -> None:
    strays = [d.name for d in CASES.iterdir() if d.is_dir() and d.name not in RULES_BY_NAME]
    assert not strays, strays


def test_known_wrong_entries_name_existing_cases() -> None:
    ids = {case_id(path) for path in case_files()}
    assert set(KNOWN_WRONG) <= ids, set(KNOWN_WRONG) - ids


def test_rule_names_are_kebab_case_and_unique() -> None:
    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert [n for n in names if not KEBAB.match(n)] == []
    assert len(RULES_BY_NAME) == len(ALL_RULES)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.name)
def test_rule_item_is_in_catalog_and_lists_the_rule(rule: Rule) -> None:
    items = catalog().items
    assert rule.item in items, f"{rule.name}: item {rule.item} not in the catalog"
    assert rule.name in items[rule.item].rules, f"{rule.item} does not list {rule.name}"


def test_every_automation_rule_is_registered() -> None:
    unregistered = sorted(
        f"{item.id}: {name}"
        for item in catalog().items.values()
        for name in item.rules
        if name not in RULES_BY_NAME and OTHER_RULE_ITEMS.get(name) != item.id
    )
    assert not unregistered, unregistered


def test_spec_and_runtime_rules_are_listed_by_their_items() -> None:
    items = catalog().items
    for name, item_id in OTHER_RULE_ITEMS.items():
        assert name in items[item_id].rules, f"{item_id} does not list {name}"


@pytest.mark.parametrize(
    "path", [p for p in case_files() if p.stem.startswith("pass_")], ids=case_id
)
def test_all_rules_run_on_pass_cases_without_error(path: Path) -> None:
    result = run(tuple(RULES_BY_NAME), path)
    errors = [o for o in result.outcomes if o.outcome == "error"]
    assert not errors, errors


# ---------------------------------------------------------------- Unknown and NotApplicable

OLLAMA_CPU = "gpu-request-missing/pass_ollama_cpu"
NOT_A_SERVER = "readiness-probe-missing/pass_not_a_model_server"
LWS = "single-replica-without-pdb/pass_lws_worker_not_judged"
DRA = "parallelism-gpu-mismatch/pass_dra_gpu_count_unknown"
ONE_GPU = "gpu-request-missing/pass_vllm_one_gpu"
MODEL_FROM_ENV = "weights-downloaded-at-start/pass_model_from_configmap_env"
KSERVE = "service-missing/pass_kserve_controller_service"

# (rule, case, container of the subject, outcome, reason when the rule is wrong today)
OUTCOMES: list[tuple[str, str, str, str, str | None]] = [
    # A fact the rule needs is missing: unknown, never a pass.
    ("parallelism-gpu-mismatch", DRA, "vllm", "unknown", None),
    ("gpu-count-not-multiple-of-tp", DRA, "vllm", "unknown", None),
    ("probe-timeout-too-short", ONE_GPU, "vllm", "unknown", None),
    (
        "gpu-memory-utilization-extreme",
        "gpu-memory-utilization-extreme/pass_fraction_from_env",
        "vllm",
        "unknown",
        None,
    ),
    ("weights-downloaded-at-start", MODEL_FROM_ENV, "vllm", "unknown", None),
    (
        "weights-on-ephemeral-storage-unbounded",
        MODEL_FROM_ENV,
        "vllm",
        "unknown",
        None,
    ),
    (
        "model-revision-not-pinned",
        MODEL_FROM_ENV,
        "vllm",
        "unknown",
        None,
    ),
    ("model-revision-not-pinned", OLLAMA_CPU, "ollama", "unknown", None),
    ("dtype-not-set", OLLAMA_CPU, "ollama", "unknown", None),
    ("batching-limits-not-set", OLLAMA_CPU, "ollama", "unknown", None),
    ("image-tag-mutable", KSERVE, "", "unknown", None),
    ("image-not-pinned-by-digest", KSERVE, "", "unknown", None),
    # GPU rules on a CPU-only Ollama: not applicable.
    ("gpu-request-missing", OLLAMA_CPU, "ollama", "not_applicable", None),
    ("gpu-request-limit-mismatch", OLLAMA_CPU, "ollama", "not_applicable", None),
    ("gpu-placement-missing", OLLAMA_CPU, "ollama", "not_applicable", None),
    ("shm-missing-for-multi-gpu", OLLAMA_CPU, "ollama", "not_applicable", None),
    ("priority-class-missing", OLLAMA_CPU, "ollama", "not_applicable", None),
    (
        "parallelism-gpu-mismatch",
        OLLAMA_CPU,
        "ollama",
        "not_applicable",
        None,
    ),
    (
        "gpu-count-not-multiple-of-tp",
        OLLAMA_CPU,
        "ollama",
        "not_applicable",
        None,
    ),
    ("api-without-authentication", OLLAMA_CPU, "ollama", "not_applicable", None),
    # Other conditions that do not concern the subject.
    (
        "shm-missing-for-multi-gpu",
        "shm-missing-for-multi-gpu/pass_single_gpu",
        "vllm",
        "not_applicable",
        None,
    ),
    (
        "gpu-memory-utilization-extreme",
        "gpu-memory-utilization-extreme/pass_not_set",
        "vllm",
        "not_applicable",
        None,
    ),
    (
        "model-revision-not-pinned",
        "model-revision-not-pinned/pass_local_path",
        "vllm",
        "not_applicable",
        None,
    ),
    (
        "weights-on-ephemeral-storage-unbounded",
        "weights-on-ephemeral-storage-unbounded/pass_pvc_model",
        "vllm",
        "not_applicable",
        None,
    ),
    ("hpa-on-resource-metrics-only", ONE_GPU, "vllm", "not_applicable", None),
    ("replica-bounds-invalid", ONE_GPU, "vllm", "not_applicable", None),
    (
        "scale-down-stabilization-missing",
        "scale-down-stabilization-missing/pass_no_hpa",
        "vllm",
        "not_applicable",
        None,
    ),
    ("topology-spread-missing", ONE_GPU, "vllm", "not_applicable", None),
    (
        "tracing-not-configured",
        "engine-version-unknown/pass_sglang_version_tag",
        "sglang",
        "not_applicable",
        None,
    ),
    ("service-missing", KSERVE, "", "not_applicable", None),
    # Multi-node followers take their settings from the leader.
    ("parallelism-gpu-mismatch", LWS, "vllm-worker", "not_applicable", None),
    ("dtype-not-set", LWS, "vllm-worker", "not_applicable", None),
    ("max-model-len-not-set", LWS, "vllm-worker", "not_applicable", None),
    ("served-model-name-missing", LWS, "vllm-worker", "not_applicable", None),
    ("single-replica-without-pdb", LWS, "vllm-worker", "not_applicable", None),
    ("service-missing", LWS, "vllm-worker", "not_applicable", None),
]


def outcome_params() -> list[object]:
    params: list[object] = []
    for rule_name, case, container, outcome, wrong in OUTCOMES:
        marks = [pytest.mark.xfail(strict=True, reason=wrong)] if wrong else []
        case_name = case.replace("/", ":")
        ident = f"{rule_name}-{outcome}-{case_name}{'-' + container if container else ''}"
        params.append(pytest.param(rule_name, case, container, outcome, id=ident, marks=marks))
    return params


@pytest.mark.parametrize(("rule_name", "case", "container", "outcome"), outcome_params())
def test_unknown_and_not_applicable_outcomes(
    rule_name: str, case: str, container: str, outcome: str
) -> None:
    path = CASES / f"{case}.yaml"
    result = run((rule_name,), path)
    subjects = {w.id for w in scanned(path).workloads if not container or w.container == container}
    assert subjects, f"no workload with container {container!r} in {case}"
    got = {(o.subject, o.outcome, o.reason) for o in result.outcomes if o.subject in subjects}
    assert {o for _, o, _ in got} == {outcome}, got
    assert not [f for f in result.findings if f.subject in subjects]


# Rules that judge any container, model server or not.
ANY_CONTAINER = frozenset(
    {
        "credential-literal-in-manifest",
        "image-tag-mutable",
        "image-not-pinned-by-digest",
        "runs-as-root",
        "privileged-or-host-namespaces",
        "security-context-missing",
    }
)


def test_model_server_rules_do_not_apply_to_other_workloads() -> None:
    path = CASES / f"{NOT_A_SERVER}.yaml"
    (workload,) = scanned(path).workloads
    assert workload.engine is None
    result = run(tuple(RULES_BY_NAME), path)
    applied = {o.rule for o in result.outcomes if o.outcome != "not_applicable"}
    assert applied == ANY_CONTAINER
