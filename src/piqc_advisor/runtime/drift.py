"""Configuration drift: what a running server reports against what its manifests declare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from piqc_advisor.facts.origin import Declared, Origin
from piqc_advisor.facts.workload import Workload
from piqc_advisor.findings import Finding, OutcomeKind, RuleOutcome
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.runtime.snapshot import Snapshot

DRIFT_RULE = "runtime-config-drift"
DRIFT_ITEM = "SRV-017"
DRIFT_PLAYBOOK = "training-serving-skew"
DRIFT_SUMMARY = "A setting the running server reports differs from what its manifests declare."
CompareStatus = Literal["match", "drift", "unknown", "undeclared"]

#: Serving keys compared, each with the kind of value and where the server reports it.
SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("served_model_name", "names", "models"),
    ("max_model_len", "int", "models"),
    ("gpu_memory_utilization", "float", "cache"),
    ("kv_cache_dtype", "text", "cache"),
    ("enable_prefix_caching", "bool", "cache"),
    ("max_num_seqs", "int", "info"),
    ("max_num_batched_tokens", "int", "info"),
    ("tensor_parallel_size", "int", "info"),
    ("pipeline_parallel_size", "int", "info"),
)
#: The vllm:cache_config_info label of a serving key, where the names differ.
_CACHE_LABELS = {"kv_cache_dtype": "cache_dtype"}


@dataclass(frozen=True)
class Reported:
    """A value the server reports and where it says so (endpoint, field or metric label)."""

    value: Any
    where: str


@dataclass(frozen=True)
class Comparison:
    """One setting on both sides: the manifests' declaration, the server's value, the verdict."""

    key: str
    status: CompareStatus
    declared: Declared[Any] | None
    reported: Reported | None
    reason: str


def _absent(text: str | None) -> bool:
    return text is None or text in ("", "None")


def _from_info(info: dict[str, Any], key: str) -> Any:
    """A setting from /server_info: top level, a config section, or a vllm_config section."""
    sections: list[dict[str, Any]] = [info]
    for value in info.values():
        if isinstance(value, dict):
            sections.append(value)
            sections += [v for v in value.values() if isinstance(v, dict)]
    for section in sections:
        found = section.get(key)
        if found is not None and not isinstance(found, dict | list):
            return found
    return None


def server_settings(
    url: str, snapshots: Sequence[Snapshot]
) -> tuple[dict[str, Reported], dict[str, str]]:
    """What the server reports for each setting, and for the others why it does not."""
    base = url.rstrip("/")
    reported: dict[str, Reported] = {}
    missing: dict[str, str] = {}
    last = snapshots[-1] if snapshots else None
    models = [m for m in last.models if m.parent is None] if last is not None else []
    cache_series = next(
        (
            found
            for snap in reversed(snapshots)
            if (found := snap.metrics.series("vllm:cache_config_info", "value"))
        ),
        [],
    )
    cache = dict(cache_series[0].labels) if cache_series else None
    info = last.server_info if last is not None else None
    for key, _, source in SETTINGS:
        if source == "models":
            where = f"{base}/v1/models"
            if not models:
                missing[key] = f"{where} lists no model"
            elif key == "served_model_name":
                reported[key] = Reported(sorted(m.id for m in models), where)
            else:
                lengths = {m.max_model_len for m in models if m.max_model_len is not None}
                if len(lengths) == 1:
                    reported[key] = Reported(lengths.pop(), f"{where} max_model_len")
                else:
                    missing[key] = f"{where} gives no single max_model_len"
        elif source == "cache":
            label = _CACHE_LABELS.get(key, key)
            where = f"{base}/metrics vllm:cache_config_info label {label}"
            if cache is None:
                missing[key] = f"{base}/metrics has no vllm:cache_config_info"
            elif _absent(cache.get(label)):
                missing[key] = f"{where} is absent"
            else:
                reported[key] = Reported(cache[label], where)
        else:
            where = f"{base}/server_info"
            if info is None:
                missing[key] = (
                    f"{where} was not served (vLLM serves it only with VLLM_SERVER_DEV_MODE=1)"
                )
            elif (value := _from_info(info, key)) is None:
                missing[key] = f"{where} does not give {key}"
            else:
                reported[key] = Reported(value, f"{where} {key}")
    return reported, missing


def _declared(workload: Workload, key: str) -> Declared[Any] | None:
    found = workload.serving.get(key)
    if found is None and key == "served_model_name":
        found = workload.serving.get("model")  # vLLM serves the model under its --model name
        if found is not None:
            return Declared([found.value], found.origin, found.via)
    return found


def _number(value: Any, kind: type[int] | type[float]) -> int | float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if kind is int:
        return int(number) if number.is_integer() else None
    return number


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _names(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return sorted(str(v) for v in values)


_NORMALISE: dict[str, Callable[[Any], Any]] = {
    "names": _names,
    "int": lambda v: _number(v, int),
    "float": lambda v: _number(v, float),
    "text": lambda v: str(v).strip().lower() if isinstance(v, str) and v.strip() else None,
    "bool": _truth,
}


_KINDS = {
    "names": "a list of model names",
    "int": "a whole number",
    "float": "a number",
    "text": "a name",
    "bool": "true or false",
}


def _same(kind: str, left: Any, right: Any) -> bool:
    if kind == "float":
        return bool(abs(left - right) < 1e-6)
    return bool(left == right)


def compare(workload: Workload, url: str, snapshots: Sequence[Snapshot]) -> list[Comparison]:
    """Each setting of SETTINGS: declared and reported values and whether they agree."""
    reported, missing = server_settings(url, snapshots)
    results: list[Comparison] = []
    for key, kind, _ in SETTINGS:
        declared = _declared(workload, key)
        server = reported.get(key)
        if declared is None:
            shown = f"the server runs {server.value!r}" if server else missing[key]
            reason = f"{key}: not declared in the manifests ({shown}); a default is not drift"
            results.append(Comparison(key, "undeclared", None, server, reason))
            continue
        side = f"{declared.value!r} ({declared.via} at {declared.origin.short()})"
        if key == "max_model_len" and declared.value == -1:
            shown = f"the server runs {server.value!r}" if server else missing[key]
            reason = f"{key}: the manifests declare {side}, which lets vLLM choose ({shown})"
            results.append(Comparison(key, "undeclared", declared, server, reason))
            continue
        if server is None:
            reason = f"{key}: the manifests declare {side}, the server does not report it: "
            results.append(Comparison(key, "unknown", declared, None, reason + missing[key]))
            continue
        mine = _NORMALISE[kind](declared.value)
        theirs = _NORMALISE[kind](server.value)
        if mine is None or theirs is None:
            odd = (
                f"the manifests declare {side}"
                if mine is None
                else f"{server.where} gives {server.value!r}"
            )
            reason = f"{key}: {odd}, not {_KINDS[kind]}, so the two cannot be compared"
            results.append(Comparison(key, "unknown", declared, server, reason))
            continue
        status: CompareStatus = "match" if _same(kind, mine, theirs) else "drift"
        reason = f"{key}: the server runs {theirs!r} ({server.where}), the manifests declare {side}"
        results.append(Comparison(key, status, declared, server, reason))
    return results


def _outcome(comparisons: Sequence[Comparison]) -> tuple[OutcomeKind, str]:
    def keys(status: CompareStatus) -> list[str]:
        return [c.key for c in comparisons if c.status == status]

    drifted, unknown, equal = keys("drift"), keys("unknown"), keys("match")
    if drifted:
        rest = f"; could not compare: {', '.join(unknown)}" if unknown else ""
        return "failed", "differs from the manifests: " + ", ".join(drifted) + rest
    if unknown:
        detail = "; ".join(c.reason for c in comparisons if c.status == "unknown")
        return "unknown", detail + ("; equal: " + ", ".join(equal) if equal else "")
    if equal:
        undeclared = keys("undeclared")
        rest = f"; not declared in the manifests: {', '.join(undeclared)}" if undeclared else ""
        return "passed", "equal on both sides: " + ", ".join(equal) + rest
    return "not_applicable", "the manifests declare none of the compared settings"


def config_drift(
    url: str,
    snapshots: Sequence[Snapshot],
    workload: Workload | None,
    catalog: Catalog,
) -> tuple[list[Finding], list[RuleOutcome]]:
    """A finding per setting that differs, and one outcome per server, for item SRV-017."""
    if workload is None:
        served = ", ".join(sorted({m.id for s in snapshots for m in s.models}))
        reason = (
            f"not linked to a workload: no single serving workload in the inputs serves {served}"
            if served
            else f"not linked to a workload: {url.rstrip('/')}/v1/models lists no model"
        )
        return [], [RuleOutcome(DRIFT_RULE, DRIFT_ITEM, url, "unknown", reason)]
    comparisons = compare(workload, url, snapshots)
    item = catalog.items[DRIFT_ITEM]
    findings = [
        Finding(
            item=item.id,
            rule=DRIFT_RULE,
            subject=workload.id,
            message=f"{c.reason} [server {url}; playbook {DRIFT_PLAYBOOK}]",
            evidence=c.declared.origin if c.declared else Origin(url, 1),
            severity=item.severity,
            title=item.title,
            remediation=item.remediation,
            key=f"{url} {c.key}",
        )
        for c in comparisons
        if c.status == "drift"
    ]
    outcome, reason = _outcome(comparisons)
    return findings, [RuleOutcome(DRIFT_RULE, DRIFT_ITEM, workload.id, outcome, reason)]
