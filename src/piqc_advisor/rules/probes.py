"""Probe rules: readiness that proves the model is loaded, startup budgets, safe liveness."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from piqc_advisor.facts.workload import Probe, Workload
from piqc_advisor.rules.api import NotApplicable, Outcome, Unknown, Violation, evidence_for, rule

# Endpoints that answer only once the engine can serve (vLLM, SGLang, TGI, TEI, Triton, NIM).
MODEL_AWARE_PATHS = (
    "/health",
    "/v1/models",
    "/health_generate",
    "/v2/health/ready",
    "/v1/health/ready",
    "/ready",
    "/readyz",
    "/api/tags",
    "/api/version",
)
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])")


@dataclass(frozen=True)
class LoadBudget:
    """Parameters for judging whether probes leave time to load the model."""

    engine_start_seconds: int = 90
    """Engine start-up before weights load (imports, CUDA init, graph capture)."""
    storage_gb_per_second: float = 0.5
    """Assumed read speed of weights from network storage or the hub cache."""
    bytes_per_parameter: float = 2.0
    """Weights at 16-bit precision; quantized checkpoints load faster."""
    unknown_size_seconds: int = 300
    """Load time assumed when the model size cannot be read from its name."""


def _applies(w: Workload) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")


def load_seconds(w: Workload, budget: LoadBudget) -> tuple[int, str]:
    """Estimated time from container start to a loaded model, with how it was estimated."""
    model = w.serving.get("model")
    text = str(model.value) if model is not None else ""
    match = _SIZE.search(text.rsplit("/", 1)[-1])
    if not match:
        return budget.unknown_size_seconds, "model size unknown"
    billions = float(match.group(1))
    if billions > 2000:
        return budget.unknown_size_seconds, "model size unknown"
    gigabytes = billions * budget.bytes_per_parameter
    seconds = budget.engine_start_seconds + gigabytes / budget.storage_gb_per_second
    return int(seconds), f"~{billions:g}B parameters, {gigabytes:.0f} GB of weights"


@rule("readiness-probe-missing", "K8S-005", "A model server has no readiness probe.")
def readiness_probe_missing(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _applies(w)
    if w.engine is not None and w.probes.get("readiness") is None:
        yield Violation(
            f"container {w.container!r} serves {w.engine.name} without a readinessProbe: "
            "traffic reaches pods before the model is loaded",
            evidence_for(w),
        )


@rule(
    "readiness-probe-not-model-aware",
    "K8S-005",
    "The readiness probe checks something that does not prove the model is loaded.",
)
def readiness_probe_not_model_aware(w: Workload, _: object) -> Iterator[Outcome]:
    yield from _applies(w)
    probe = w.probes.get("readiness")
    if w.engine is None or probe is None:
        return
    if probe.kind == "tcpSocket":
        yield Violation(
            f"readinessProbe of {w.container!r} only opens a TCP connection; the port accepts "
            "connections before the model can serve",
            probe.origin,
        )
    elif probe.kind == "httpGet" and not (probe.path or "/").startswith(MODEL_AWARE_PATHS):
        yield Violation(
            f"readinessProbe of {w.container!r} calls {probe.path or '/'}, which does not show "
            f"that {w.engine.name} has loaded the model (use /health or /v1/models)",
            probe.origin,
        )


def _budget_message(probe: Probe, needed: int, how: str) -> str:
    return (
        f"allows {probe.budget_seconds}s (initialDelaySeconds {probe.initial_delay_seconds} + "
        f"periodSeconds {probe.period_seconds} x failureThreshold {probe.failure_threshold}) "
        f"but loading needs about {needed}s ({how})"
    )


@rule(
    "startup-budget-too-short",
    "K8S-900",
    "No startup probe, or one whose failure budget is shorter than the model load time.",
    LoadBudget(),
)
def startup_budget_too_short(w: Workload, budget: LoadBudget) -> Iterator[Outcome]:
    yield from _applies(w)
    if w.engine is None:
        return
    needed, how = load_seconds(w, budget)
    startup = w.probes.get("startup")
    if startup is not None:
        if startup.budget_seconds < needed:
            yield Violation("startupProbe " + _budget_message(startup, needed, how), startup.origin)
        return
    readiness = w.probes.get("readiness")
    if readiness is None:
        yield Violation(
            f"container {w.container!r} has no startupProbe; nothing gives the model "
            f"~{needed}s to load ({how})",
            evidence_for(w),
        )


@rule(
    "liveness-kills-loading-server",
    "K8S-901",
    "A liveness probe can restart the server before the model has finished loading.",
    LoadBudget(),
)
def liveness_kills_loading_server(w: Workload, budget: LoadBudget) -> Iterator[Outcome]:
    yield from _applies(w)
    liveness = w.probes.get("liveness")
    if w.engine is None or liveness is None:
        return
    startup = w.probes.get("startup")
    needed, how = load_seconds(w, budget)
    if startup is not None and startup.budget_seconds >= needed:
        return
    if liveness.budget_seconds < needed:
        yield Violation(
            "livenessProbe " + _budget_message(liveness, needed, how) + "; the kubelet "
            "restarts the container mid-load, again and again",
            liveness.origin,
        )


@dataclass(frozen=True)
class ProbeTimeout:
    minimum_seconds: int = 3
    """Health endpoints answer slowly while the engine is saturated; below this, probes flap."""


@rule(
    "probe-timeout-too-short",
    "K8S-902",
    "A probe's timeoutSeconds is too short for a busy model server.",
    ProbeTimeout(),
)
def probe_timeout_too_short(w: Workload, params: ProbeTimeout) -> Iterator[Outcome]:
    yield from _applies(w)
    if w.engine is None:
        return
    present = {kind: probe for kind, probe in w.probes.items() if probe is not None}
    if not present:
        yield Unknown("no probes to judge")
        return
    for kind, probe in present.items():
        if (
            probe.kind in ("httpGet", "grpc", "exec")
            and probe.timeout_seconds < params.minimum_seconds
        ):
            yield Violation(
                f"{kind}Probe of {w.container!r} times out after {probe.timeout_seconds}s; a "
                f"saturated {w.engine.name} can take longer to answer, so healthy pods are "
                "marked unready or restarted",
                probe.origin,
                key=kind,
            )
