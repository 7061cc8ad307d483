"""Write a ModelSpec from scanned workloads; what manifests cannot say stays a placeholder."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from piqc_advisor.facts.workload import Workload
from piqc_advisor.modelspec.checks import PRECISIONS

TODO = "TODO"
FAMILIES = (
    "llama",
    "mixtral",
    "mistral",
    "qwen",
    "gemma",
    "phi",
    "deepseek",
    "falcon",
    "granite",
    "gpt",
    "opt",
    "bloom",
    "olmo",
    "command-r",
    "yi",
)
VENDORS = {
    "nvidia.com": "nvidia",
    "amd.com": "amd",
    "gpu.intel.com": "intel",
    "habana.ai": "intel",
    "google.com": "google",
    "aws.amazon.com": "aws",
}
_PLAIN = re.compile(r"[A-Za-z0-9/][A-Za-z0-9._/:@+-]*\Z")
_QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")
_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly this value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


@dataclass
class _Entry:
    key: str
    value: Any = None
    comment: str | None = None
    active: bool = True
    children: list[_Entry] = field(default_factory=list)

    def add(self, key: str, value: Any = None, comment: str | None = None) -> _Entry:
        """A field with a value, or a placeholder when the value is None."""
        entry = _Entry(key, value, comment, value is not None)
        self.children.append(entry)
        return entry

    def placeholder(self, key: str, example: Any, comment: str) -> None:
        self.children.append(_Entry(key, example, comment, False))

    def section(self, key: str, comment: str | None = None) -> _Entry:
        entry = _Entry(key, None, comment, True)
        self.children.append(entry)
        return entry

    def live(self) -> bool:
        if self.children:
            return any(c.live() for c in self.children)
        return self.active

    def render(self, depth: int, out: list[str], forced_comment: bool = False) -> None:
        pad = "  " * depth
        commented = forced_comment or not self.live()
        mark = "# " if commented else ""
        note = f"  # {self.comment}" if self.comment else ""
        if self.children:
            out.append(f"{pad}{mark}{self.key}:{note}")
            for child in self.children:
                child.render(depth + 1, out, commented)
        else:
            out.append(f"{pad}{mark}{self.key}: {scalar(self.value)}{note}")


def quantity_bytes(text: str) -> float | None:
    match = _QUANTITY.match(text.strip())
    if match is None or match.group(2) not in _UNITS:
        return None
    try:
        return float(match.group(1)) * _UNITS[match.group(2)]
    except ValueError:
        return None


def cpu_cores(text: str) -> float | None:
    text = text.strip()
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return None


def model_uri(model: str) -> str:
    if "://" in model or model.startswith(("/", ".")):
        return model
    return f"hf://{model}"


def family_of(model: str) -> str | None:
    base = model.rstrip("/").rsplit("/", 1)[-1].lower()
    for family in FAMILIES:
        if base.startswith(family):
            version = re.match(rf"{re.escape(family)}[-_]?(\d+(?:\.\d+)?)", base)
            return f"{family}{version.group(1)}" if version else family
    return None


def normalise_type(accelerator_type: str) -> str:
    text = accelerator_type.lower()
    for prefix in ("nvidia-tesla-", "nvidia-", "amd-", "tesla-"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def vendor_of(resource: str) -> str | None:
    return VENDORS.get(resource.split("/", 1)[0])


def _serving(workload: Workload, key: str) -> Any:
    declared = workload.serving.get(key)
    return declared.value if declared is not None else None


def _precision(workload: Workload) -> str | None:
    quantization = _serving(workload, "quantization")
    if isinstance(quantization, str) and quantization.lower().startswith("fp8"):
        return "fp8"
    if isinstance(quantization, str) and quantization.lower() in ("awq", "gptq", "awq_marlin"):
        return "int4"
    dtype = _serving(workload, "dtype")
    return PRECISIONS.get(str(dtype).lower()) if dtype is not None else None


def _identity(spec: _Entry, workload: Workload, answers: Mapping[str, Any]) -> None:
    model = _serving(workload, "model")
    served = _serving(workload, "served_model_name")
    if isinstance(served, list | tuple):
        served = served[0] if served else None
    node = spec.section("identity").section("model")
    base = str(model).rstrip("/").rsplit("/", 1)[-1] if model else None
    node.add(
        "id", served or base or TODO, None if (served or base) else "no model in the manifests"
    )
    family = answers.get("family") or (family_of(str(model)) if model else None)
    node.add("family", family or TODO, None if family else "model family, e.g. llama3")
    task = answers.get("task")
    node.add("task", task or "text-generation", None if task else "assumed; check")
    engine = workload.engine.name if workload.engine else None
    node.add("framework", engine or TODO, None if engine else "no serving engine recognised")
    precision = _precision(workload)
    if precision:
        node.add("precision", precision)
    else:
        node.placeholder("precision", "bf16", "the manifests leave the dtype to the engine")
    artifacts = node.section("artifacts")
    if model:
        artifacts.add("modelUri", model_uri(str(model)))
    tokenizer = _serving(workload, "tokenizer")
    if tokenizer:
        artifacts.add("tokenizerUri", model_uri(str(tokenizer)))
    else:
        artifacts.placeholder("tokenizerUri", "hf://org/model", "where the tokenizer lives")


def _runtime(spec: _Entry, workload: Workload, answers: Mapping[str, Any]) -> None:
    runtime = spec.section("runtime")
    accelerator = runtime.section("accelerator")
    acc = workload.accelerator
    vendor = vendor_of(acc.resource) if acc else None
    accelerator.add("vendor", vendor or TODO, None if vendor else "no accelerator requested")
    kind = answers.get("accelerator_type") or (
        normalise_type(acc.type) if acc and acc.type else None
    )
    accelerator.add("type", kind or TODO, None if kind else "GPU model, e.g. a100-80gb")
    count = workload.gpus_per_replica or (acc.count if acc else None)
    accelerator.add("count", count or 1, None if count else "assumed")
    batch = runtime.section("batch")
    seqs, length = _serving(workload, "max_num_seqs"), _serving(workload, "max_model_len")
    if isinstance(seqs, int):
        batch.add("maxBatchSize", seqs)
    else:
        batch.placeholder("maxBatchSize", 32, "no max-num-seqs in the manifests")
    if isinstance(length, int):
        batch.add("maxSequenceLengthTokens", length)
    else:
        batch.placeholder("maxSequenceLengthTokens", 8192, "no max-model-len in the manifests")
    resources = runtime.section("resources")
    res = workload.resources
    cores = cpu_cores(res.cpu_request.value) if res.cpu_request else None
    if cores is not None and cores == int(cores):
        resources.add("cpuCores", int(cores))
    else:
        resources.placeholder("cpuCores", 8, "CPU cores per replica")
    memory = quantity_bytes(res.memory_request.value) if res.memory_request else None
    if memory is not None:
        resources.add("memoryGb", round(memory / 10**9, 1), f"from {res.memory_request.value}")  # type: ignore[union-attr]
    else:
        resources.placeholder("memoryGb", 64, "host memory per replica")
    if workload.env_names:
        environment = runtime.section("environment").section("variables")
        for name in workload.env_names[:20]:
            environment.placeholder(name, "...", "set in the manifests; value not copied")


def _operations(spec: _Entry, workload: Workload, answers: Mapping[str, Any]) -> None:
    operations = spec.section("operations")
    serving = operations.section("serving")
    readiness = workload.probes.get("readiness")
    grpc = readiness is not None and readiness.kind == "grpc"
    serving.add("protocol", "grpc" if grpc else "http")
    port = _serving(workload, "port")
    if not isinstance(port, int):
        port = (
            workload.effective.get("port")
            if isinstance(workload.effective.get("port"), int)
            else None
        )
    if port is None and workload.ports:
        port = workload.ports[0]
    if isinstance(port, int) and 1 <= port <= 65535:
        serving.add("port", port)
    else:
        serving.placeholder("port", 8000, "no port in the manifests")
    for key, name in (("readiness", "readinessProbe"), ("liveness", "livenessProbe")):
        probe = workload.probes.get(key)
        section = serving.section(name)
        if probe is not None and probe.kind == "httpGet" and probe.path:
            section.add("path", probe.path)
            section.add("timeoutSeconds", probe.timeout_seconds)
        else:
            section.placeholder("path", "/health", f"no HTTP {key} probe in the manifests")
    serving.placeholder("maxConcurrency", 32, "requests one replica accepts at once")
    serving.placeholder("timeoutSeconds", 60, "upper bound for one request")
    scaling = operations.section("scaling")
    scaler = workload.autoscaler
    if scaler is not None and (scaler.min_replicas or scaler.max_replicas):
        if scaler.min_replicas is not None:
            scaling.add("minReplicas", scaler.min_replicas.value)
        if scaler.max_replicas is not None:
            scaling.add("maxReplicas", scaler.max_replicas.value)
        scaling.add("strategy", "reactive", f"{scaler.ref.kind} {scaler.ref.name}")
    elif workload.replicas is not None:
        scaling.add("minReplicas", workload.replicas.value)
        scaling.add("maxReplicas", workload.replicas.value)
        scaling.add("strategy", "manual", "fixed replica count, no autoscaler")
    latency, rps = answers.get("target_latency_ms_p95"), answers.get("target_rps")
    if latency is not None:
        scaling.add("targetLatencyMsP95", latency)
    else:
        scaling.placeholder("targetLatencyMsP95", 800, "p95 latency objective in ms")
    if rps is not None:
        scaling.add("targetRps", rps)
    else:
        scaling.placeholder("targetRps", 50, "requests per second to sustain")
    observability = operations.section("observability")
    metrics = observability.section("metrics")
    monitoring = workload.monitoring
    scraped = monitoring is not None and monitoring.scraped
    metrics.add("enabled", scraped, None if scraped else "no monitor or scrape annotation found")
    if scraped:
        metrics.add("provider", "prometheus")
        port_text = monitoring.metrics_port if monitoring is not None else None
        if port_text is not None and port_text.isdigit() and 1 <= int(port_text) <= 65535:
            metrics.add("port", int(port_text))
    level = _serving(workload, "uvicorn_log_level")
    if isinstance(level, str):
        observability.section("logging").add("level", level)
    tracing = _serving(workload, "otlp_traces_endpoint") is not None
    observability.section("tracing").add(
        "enabled", tracing, None if tracing else "no OTLP traces endpoint in the manifests"
    )


def _governance(spec: _Entry, answers: Mapping[str, Any]) -> None:
    governance = spec.section("governance")
    compliance = governance.section("compliance")
    pii = compliance.section("pii")
    if answers.get("pii_allowed") is not None:
        pii.add("allowed", bool(answers["pii_allowed"]))
    else:
        pii.placeholder("allowed", False, "may personal data reach the model?")
    if answers.get("pii_policy"):
        pii.add("policy", answers["pii_policy"])
    else:
        pii.placeholder("policy", "internal-pii-policy", "policy that governs personal data")
    retention = compliance.section("retention")
    for key, example in (("logsDays", 30), ("artifactsDays", 90)):
        answer = answers.get(key)
        if answer is not None:
            retention.add(key, answer)
        else:
            retention.placeholder(key, example, "days kept")
    owners = compliance.section("governance")
    for key, text in (
        ("owner", "ml-platform-team"),
        ("changeApproval", "change-advisory-board"),
    ):
        if answers.get(key):
            owners.add(key, answers[key])
        else:
            owners.placeholder(
                key, text, "who is accountable" if key == "owner" else "who approves changes"
            )
    cost = governance.section("cost")
    if answers.get("target_cost") is not None:
        cost.add("targetCostPer1kTokensUsd", answers["target_cost"])
    else:
        cost.placeholder("targetCostPer1kTokensUsd", 0.002, "unit-cost goal in USD")


def spec_yaml(workload: Workload, answers: Mapping[str, Any] | None = None) -> str:
    """A ModelSpec document for one workload (no leading `---`)."""
    answers = answers or {}
    top = _Entry("")
    top.add("apiVersion", "piqc.ai/v1alpha1")
    top.add("kind", "ModelSpec")
    metadata = top.section("metadata")
    metadata.add("name", workload.name)
    labels = metadata.section("labels")
    environment = answers.get("environment")
    if environment:
        labels.add("environment", environment)
    else:
        labels.placeholder("environment", "prod", "prod makes production checks apply")
    annotations = metadata.section("annotations")
    annotations.add("piqc.ai/generated-from", f"{workload.id} ({workload.source.short()})")
    spec = top.section("spec")
    _identity(spec, workload, answers)
    _runtime(spec, workload, answers)
    _operations(spec, workload, answers)
    _governance(spec, answers)
    lines: list[str] = []
    for child in top.children:
        child.render(0, lines)
    return "\n".join(lines) + "\n"


MODELINE = (
    "# yaml-language-server: $schema="
    "https://piqc.ai/schemas/piqc-advisor/modelspec-v1alpha1.schema.json"
)


def specs_yaml(workloads: list[Workload], answers: Mapping[str, Any] | None = None) -> str:
    """One document per workload, with the editor modeline on top."""
    parts = [spec_yaml(w, answers) for w in workloads]
    header = (
        f"{MODELINE}\n"
        "# Written by piqc-advisor spec init from the manifests. Lines starting with '# ' are\n"
        "# placeholders the manifests cannot fill: uncomment and set them.\n"
    )
    return header + "---\n".join(parts)
