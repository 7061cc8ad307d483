"""Semantic checks of a ModelSpec, each tied to one knowledge-base item."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from piqc_advisor.collectors.inputs import discover
from piqc_advisor.collectors.yaml_source import LocatedMap, Problem, parse_documents
from piqc_advisor.facts.origin import Origin
from piqc_advisor.modelspec.facts import (
    DeclaredSpec,
    SpecDependency,
    declared_spec,
    is_modelspec,
)
from piqc_advisor.modelspec.sizing_bridge import Unavailable, find_gpu, memory_fit
from piqc_advisor.rules.api import NotApplicable, Outcome, Unknown, Violation

MAX_REF_DEPTH = 32
MAX_REF_FILES = 256
MAX_REF_BYTES = 4 * 1024 * 1024
PRECISIONS: dict[str, str] = {
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp8": "fp8",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
    "int8": "int8",
    "w8a8": "int8",
    "int4": "int4",
    "w4a16": "int4",
    "fp4": "fp4",
    "nvfp4": "fp4",
    "mxfp4": "fp4",
}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^(?:https?|file|s3|gs|hf|oci):", re.IGNORECASE)


@dataclass
class SpecContext:
    """What checks share: the directory specRefs may not leave, and a cache of referenced files."""

    root: str
    loaded: dict[str, DeclaredSpec | str] = field(default_factory=dict)

    def load(self, path: str) -> DeclaredSpec | str:
        """The first ModelSpec in a referenced file, or why it cannot be read."""
        if path in self.loaded:
            return self.loaded[path]
        if len(self.loaded) >= MAX_REF_FILES:
            return f"more than {MAX_REF_FILES} referenced specs; not followed further"
        result: DeclaredSpec | str = "not read"
        for item in discover([path], MAX_REF_BYTES):
            if isinstance(item, Problem):
                result = item.message
                break
            documents, problems = parse_documents(item.text, item.path)
            errors = [p for p in problems if p.severity == "error"]
            for document in documents:
                if isinstance(document.data, LocatedMap) and is_modelspec(document.data):
                    result = declared_spec(document.data, item.path, document.index)
                    break
            else:
                result = errors[0].message if errors else "the file holds no ModelSpec"
        self.loaded[path] = result
        return result


def repository_root(start: str) -> str:
    """The directory specRefs may not leave.

    The nearest directory at or above `start` that holds .git; else the working directory
    when `start` lies inside it; else `start` itself.
    """
    first = current = os.path.realpath(start)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    cwd = os.path.realpath(os.getcwd())
    return cwd if os.path.commonpath([first, cwd]) == cwd else first


def resolve_ref(spec_path: str, ref: str, root: str) -> tuple[str | None, str]:
    """The real path a specRef names, or None and the reason it is refused."""
    if _URL.match(ref):
        return None, f"specRef {ref!r} is a URL; only relative file paths are followed"
    if not ref.strip():
        return None, "specRef is empty"
    if "\x00" in ref:
        return None, "specRef holds a NUL character"
    base = os.getcwd() if spec_path == "<stdin>" else os.path.dirname(os.path.abspath(spec_path))
    target = os.path.realpath(os.path.join(base, ref))
    real_root = os.path.realpath(root)
    if os.path.commonpath([target, real_root]) != real_root:
        return None, f"specRef {ref!r} points outside the repository root; not followed"
    if not os.path.isfile(target):
        return None, f"specRef {ref!r} does not resolve to a file"
    return target, ""


CheckFunction = Callable[[DeclaredSpec, SpecContext], Iterable[Outcome]]


@dataclass(frozen=True)
class SpecCheck:
    name: str
    item: str
    summary: str
    run: CheckFunction


CHECKS: list[SpecCheck] = []


def spec_check(name: str, item: str, summary: str) -> Callable[[CheckFunction], CheckFunction]:
    def wrap(function: CheckFunction) -> CheckFunction:
        CHECKS.append(SpecCheck(name, item, summary, function))
        return function

    return wrap


def _where(spec: DeclaredSpec, dotted: str) -> Origin:
    """The origin of a section (or the nearest parent that exists) for absent fields."""
    node = spec.root
    parts = dotted.split(".")
    for part in parts:
        child = node.child(part)
        if child is None:
            break
        node = child
    return node.origin


# --------------------------------------------------------------------------- identity


@spec_check("vllm-max-sequence-length", "MID-005", "A vLLM spec declares maxSequenceLengthTokens.")
def vllm_max_sequence_length(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    framework = spec.identity.framework
    if framework is None or framework.value.lower() != "vllm":
        yield NotApplicable("framework is not vllm")
        return
    if spec.runtime.max_sequence_length_tokens is None:
        yield Violation(
            "framework vllm needs spec.runtime.batch.maxSequenceLengthTokens: without it the "
            "engine takes the model's full context and sizes the KV cache for it",
            framework.origin,
        )


# --------------------------------------------------------------------------- scaling


@spec_check("scaling-replica-bounds", "SCL-004", "minReplicas does not exceed maxReplicas.")
def scaling_replica_bounds(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    low, high = spec.scaling.min_replicas, spec.scaling.max_replicas
    if low is None and high is None:
        yield NotApplicable("no replica bounds declared")
        return
    if low is not None and high is not None and low.value > high.value:
        yield Violation(
            f"minReplicas {low.value} is greater than maxReplicas {high.value}", low.origin
        )
    if high is not None and high.value == 0:
        yield Violation("maxReplicas 0 means the model can never serve", high.origin)


@spec_check("scaling-warm-pool", "SCL-006", "The warm pool fits under maxReplicas.")
def scaling_warm_pool(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    pool, high = spec.scaling.warm_pool_size, spec.scaling.max_replicas
    if pool is None:
        yield NotApplicable("no warm pool declared")
        return
    if high is None:
        yield Unknown("a warm pool is declared but no maxReplicas to compare it with")
        return
    if pool.value > high.value:
        yield Violation(
            f"warm pool size {pool.value} is larger than maxReplicas {high.value}", pool.origin
        )


@spec_check("scaling-strategy-targets", "SCL-002", "The scaling strategy fits its targets.")
def scaling_strategy_targets(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    scaling = spec.scaling
    strategy = scaling.strategy
    if strategy is None:
        yield NotApplicable("no scaling strategy declared")
        return
    low, high = scaling.min_replicas, scaling.max_replicas
    if strategy.value in ("reactive", "predictive"):
        if scaling.target_latency_ms_p95 is None and scaling.target_rps is None:
            yield Violation(
                f"strategy {strategy.value} scales on a target, but neither "
                "targetLatencyMsP95 nor targetRps is declared",
                strategy.origin,
            )
        if low is not None and high is not None and low.value == high.value:
            yield Violation(
                f"strategy {strategy.value} with minReplicas = maxReplicas = {low.value} "
                "leaves nothing to scale",
                strategy.origin,
            )
    elif low is not None and high is not None and low.value != high.value:
        yield Violation(
            f"strategy manual with minReplicas {low.value} and maxReplicas {high.value}: "
            "a manual strategy runs a fixed count, so the bounds should be equal",
            strategy.origin,
        )


@spec_check("production-latency-target", "PRF-001", "A production spec sets a p95 latency target.")
def production_latency_target(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    if not spec.production:
        yield NotApplicable("not a production spec (labels.environment is not prod)")
        return
    if spec.scaling.target_latency_ms_p95 is None:
        yield Violation(
            "production spec without spec.operations.scaling.targetLatencyMsP95",
            _where(spec, "spec.operations.scaling"),
        )


@spec_check("production-throughput-target", "PRF-002", "A production spec sets an RPS target.")
def production_throughput_target(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    if not spec.production:
        yield NotApplicable("not a production spec (labels.environment is not prod)")
        return
    if spec.scaling.target_rps is None:
        yield Violation(
            "production spec without spec.operations.scaling.targetRps",
            _where(spec, "spec.operations.scaling"),
        )


# --------------------------------------------------------------------------- serving


@spec_check("serving-concurrency-batch", "SRV-005", "maxConcurrency fits the batch size.")
def serving_concurrency_batch(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    concurrency, batch = spec.serving.max_concurrency, spec.runtime.max_batch_size
    if concurrency is None:
        yield NotApplicable("no maxConcurrency declared")
        return
    if batch is None:
        yield Unknown("maxConcurrency is declared but no maxBatchSize to compare it with")
        return
    if concurrency.value > batch.value:
        yield Violation(
            f"maxConcurrency {concurrency.value} exceeds maxBatchSize {batch.value}: the extra "
            "requests wait in the engine queue and add to tail latency",
            concurrency.origin,
        )


@spec_check("serving-timeout-latency", "RLB-003", "The request timeout is above the p95 target.")
def serving_timeout_latency(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    timeout, target = spec.serving.timeout_seconds, spec.scaling.target_latency_ms_p95
    if timeout is None:
        yield NotApplicable("no request timeout declared")
        return
    if timeout.value == 0:
        yield Violation("timeoutSeconds 0 cancels every request", timeout.origin)
        return
    if target is None:
        yield Unknown("no targetLatencyMsP95 to compare the timeout with")
        return
    if timeout.value * 1000 < target.value:
        yield Violation(
            f"timeoutSeconds {timeout.value} ({timeout.value * 1000} ms) is below the p95 target "
            f"of {target.value:g} ms, so requests are cut before the objective allows",
            timeout.origin,
        )


def _probe_outcomes(spec: DeclaredSpec, key: str) -> Iterator[Outcome]:
    probe = spec.serving.readiness if key == "readinessProbe" else spec.serving.liveness
    if probe is None:
        if spec.production:
            yield Violation(
                f"production spec without spec.operations.serving.{key}",
                _where(spec, "spec.operations.serving"),
            )
        else:
            yield NotApplicable(f"no {key} declared")
        return
    if probe.path is None:
        yield Violation(f"{key} declares no path", probe.origin)
    elif not probe.path.value.startswith("/"):
        yield Violation(
            f"{key} path {probe.path.value!r} does not start with '/'", probe.path.origin
        )
    timeout = probe.timeout_seconds
    if timeout is not None and timeout.value == 0:
        yield Violation(f"{key} timeoutSeconds 0 fails every probe", timeout.origin)


@spec_check("serving-readiness-probe", "K8S-005", "The readiness probe has a path.")
def serving_readiness_probe(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    yield from _probe_outcomes(spec, "readinessProbe")


@spec_check("serving-liveness-probe", "K8S-006", "The liveness probe has a path.")
def serving_liveness_probe(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    yield from _probe_outcomes(spec, "livenessProbe")


@spec_check("serving-port", "NET-001", "Ports are unprivileged and distinct where they must be.")
def serving_port(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    port = spec.serving.port
    metrics = spec.observability.metrics_port
    if port is None and metrics is None:
        yield NotApplicable("no port declared")
        return
    for value in (port, metrics):
        if value is not None and 1 <= value.value < 1024:
            yield Violation(
                f"port {value.value} is below 1024: such ports need root or "
                "NET_BIND_SERVICE in the container",
                value.origin,
            )


@spec_check("serving-protocol", "SRV-004", "The serving protocol is set and fits the framework.")
def serving_protocol(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    serving = spec.root.at("spec.operations.serving")
    protocol = spec.serving.protocol
    if serving is None:
        yield NotApplicable("no serving section declared")
        return
    if protocol is None:
        yield Violation("serving section without protocol (http or grpc)", serving.origin)
        return
    framework = spec.identity.framework
    http_only = framework is not None and framework.value.lower() in ("vllm", "sglang", "tgi")
    if protocol.value == "grpc" and framework is not None and http_only:
        yield Violation(
            f"protocol grpc, but {framework.value} serves its API over HTTP", protocol.origin
        )


# --------------------------------------------------------------------------- runtime


@spec_check("accelerator-known", "GPU-004", "The accelerator vendor and type are known.")
def accelerator_known(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    vendor, kind = spec.runtime.vendor, spec.runtime.accelerator_type
    if vendor is None or kind is None:
        yield Unknown("accelerator vendor or type is missing or not text")
        return
    found = find_gpu(vendor.value, kind.value)
    if isinstance(found, Unavailable):
        yield Unknown(f"cannot check {vendor.value}/{kind.value}: {found.reason}")
    elif found is None:
        yield Violation(
            f"accelerator {vendor.value}/{kind.value} is not in the GPU catalog", kind.origin
        )
    elif found.vendor and found.vendor.lower() != vendor.value.lower():
        yield Violation(
            f"accelerator {kind.value} is made by {found.vendor}, not {vendor.value}",
            vendor.origin,
        )


@spec_check("precision-supported", "MID-012", "The precision is known and fits the accelerator.")
def precision_supported(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    precision = spec.identity.precision
    if precision is None:
        yield Unknown("no precision declared")
        return
    canonical = PRECISIONS.get(precision.value.lower())
    if canonical is None:
        yield Violation(
            f"precision {precision.value!r} is not one of "
            + ", ".join(sorted(set(PRECISIONS.values()))),
            precision.origin,
        )
        return
    vendor, kind = spec.runtime.vendor, spec.runtime.accelerator_type
    if vendor is None or kind is None:
        yield Unknown("no accelerator to check the precision against")
        return
    found = find_gpu(vendor.value, kind.value)
    if isinstance(found, Unavailable):
        yield Unknown(f"cannot check {canonical} on {kind.value}: {found.reason}")
    elif found is None or found.precisions is None:
        yield Unknown(f"the GPU catalog does not list the precisions of {kind.value}")
    elif canonical not in found.precisions:
        yield Violation(
            f"precision {precision.value} is not supported by {kind.value} "
            f"(supported: {', '.join(sorted(found.precisions))})",
            precision.origin,
        )


@spec_check("memory-fit", "GPU-004", "Weights and KV cache fit on the declared accelerators.")
def memory_fit_check(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    runtime, identity = spec.runtime, spec.identity
    if runtime.max_batch_size is None or runtime.max_sequence_length_tokens is None:
        yield Unknown("memory fit needs maxBatchSize and maxSequenceLengthTokens")
        return
    if runtime.vendor is None or runtime.accelerator_type is None or runtime.count is None:
        yield Unknown("memory fit needs the accelerator vendor, type and count")
        return
    model = identity.model_uri or identity.model_id
    if model is None:
        yield Unknown("memory fit needs the model id")
        return
    gpu = find_gpu(runtime.vendor.value, runtime.accelerator_type.value)
    if isinstance(gpu, Unavailable):
        yield Unknown(f"memory fit not checked: {gpu.reason}")
        return
    if gpu is None:
        yield Unknown(f"the GPU catalog does not know {runtime.accelerator_type.value}")
        return
    precision = identity.precision.value if identity.precision is not None else None
    canonical = PRECISIONS.get(precision.lower()) if precision else None
    batch, length = runtime.max_batch_size.value, runtime.max_sequence_length_tokens.value
    fit = memory_fit(model.value, gpu, runtime.count.value, canonical, batch, length)
    if isinstance(fit, Unavailable) and identity.model_uri is not None and identity.model_id:
        fit = memory_fit(
            identity.model_id.value, gpu, runtime.count.value, canonical, batch, length
        )
    if isinstance(fit, Unavailable):
        yield Unknown(f"memory fit not checked: {fit.reason}")
        return
    if not fit.weights_fit:
        yield Violation(
            f"the weights take about {fit.weights_gib:.1f} GiB per GPU, more than the "
            f"{fit.budget_gib:.1f} GiB budget of one {gpu.name} with {runtime.count.value} GPU(s)",
            runtime.count.origin,
            "weights",
        )
    elif not fit.fits:
        yield Violation(
            f"the KV cache for {batch} sequences of {length} tokens needs about "
            f"{fit.kv_needed_gib:.1f} GiB per GPU, but only {fit.kv_available_gib:.1f} GiB is "
            f"left after the weights on {runtime.count.value} x {gpu.name}",
            runtime.max_batch_size.origin,
            "kv-cache",
        )


# --------------------------------------------------------------------------- pipeline


def _deps_or_na(spec: DeclaredSpec) -> tuple[SpecDependency, ...] | NotApplicable:
    if not spec.dependencies:
        return NotApplicable("no dependencies declared")
    return spec.dependencies


@spec_check("dependency-spec-ref", "OWN-007", "Each specRef resolves inside the repository.")
def dependency_spec_ref(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    deps = _deps_or_na(spec)
    if isinstance(deps, NotApplicable):
        yield deps
        return
    for dep in deps:
        if dep.spec_ref is None:
            continue
        target, reason = resolve_ref(spec.path, dep.spec_ref.value, ctx.root)
        if target is None:
            yield Violation(f"dependency {dep.label}: {reason}", dep.spec_ref.origin, dep.label)
            continue
        loaded = ctx.load(target)
        if isinstance(loaded, str):
            yield Violation(
                f"dependency {dep.label}: specRef {dep.spec_ref.value!r} cannot be used: {loaded}",
                dep.spec_ref.origin,
                dep.label,
            )


def _cycle_from(
    spec: DeclaredSpec, ctx: SpecContext, start: str, chain: list[str]
) -> list[str] | None:
    if len(chain) > MAX_REF_DEPTH:
        return None
    for dep in spec.dependencies:
        if dep.spec_ref is None:
            continue
        target, _ = resolve_ref(spec.path, dep.spec_ref.value, ctx.root)
        if target is None:
            continue
        if target == start:
            return [*chain, target]
        if target in chain:
            continue
        loaded = ctx.load(target)
        if isinstance(loaded, str):
            continue
        found = _cycle_from(loaded, ctx, start, [*chain, target])
        if found is not None:
            return found
    return None


def _short(path: str) -> str:
    cwd = os.getcwd()
    return os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else path


@spec_check("dependency-cycle", "OWN-008", "specRefs form no cycle.")
def dependency_cycle(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    deps = _deps_or_na(spec)
    if isinstance(deps, NotApplicable):
        yield deps
        return
    start = os.path.realpath(spec.path) if spec.path != "<stdin>" else ""
    cycle = _cycle_from(spec, ctx, start, [start])
    if cycle is not None:
        shown = " -> ".join(_short(p) if p else "<stdin>" for p in cycle)
        first = next(d for d in deps if d.spec_ref is not None)
        yield Violation(f"specRefs form a cycle: {shown}", first.origin, "cycle")


@spec_check(
    "dependency-required-present", "OWN-003", "Required dependencies are declared with a spec."
)
def dependency_required_present(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    deps = _deps_or_na(spec)
    if isinstance(deps, NotApplicable):
        yield deps
        return
    seen: dict[str, Origin] = {}
    for dep in deps:
        if dep.id is not None:
            if dep.id.value in seen:
                yield Violation(
                    f"dependency id {dep.id.value!r} is declared twice "
                    f"(first at line {seen[dep.id.value].line})",
                    dep.id.origin,
                    f"duplicate:{dep.id.value}",
                )
            seen.setdefault(dep.id.value, dep.id.origin)
        if dep.required and dep.spec_ref is None:
            yield Violation(
                f"required dependency {dep.label} has no specRef, so its presence cannot be "
                "checked",
                dep.origin,
                dep.label,
            )


@spec_check(
    "dependency-latency-budget", "PRF-007", "Required dependencies fit in the p95 latency target."
)
def dependency_latency_budget(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    deps = _deps_or_na(spec)
    if isinstance(deps, NotApplicable):
        yield deps
        return
    required = [d for d in deps if d.required]
    if not required:
        yield NotApplicable("no required dependencies")
        return
    missing = [d for d in required if d.max_latency_ms is None]
    for dep in missing:
        yield Violation(
            f"required dependency {dep.label} has no interface.maxLatencyMs budget",
            dep.origin,
            dep.label,
        )
    target = spec.scaling.target_latency_ms_p95
    if target is None:
        if not missing:
            yield Unknown("no targetLatencyMsP95 to hold the dependency budgets against")
        return
    total = sum(d.max_latency_ms.value for d in required if d.max_latency_ms is not None)
    if total > target.value:
        names = ", ".join(d.label for d in required)
        yield Violation(
            f"required dependencies ({names}) take up to {total:g} ms, more than the p95 "
            f"target of {target.value:g} ms",
            target.origin,
            "budget",
        )


@spec_check("dependency-types", "OWN-006", "Dependency interfaces declare and chain their types.")
def dependency_types(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    deps = _deps_or_na(spec)
    if isinstance(deps, NotApplicable):
        yield deps
        return
    for dep in deps:
        absent = [
            name
            for name, value in (("inputType", dep.input_type), ("outputType", dep.output_type))
            if value is None
        ]
        if absent:
            yield Violation(
                f"dependency {dep.label} declares no {' or '.join(absent)}",
                dep.origin,
                f"types:{dep.label}",
            )
    for role in ("input", "postprocess"):
        chain = [d for d in deps if d.role is not None and d.role.value == role]
        for before, after in itertools.pairwise(chain):
            if before.output_type is None or after.input_type is None:
                continue
            if before.output_type.value != after.input_type.value:
                yield Violation(
                    f"{role} dependency {after.label} takes {after.input_type.value!r}, but the "
                    f"{role} step before it ({before.label}) produces {before.output_type.value!r}",
                    after.input_type.origin,
                    f"chain:{before.label}>{after.label}",
                )


@spec_check("pipeline-steps-disabled", "QAL-007", "Disabled steps are known and tested.")
def pipeline_steps_disabled(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    if not spec.steps:
        yield NotApplicable("no pipeline steps declared")
        return
    disabled = [s for s in spec.steps if not s.enabled]
    if not disabled:
        return
    names = ", ".join(f"{s.stage}/{s.name.value if s.name else '?'}" for s in disabled)
    yield Unknown(
        f"disabled steps ({names}): that the pipeline works without them needs a test or an "
        "attestation"
    )


@spec_check("pipeline-step-names", "QAL-003", "Step names are unique within their stage.")
def pipeline_step_names(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    if not spec.steps:
        yield NotApplicable("no pipeline steps declared")
        return
    seen: set[tuple[str, str]] = set()
    for step in spec.steps:
        if step.name is None:
            continue
        key = (step.stage, step.name.value)
        if key in seen:
            yield Violation(
                f"{step.stage} step {step.name.value!r} is declared twice",
                step.name.origin,
                f"{step.stage}/{step.name.value}",
            )
        seen.add(key)


# --------------------------------------------------------------------------- governance


@spec_check("pii-policy", "GOV-003", "Allowing personal data names a policy.")
def pii_policy(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    gov = spec.governance
    if gov.pii_allowed is None:
        yield Unknown("spec.governance.compliance.pii.allowed is not declared")
        return
    if gov.pii_allowed.value and gov.pii_policy is None:
        yield Violation(
            "pii.allowed is true but no pii.policy says how personal data is handled",
            gov.pii_allowed.origin,
        )


@spec_check("retention-set", "GOV-004", "Retention periods for logs and artifacts are set.")
def retention_set(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    gov = spec.governance
    absent = [
        name
        for name, value in (("logsDays", gov.logs_days), ("artifactsDays", gov.artifacts_days))
        if value is None
    ]
    if absent:
        yield Violation(
            f"retention {' and '.join(absent)} not set",
            _where(spec, "spec.governance.compliance.retention"),
        )


def _owner(spec: DeclaredSpec) -> bool:
    return spec.governance.owner is not None or "owner" in spec.annotations


@spec_check("production-owner", "GOV-005", "A production spec names its owner.")
def production_owner(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    if not spec.production:
        yield NotApplicable("not a production spec (labels.environment is not prod)")
        return
    if not _owner(spec):
        yield Violation(
            "production spec names no owner (governance.compliance.governance.owner or the "
            "owner annotation)",
            _where(spec, "spec.governance"),
        )


@spec_check("production-change-approval", "GOV-006", "A production spec names its change approval.")
def production_change_approval(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    if not spec.production:
        yield NotApplicable("not a production spec (labels.environment is not prod)")
        return
    if spec.governance.change_approval is None:
        yield Violation(
            "production spec without governance.compliance.governance.changeApproval",
            _where(spec, "spec.governance"),
        )


@spec_check("cost-target", "CST-002", "A unit-cost target is declared.")
def cost_target(spec: DeclaredSpec, ctx: SpecContext) -> Iterator[Outcome]:
    if spec.governance.target_cost_per_1k_tokens_usd is None:
        yield Violation(
            "no spec.governance.cost.targetCostPer1kTokensUsd", _where(spec, "spec.governance")
        )
