"""Generate a deterministic corpus of LLM-serving Kubernetes manifests for benchmarks.

    python bench/make_corpus.py OUT_DIR --count 10000 [--seed 1] [--per-dir 100]

File i is generated from its own seeded random stream (seed, i), so a corpus of
N files is exactly the first N files of any larger corpus made with the same seed:
the 1,000-file corpus is a prefix of the 10,000-file one, which keeps linearity
measurements honest (same mix at every size).

The mix follows the styles of public LLM-serving manifests (vLLM production
examples, GKE/EKS tutorials, LeaderWorkerSet multi-node examples, KServe
InferenceServices, llm-d / kube-prometheus style monitors), written from our own
templates with varied names, models, accelerators and engine flags: plain
Deployments with args/env/probes/resources/volumes, `sh -c` scripts,
StatefulSets, LeaderWorkerSets, InferenceServices, Services, HPAs, PDBs,
ServiceMonitors, ConfigMaps and multi-document bundles, 30-250 lines each.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from collections.abc import Callable
from typing import Any

import yaml

# --------------------------------------------------------------------------- data

MODELS: list[tuple[str, int, str]] = [
    # (Hugging Face id, GPUs normally needed for TP, size hint)
    ("meta-llama/Llama-3.1-8B-Instruct", 1, "8b"),
    ("meta-llama/Llama-3.2-3B-Instruct", 1, "3b"),
    ("meta-llama/Llama-3.1-70B-Instruct", 4, "70b"),
    ("meta-llama/Llama-3.3-70B-Instruct", 4, "70b"),
    ("meta-llama/Meta-Llama-3.1-405B-Instruct-FP8", 8, "405b"),
    ("Qwen/Qwen2.5-7B-Instruct", 1, "7b"),
    ("Qwen/Qwen2.5-14B-Instruct", 2, "14b"),
    ("Qwen/Qwen2.5-32B-Instruct-AWQ", 1, "32b"),
    ("Qwen/Qwen2.5-72B-Instruct", 4, "72b"),
    ("Qwen/Qwen3-8B", 1, "8b"),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", 1, "7b"),
    ("mistralai/Mistral-7B-Instruct-v0.3", 1, "7b"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", 2, "47b"),
    ("mistralai/Mistral-Small-24B-Instruct-2501", 2, "24b"),
    ("google/gemma-2-9b-it", 1, "9b"),
    ("google/gemma-2-27b-it", 2, "27b"),
    ("google/gemma-3-12b-it", 1, "12b"),
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", 1, "8b"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", 2, "32b"),
    ("microsoft/Phi-3-mini-4k-instruct", 1, "4b"),
    ("microsoft/phi-4", 1, "14b"),
    ("ibm-granite/granite-3.1-8b-instruct", 1, "8b"),
    ("facebook/opt-125m", 1, "125m"),
    ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", 1, "1b"),
    ("neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", 1, "8b"),
    ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", 2, "70b"),
]

VLLM_IMAGES = [
    "vllm/vllm-openai:v0.6.3",
    "vllm/vllm-openai:v0.7.3",
    "vllm/vllm-openai:v0.8.5",
    "vllm/vllm-openai:v0.9.2",
    "vllm/vllm-openai:v0.10.1",
    "vllm/vllm-openai:latest",
    "docker.io/vllm/vllm-openai:v0.10.0",
    "registry.internal.example.com/ml/vllm-openai:0.8.4-cu124",
    "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:20250101_0916_RC00",
]
SGLANG_IMAGES = ["lmsysorg/sglang:v0.4.6.post1-cu124", "lmsysorg/sglang:latest"]
TGI_IMAGES = [
    "ghcr.io/huggingface/text-generation-inference:3.0.1",
    "ghcr.io/huggingface/text-generation-inference:2.4.0",
]

ACCELERATORS = [
    # (node selector key, value, gpu memory GiB)
    ("cloud.google.com/gke-accelerator", "nvidia-l4", 24),
    ("cloud.google.com/gke-accelerator", "nvidia-tesla-a100", 40),
    ("cloud.google.com/gke-accelerator", "nvidia-a100-80gb", 80),
    ("cloud.google.com/gke-accelerator", "nvidia-h100-80gb", 80),
    ("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB", 80),
    ("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3", 80),
    ("nvidia.com/gpu.product", "NVIDIA-A10G", 24),
    ("node.kubernetes.io/instance-type", "g5.2xlarge", 24),
    ("node.kubernetes.io/instance-type", "p4d.24xlarge", 40),
    ("karpenter.k8s.aws/instance-gpu-name", "l40s", 48),
]

NAMESPACES = [
    "default",
    "inference",
    "llm",
    "llm-serving",
    "ml-prod",
    "ml-staging",
    "genai",
    "vllm",
    "kserve-test",
    "ai-platform",
]
TEAMS = [
    "search",
    "chat",
    "copilot",
    "support",
    "ranking",
    "assist",
    "platform",
    "research",
    "docs",
    "eval",
]
ENVS = ["prod", "staging", "dev", "canary", "perf"]

# ------------------------------------------------------------------- yaml output


class _Dumper(yaml.SafeDumper):
    """SafeDumper that can indent block sequences under their key (kubectl style off/on)."""

    indent_sequences = False

    def ignore_aliases(self, data: Any) -> bool:
        return True  # hand-written manifests repeat blocks rather than use &anchors

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False if self.indent_sequences else indentless)


class _IndentedDumper(_Dumper):
    indent_sequences = True


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


for _d in (_Dumper, _IndentedDumper):
    _d.add_representer(str, _str_representer)


def dump(doc: dict[str, Any], rng: random.Random) -> str:
    dumper = _IndentedDumper if rng.random() < 0.5 else _Dumper
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=False, width=120)


# ---------------------------------------------------------------------- helpers


class Ctx:
    """Names and choices shared by the documents of one file."""

    def __init__(self, rng: random.Random, index: int) -> None:
        self.rng = rng
        self.index = index
        self.model, self.tp, self.size = rng.choice(MODELS)
        short = self.model.split("/")[-1].lower().replace(".", "-").replace("_", "-")
        short = "-".join(p for p in short.split("-") if p not in ("instruct", "it", "chat"))[
            :28
        ].strip("-")
        self.team = rng.choice(TEAMS)
        self.env = rng.choice(ENVS)
        self.name = rng.choice(
            [f"{short}", f"vllm-{short}", f"{self.team}-{short}", f"{short}-{self.env}"]
        )
        self.name = (
            f"{self.name}-{index:05d}"
            if rng.random() < 0.6
            else f"{self.name}-{rng.randrange(100, 999)}"
        )
        self.namespace = rng.choice(NAMESPACES)
        self.accel = rng.choice(ACCELERATORS)
        self.gpus = self.tp if self.accel[2] >= 40 else max(1, self.tp * 2 if self.tp > 1 else 1)
        self.gpus = min(self.gpus, 8)
        self.port = rng.choice([8000, 8000, 8000, 8080, 80, 30000])
        self.labels = (
            {"app": self.name} if rng.random() < 0.5 else {"app.kubernetes.io/name": self.name}
        )

    def metadata(self, name: str | None = None, extra_labels: bool = True) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name or self.name}
        if self.rng.random() < 0.8:
            meta["namespace"] = self.namespace
        labels = dict(self.labels)
        if extra_labels and self.rng.random() < 0.7:
            labels.update(
                {
                    "app.kubernetes.io/part-of": f"{self.team}-platform",
                    "app.kubernetes.io/component": "model-server",
                    "team": self.team,
                    "environment": self.env,
                }
            )
            if self.rng.random() < 0.4:
                labels["model.size"] = self.size
        meta["labels"] = labels
        if self.rng.random() < 0.3:
            meta["annotations"] = {
                "owner": f"{self.team}@example.com",
                "description": f"{self.model} served with vLLM for the {self.team} team",
            }
        return meta


def vllm_flags(ctx: Ctx) -> list[tuple[str, str | None]]:
    rng = ctx.rng
    flags: list[tuple[str, str | None]] = []
    flags.append(("--port", str(ctx.port)))
    if rng.random() < 0.5:
        flags.append(("--host", "0.0.0.0"))
    if rng.random() < 0.7:
        flags.append(("--served-model-name", ctx.model.split("/")[-1].lower()))
    if ctx.gpus > 1 or rng.random() < 0.3:
        flags.append(("--tensor-parallel-size", str(ctx.gpus)))
    optional: list[tuple[str, str | None]] = [
        ("--max-model-len", rng.choice(["2048", "4096", "8192", "16384", "32768", "131072"])),
        ("--gpu-memory-utilization", rng.choice(["0.85", "0.9", "0.92", "0.95", "0.98"])),
        ("--max-num-seqs", rng.choice(["32", "64", "128", "256", "512"])),
        ("--max-num-batched-tokens", rng.choice(["2048", "8192", "16384"])),
        ("--enable-prefix-caching", None),
        ("--enable-chunked-prefill", None),
        ("--dtype", rng.choice(["auto", "bfloat16", "half", "float16"])),
        ("--kv-cache-dtype", rng.choice(["auto", "fp8", "fp8_e5m2"])),
        ("--disable-log-requests", None),
        ("--trust-remote-code", None),
        ("--download-dir", "/models"),
        ("--swap-space", rng.choice(["0", "4", "16"])),
        ("--enforce-eager", None),
        ("--block-size", rng.choice(["16", "32"])),
        ("--seed", str(rng.randrange(0, 1000))),
        ("--uvicorn-log-level", "warning"),
        ("--enable-auto-tool-choice", None),
        ("--tool-call-parser", rng.choice(["hermes", "llama3_json", "mistral"])),
        ("--api-key", "$(VLLM_API_KEY)"),
        ("--max-log-len", "100"),
    ]
    if "AWQ" in ctx.model or "awq" in ctx.model:
        flags.append(("--quantization", "awq"))
    rng.shuffle(optional)
    flags += optional[: rng.randrange(2, 12)]
    return flags


def flags_to_args(flags: list[tuple[str, str | None]], rng: random.Random) -> list[str]:
    equals = rng.random() < 0.35
    out: list[str] = []
    for flag, value in flags:
        if value is None:
            out.append(flag)
        elif equals:
            out.append(f"{flag}={value}")
        else:
            out += [flag, value]
    return out


def flags_to_script(flags: list[tuple[str, str | None]]) -> str:
    parts = [f"{f} {v}" if v is not None else f for f, v in flags]
    return " \\\n  ".join(parts)


def env_list(ctx: Ctx, count: int) -> list[dict[str, Any]]:
    rng = ctx.rng
    env: list[dict[str, Any]] = []
    if rng.random() < 0.8:
        env.append(
            {
                "name": "HUGGING_FACE_HUB_TOKEN" if rng.random() < 0.5 else "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": rng.choice(["hf-token", "hf-secret", "huggingface"]),
                        "key": rng.choice(["token", "HF_TOKEN", "hf_api_token"]),
                    }
                },
            }
        )
    pool = [
        ("VLLM_LOGGING_LEVEL", rng.choice(["INFO", "DEBUG", "WARNING"])),
        ("HF_HOME", "/models/hf"),
        ("VLLM_USE_V1", rng.choice(["0", "1"])),
        ("VLLM_WORKER_MULTIPROC_METHOD", "spawn"),
        ("NCCL_DEBUG", "WARN"),
        ("NCCL_SOCKET_IFNAME", "eth0"),
        ("OMP_NUM_THREADS", str(rng.choice([1, 4, 8]))),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_HUB_ENABLE_HF_TRANSFER", "1"),
        ("CUDA_DEVICE_ORDER", "PCI_BUS_ID"),
        ("VLLM_ATTENTION_BACKEND", rng.choice(["FLASH_ATTN", "FLASHINFER", "XFORMERS"])),
        ("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True"),
        ("MODEL_ID", ctx.model),
        ("LOG_FORMAT", "json"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4317"),
        ("OTEL_SERVICE_NAME", ctx.name),
    ]
    rng.shuffle(pool)
    for name, value in pool[:count]:
        env.append({"name": name, "value": value})
    if rng.random() < 0.3:
        env.append({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    if rng.random() < 0.2:
        env.append(
            {
                "name": "VLLM_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "key"}},
            }
        )
    return env


def resources(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    gpu = str(ctx.gpus) if rng.random() < 0.6 else ctx.gpus
    mem = f"{rng.choice([16, 24, 32, 48, 64, 96, 128, 256]) * max(1, ctx.gpus // 2)}Gi"
    cpu = str(rng.choice([2, 4, 8, 10, 16, 32]))
    style = rng.random()
    if style < 0.5:
        return {
            "requests": {"cpu": cpu, "memory": mem, "nvidia.com/gpu": gpu},
            "limits": {"memory": mem, "nvidia.com/gpu": gpu},
        }
    if style < 0.8:
        return {"limits": {"cpu": cpu, "memory": mem, "nvidia.com/gpu": gpu}}
    return {
        "requests": {"cpu": cpu, "memory": mem, "ephemeral-storage": "50Gi"},
        "limits": {"nvidia.com/gpu": gpu, "ephemeral-storage": "100Gi"},
    }


def probes(ctx: Ctx, container: dict[str, Any]) -> None:
    rng = ctx.rng
    port: int | str = ctx.port if rng.random() < 0.6 else "http"
    if rng.random() < 0.8:
        container["readinessProbe"] = {
            "httpGet": {"path": "/health", "port": port},
            "initialDelaySeconds": rng.choice([5, 15, 30, 60]),
            "periodSeconds": rng.choice([5, 10]),
            "failureThreshold": rng.choice([3, 6]),
        }
    if rng.random() < 0.7:
        container["livenessProbe"] = {
            "httpGet": {"path": "/health", "port": port},
            "initialDelaySeconds": rng.choice([30, 120, 240, 600]),
            "periodSeconds": 10,
            "timeoutSeconds": rng.choice([1, 5]),
        }
    if rng.random() < 0.4:
        container["startupProbe"] = {
            "httpGet": {"path": "/health", "port": port},
            "periodSeconds": 10,
            "failureThreshold": rng.choice([60, 90, 180]),
        }


def volumes(ctx: Ctx) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = ctx.rng
    mounts: list[dict[str, Any]] = []
    vols: list[dict[str, Any]] = []
    if rng.random() < 0.8:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
        vols.append(
            {
                "name": "dshm",
                "emptyDir": {
                    "medium": "Memory",
                    "sizeLimit": rng.choice(["2Gi", "8Gi", "16Gi", "32Gi"]),
                },
            }
        )
    cache = rng.random()
    if cache < 0.4:
        mounts.append(
            {
                "name": "model-cache",
                "mountPath": rng.choice(["/root/.cache/huggingface", "/models", "/data"]),
            }
        )
        vols.append(
            {"name": "model-cache", "persistentVolumeClaim": {"claimName": f"{ctx.name}-cache"}}
        )
    elif cache < 0.7:
        mounts.append({"name": "model-cache", "mountPath": "/models"})
        vols.append({"name": "model-cache", "emptyDir": {}})
    elif cache < 0.85:
        mounts.append({"name": "models", "mountPath": "/models", "readOnly": True})
        vols.append({"name": "models", "hostPath": {"path": "/mnt/models", "type": "Directory"}})
    if rng.random() < 0.2:
        mounts.append({"name": "chat-template", "mountPath": "/templates"})
        vols.append({"name": "chat-template", "configMap": {"name": f"{ctx.name}-chat-template"}})
    return mounts, vols


def vllm_container(ctx: Ctx, name: str = "vllm", style: str | None = None) -> dict[str, Any]:
    rng = ctx.rng
    flags = vllm_flags(ctx)
    style = style or rng.choice(["args", "args", "serve", "command", "shc", "shc"])
    c: dict[str, Any] = {"name": name, "image": rng.choice(VLLM_IMAGES)}
    if rng.random() < 0.4:
        c["imagePullPolicy"] = rng.choice(["IfNotPresent", "Always"])
    if style == "args":
        c["args"] = ["--model", ctx.model, *flags_to_args(flags, rng)]
    elif style == "serve":
        c["command"] = ["vllm", "serve"] if rng.random() < 0.5 else ["vllm"]
        c["args"] = ([] if c["command"] == ["vllm", "serve"] else ["serve"]) + [
            ctx.model,
            *flags_to_args(flags, rng),
        ]
    elif style == "command":
        c["command"] = ["python3", "-m", "vllm.entrypoints.openai.api_server"]
        c["args"] = [f"--model={ctx.model}", *flags_to_args(flags, rng)]
    else:
        pre = rng.choice(
            [
                "",
                "set -e\n",
                "pip install --no-cache-dir hf_transfer\n",
                "huggingface-cli download " + ctx.model + " --local-dir /models/m\n",
            ]
        )
        serve = rng.choice(
            [
                f"vllm serve {ctx.model}",
                f"python3 -m vllm.entrypoints.openai.api_server --model {ctx.model}",
            ]
        )
        script = f"{pre}{serve} \\\n  {flags_to_script(flags)}\n"
        if rng.random() < 0.5:
            c["command"] = ["/bin/sh", "-c"]
            c["args"] = [script]
        else:
            c["command"] = ["sh", "-c", script]
    env = env_list(ctx, rng.randrange(0, 10))
    if env:
        c["env"] = env
    if rng.random() < 0.2:
        c["envFrom"] = [{"configMapRef": {"name": f"{ctx.name}-env"}}]
    c["ports"] = (
        [{"name": "http", "containerPort": ctx.port, "protocol": "TCP"}]
        if rng.random() < 0.7
        else [{"containerPort": ctx.port}]
    )
    c["resources"] = resources(ctx)
    probes(ctx, c)
    return c


def other_engine_container(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    if rng.random() < 0.5:
        args = [
            "python3",
            "-m",
            "sglang.launch_server",
            "--model-path",
            ctx.model,
            "--host",
            "0.0.0.0",
            "--port",
            str(ctx.port),
            "--tp",
            str(ctx.gpus),
        ]
        if rng.random() < 0.5:
            args += ["--mem-fraction-static", "0.85"]
        c: dict[str, Any] = {"name": "sglang", "image": rng.choice(SGLANG_IMAGES), "command": args}
    else:
        c = {
            "name": "tgi",
            "image": rng.choice(TGI_IMAGES),
            "args": [
                "--model-id",
                ctx.model,
                "--num-shard",
                str(ctx.gpus),
                "--port",
                str(ctx.port),
                "--max-input-tokens",
                "4096",
                "--max-total-tokens",
                "8192",
            ],
        }
    c["env"] = env_list(ctx, rng.randrange(0, 4)) or [{"name": "HF_HOME", "value": "/data"}]
    c["ports"] = [{"containerPort": ctx.port}]
    c["resources"] = resources(ctx)
    probes(ctx, c)
    return c


def pod_spec(
    ctx: Ctx, containers: list[dict[str, Any]], vols: list[dict[str, Any]]
) -> dict[str, Any]:
    rng = ctx.rng
    spec: dict[str, Any] = {}
    if rng.random() < 0.3:
        spec["serviceAccountName"] = f"{ctx.team}-inference"
    if rng.random() < 0.7:
        spec["nodeSelector"] = {ctx.accel[0]: ctx.accel[1]}
    if rng.random() < 0.6:
        spec["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    if rng.random() < 0.2:
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": dict(ctx.labels)},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        }
    if rng.random() < 0.2:
        spec["priorityClassName"] = rng.choice(["high-priority", "inference-critical"])
    if rng.random() < 0.3:
        spec["terminationGracePeriodSeconds"] = rng.choice([30, 60, 120])
    if rng.random() < 0.15:
        spec["initContainers"] = [
            {
                "name": "download-model",
                "image": "python:3.11-slim",
                "command": [
                    "sh",
                    "-c",
                    "pip install -q huggingface_hub && "
                    f"huggingface-cli download {ctx.model} --local-dir /models/m",
                ],
                "volumeMounts": [{"name": "model-cache", "mountPath": "/models"}],
            }
        ]
    spec["containers"] = containers
    if vols:
        spec["volumes"] = vols
    return spec


def template(
    ctx: Ctx, containers: list[dict[str, Any]], vols: list[dict[str, Any]]
) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": dict(ctx.labels)}
    if ctx.rng.random() < 0.4:
        meta["annotations"] = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(ctx.port),
            "prometheus.io/path": "/metrics",
        }
    return {"metadata": meta, "spec": pod_spec(ctx, containers, vols)}


def main_container(ctx: Ctx) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    c = other_engine_container(ctx) if ctx.rng.random() < 0.1 else vllm_container(ctx)
    mounts, vols = volumes(ctx)
    if mounts:
        c["volumeMounts"] = mounts
    return c, vols


# -------------------------------------------------------------------- documents


def deployment(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    c, vols = main_container(ctx)
    containers = [c]
    if rng.random() < 0.1:
        containers.append(
            {
                "name": "metrics-proxy",
                "image": "nginx:1.27-alpine",
                "ports": [{"containerPort": 9090}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            }
        )
    spec: dict[str, Any] = {
        "replicas": rng.choice([1, 1, 2, 3, 4]),
        "selector": {"matchLabels": dict(ctx.labels)},
    }
    if rng.random() < 0.4:
        spec["strategy"] = rng.choice(
            [
                {"type": "Recreate"},
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            ]
        )
    spec["template"] = template(ctx, containers, vols)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": ctx.metadata(), "spec": spec}


def statefulset(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    c, vols = main_container(ctx)
    vols = [v for v in vols if v["name"] != "model-cache"]
    c["volumeMounts"] = [m for m in c.get("volumeMounts", []) if m["name"] != "model-cache"] + [
        {"name": "model-cache", "mountPath": "/models"}
    ]
    spec = {
        "serviceName": f"{ctx.name}-headless",
        "replicas": rng.choice([1, 2, 3]),
        "selector": {"matchLabels": dict(ctx.labels)},
        "template": template(ctx, [c], vols),
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "model-cache"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": rng.choice(["premium-rwo", "gp3", "standard"]),
                    "resources": {"requests": {"storage": rng.choice(["50Gi", "200Gi", "500Gi"])}},
                },
            }
        ],
    }
    if rng.random() < 0.5:
        spec["podManagementPolicy"] = "Parallel"
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": ctx.metadata(),
        "spec": spec,
    }


def leader_worker_set(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    ctx.gpus = rng.choice([4, 8])
    size = rng.choice([2, 2, 4])
    flags = vllm_flags(ctx)
    flags = [f for f in flags if f[0] != "--tensor-parallel-size"]
    flags += [("--tensor-parallel-size", str(ctx.gpus)), ("--pipeline-parallel-size", str(size))]
    image = rng.choice(VLLM_IMAGES)
    leader_script = (
        "bash /vllm-workspace/examples/online_serving/multi-node-serving.sh leader "
        "--ray_cluster_size=$(LWS_GROUP_SIZE);\n"
        f"python3 -m vllm.entrypoints.openai.api_server --model {ctx.model} \\\n  "
        f"{flags_to_script(flags)}\n"
    )
    worker_script = (
        "bash /vllm-workspace/examples/online_serving/multi-node-serving.sh worker "
        "--ray_address=$(LWS_LEADER_ADDRESS)\n"
    )
    mounts = [{"mountPath": "/dev/shm", "name": "dshm"}]
    vols = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "15Gi"}}]
    res = {
        "limits": {
            "nvidia.com/gpu": str(ctx.gpus),
            "memory": "1124Gi",
            "ephemeral-storage": "800Gi",
        },
        "requests": {"ephemeral-storage": "800Gi", "cpu": 125},
    }
    leader = {
        "name": "vllm-leader",
        "image": image,
        "env": env_list(ctx, rng.randrange(1, 5)),
        "command": ["sh", "-c", leader_script],
        "resources": res,
        "ports": [{"containerPort": ctx.port}],
        "readinessProbe": {
            "tcpSocket": {"port": ctx.port},
            "initialDelaySeconds": 15,
            "periodSeconds": 10,
        },
        "volumeMounts": mounts,
    }
    worker = {
        "name": "vllm-worker",
        "image": image,
        "command": ["sh", "-c", worker_script],
        "resources": res,
        "env": env_list(ctx, rng.randrange(0, 3)),
        "volumeMounts": mounts,
    }
    spec = {
        "replicas": rng.choice([1, 2]),
        "leaderWorkerTemplate": {
            "size": size,
            "restartPolicy": "RecreateGroupOnPodRestart",
            "leaderTemplate": {
                "metadata": {"labels": {"role": "leader"}},
                "spec": {"containers": [leader], "volumes": vols},
            },
            "workerTemplate": {"spec": {"containers": [worker], "volumes": vols}},
        },
    }
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": ctx.metadata(),
        "spec": spec,
    }


def inference_service(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    meta = ctx.metadata()
    if rng.random() < 0.5:
        meta.setdefault("annotations", {})["serving.kserve.io/deploymentMode"] = rng.choice(
            ["RawDeployment", "Serverless"]
        )
    predictor: dict[str, Any] = {}
    if rng.random() < 0.5:
        predictor["minReplicas"] = rng.choice([0, 1, 2])
        predictor["maxReplicas"] = rng.choice([2, 4, 8])
    if rng.random() < 0.6:
        model: dict[str, Any] = {
            "modelFormat": {"name": "huggingface"},
            "args": [f"--model_name={ctx.name}", f"--model_id={ctx.model}"],
        }
        if rng.random() < 0.5:
            model["args"] += ["--backend=vllm", f"--max-model-len={rng.choice([4096, 8192])}"]
        if rng.random() < 0.4:
            model["storageUri"] = f"hf://{ctx.model}"
        if rng.random() < 0.5:
            model["env"] = env_list(ctx, rng.randrange(0, 3))
        model["resources"] = resources(ctx)
        predictor["model"] = model
    else:
        c = vllm_container(ctx, name="kserve-container", style=rng.choice(["args", "command"]))
        predictor["containers"] = [c]
    if rng.random() < 0.4:
        predictor["nodeSelector"] = {ctx.accel[0]: ctx.accel[1]}
        predictor["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": predictor},
    }


def service(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    spec: dict[str, Any] = {
        "type": rng.choice(["ClusterIP", "ClusterIP", "LoadBalancer", "NodePort"]),
        "selector": dict(ctx.labels),
        "ports": [
            {
                "name": "http",
                "port": rng.choice([80, 8000, ctx.port]),
                "targetPort": ctx.port,
                "protocol": "TCP",
            }
        ],
    }
    if rng.random() < 0.2:
        spec["sessionAffinity"] = "ClientIP"
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.metadata(), "spec": spec}


def hpa(ctx: Ctx, target_kind: str = "Deployment") -> dict[str, Any]:
    rng = ctx.rng
    metrics: list[dict[str, Any]] = []
    if rng.random() < 0.6:
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {
                        "name": rng.choice(
                            [
                                "vllm:num_requests_waiting",
                                "vllm:gpu_cache_usage_perc",
                                "vllm_num_requests_running",
                            ]
                        )
                    },
                    "target": {"type": "AverageValue", "averageValue": str(rng.choice([1, 5, 10]))},
                },
            }
        )
    if not metrics or rng.random() < 0.4:
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": rng.choice([60, 70, 80]),
                    },
                },
            }
        )
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": target_kind, "name": ctx.name},
        "minReplicas": rng.choice([1, 2]),
        "maxReplicas": rng.choice([4, 8, 16]),
        "metrics": metrics,
    }
    if rng.random() < 0.4:
        spec["behavior"] = {
            "scaleDown": {
                "stabilizationWindowSeconds": 300,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
            },
            "scaleUp": {"stabilizationWindowSeconds": 0},
        }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": ctx.metadata(),
        "spec": spec,
    }


def pdb(ctx: Ctx) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(ctx.labels)}}
    if ctx.rng.random() < 0.5:
        spec["minAvailable"] = ctx.rng.choice([1, "50%"])
    else:
        spec["maxUnavailable"] = 1
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ctx.metadata(extra_labels=False),
        "spec": spec,
    }


def service_monitor(ctx: Ctx) -> dict[str, Any]:
    meta = ctx.metadata()
    meta["labels"]["release"] = ctx.rng.choice(["prometheus", "kube-prometheus-stack"])
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": dict(ctx.labels)},
            "namespaceSelector": {"matchNames": [ctx.namespace]},
            "endpoints": [
                {
                    "port": "http",
                    "path": "/metrics",
                    "interval": ctx.rng.choice(["15s", "30s"]),
                    "scrapeTimeout": "10s",
                }
            ],
        },
    }


CHAT_TEMPLATE = (
    "{% for message in messages %}\n"
    "{% if message['role'] == 'system' %}<|system|>\n{{ message['content'] }}\n"
    "{% elif message['role'] == 'user' %}<|user|>\n{{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}<|assistant|>\n{{ message['content'] }}\n"
    "{% endif %}\n{% endfor %}\n{% if add_generation_prompt %}<|assistant|>\n{% endif %}\n"
)


def config_map(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    kind = rng.random()
    meta = ctx.metadata(
        f"{ctx.name}-{'chat-template' if kind < 0.4 else 'env' if kind < 0.7 else 'config'}"
    )
    if kind < 0.4:
        data = {"template.jinja": CHAT_TEMPLATE * rng.randrange(1, 4)}
    elif kind < 0.7:
        data = {
            name: str(value)
            for name, value in [
                ("VLLM_LOGGING_LEVEL", "INFO"),
                ("MAX_MODEL_LEN", rng.choice([4096, 8192])),
                ("GPU_MEMORY_UTILIZATION", "0.9"),
                ("MODEL_NAME", ctx.model),
                ("PORT", ctx.port),
                ("HF_HUB_OFFLINE", "1"),
                ("TENSOR_PARALLEL_SIZE", ctx.gpus),
            ][: rng.randrange(3, 8)]
        }
    else:
        lines = [
            f"model: {ctx.model}",
            f"port: {ctx.port}",
            f"tensor-parallel-size: {ctx.gpus}",
            f"max-model-len: {rng.choice([4096, 8192, 32768])}",
            "gpu-memory-utilization: 0.9",
            "enable-prefix-caching: true",
            "disable-log-requests: true",
        ]
        data = {
            "config.yaml": "\n".join(lines[: rng.randrange(3, 8)]) + "\n",
            "logging.json": '{\n  "version": 1,\n  "disable_existing_loggers": false\n}\n',
        }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def pvc(ctx: Ctx) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": ctx.metadata(f"{ctx.name}-cache"),
        "spec": {
            "accessModes": [ctx.rng.choice(["ReadWriteOnce", "ReadWriteMany"])],
            "storageClassName": ctx.rng.choice(["standard-rwo", "efs-sc", "filestore"]),
            "resources": {"requests": {"storage": ctx.rng.choice(["100Gi", "256Gi", "1Ti"])}},
        },
    }


# ----------------------------------------------------------------------- files

Builder = Callable[[Ctx], list[dict[str, Any]]]

FILE_KINDS: list[tuple[str, float, Builder]] = [
    ("deployment", 26, lambda c: [deployment(c)]),
    (
        "deployment-bundle",
        14,
        lambda c: (
            [deployment(c), service(c)]
            + ([hpa(c)] if c.rng.random() < 0.5 else [])
            + ([pdb(c)] if c.rng.random() < 0.4 else [])
            + ([service_monitor(c)] if c.rng.random() < 0.3 else [])
            + ([config_map(c)] if c.rng.random() < 0.25 else [])
        ),
    ),
    ("deployment-pvc", 4, lambda c: [pvc(c), deployment(c), service(c)]),
    ("statefulset", 7, lambda c: [statefulset(c)] + ([service(c)] if c.rng.random() < 0.6 else [])),
    (
        "leaderworkerset",
        6,
        lambda c: [leader_worker_set(c)] + ([service(c)] if c.rng.random() < 0.6 else []),
    ),
    ("inferenceservice", 8, lambda c: [inference_service(c)]),
    ("service", 9, lambda c: [service(c)]),
    ("hpa", 6, lambda c: [hpa(c, c.rng.choice(["Deployment", "StatefulSet"]))]),
    ("pdb", 4, lambda c: [pdb(c)]),
    ("servicemonitor", 5, lambda c: [service_monitor(c)]),
    ("configmap", 7, lambda c: [config_map(c)]),
    ("configmap-deployment", 4, lambda c: [config_map(c), deployment(c)]),
]
_WEIGHTS = [w for _, w, _ in FILE_KINDS]

MIN_LINES, MAX_LINES = 30, 250

HEADERS = [
    "# {model} on {accel}, owned by the {team} team.\n",
    "# Source: {team}-platform/charts/llm/templates/{kind}.yaml\n",
    "# In the style of the vLLM production-stack / GKE tutorials. Do not edit by hand.\n"
    "# Regenerate with `make manifests`.\n",
    "",
    "",
]


def _pad_small(ctx: Ctx, docs: list[dict[str, Any]]) -> None:
    """Small single-purpose files get extra labels/annotations, as real ones tend to."""
    for doc in docs:
        meta = doc["metadata"]
        ann = meta.setdefault("annotations", {})
        ann["kubectl.kubernetes.io/last-applied-by"] = f"argocd-{ctx.team}"
        start = len(ann)
        for i in range(start, start + ctx.rng.randrange(6, 14)):
            ann[f"{ctx.team}.example.com/note-{i}"] = (
                f"tracking ticket ML-{ctx.rng.randrange(1000, 9999)}"
            )


def render(index: int, seed: int) -> tuple[str, str, str]:
    """The (kind, file name, text) of file `index` of the corpus made with `seed`."""
    rng = random.Random(f"{seed}:{index}")
    ctx = Ctx(rng, index)
    kind, _, build = rng.choices(FILE_KINDS, weights=_WEIGHTS)[0]
    docs = build(ctx)
    header = rng.choice(HEADERS).format(
        model=ctx.model, accel=ctx.accel[1], team=ctx.team, kind=kind
    )
    text = header + "---\n".join(dump(d, rng) for d in docs)
    while text.count("\n") < MIN_LINES:
        _pad_small(ctx, docs)
        text = header + "---\n".join(dump(d, rng) for d in docs)
    lines = text.split("\n")
    if len(lines) > MAX_LINES + 1:
        # rare: drop the optional trailing documents rather than cut a document in half
        while len(docs) > 1 and text.count("\n") > MAX_LINES:
            docs.pop()
            text = header + "---\n".join(dump(d, rng) for d in docs)
    ext = ".yml" if rng.random() < 0.15 else ".yaml"
    rel = f"{kind}-{ctx.name}{ext}"
    return kind, rel, text


def generate(out: str, count: int, seed: int = 1, per_dir: int = 100) -> dict[str, int]:
    """Write `count` files under `out`, `per_dir` to a subdirectory; return the kind counts."""
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    stats: dict[str, int] = {}
    for i in range(count):
        kind, rel, text = render(i, seed)
        sub = os.path.join(out, f"team-{i // per_dir:03d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"{i:05d}-{rel}"), "w", encoding="utf-8") as handle:
            handle.write(text)
        stats[kind] = stats.get(kind, 0) + 1
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", help="output directory (replaced)")
    parser.add_argument("--count", "-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-dir", type=int, default=100, help="files per subdirectory")
    args = parser.parse_args(argv)
    stats = generate(args.out, args.count, args.seed, args.per_dir)
    print(
        f"wrote {args.count} files to {args.out}: "
        + ", ".join(f"{k}={v}" for k, v in sorted(stats.items())),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
