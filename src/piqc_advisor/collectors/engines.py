"""Which serving engine a container runs, and the serving settings it declares."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from piqc_advisor.collectors.command_line import (
    LEGACY_API_SERVER,
    OPENAI_API_SERVER,
    SERVE,
    Token,
    basename,
    find_vllm_invocation,
)
from piqc_advisor.collectors.container_view import ContainerView, EnvVar
from piqc_advisor.collectors.image_ref import split_image
from piqc_advisor.collectors.vllm_args import (
    VLLM_FLAGS,
    VllmCommandLine,
    apply_config_file,
    parse_vllm_args,
    vllm_env_settings,
)
from piqc_advisor.facts.origin import Declared, Origin
from piqc_advisor.facts.workload import SERVING_KEYS, ArgIssue, EngineGuess

__all__ = [
    "ENGINE_NAMES",
    "SIDECAR_NAMES",
    "ImageRef",
    "ServingExtraction",
    "choose_serving_container",
    "detect_engine",
    "image_version",
    "parse_image",
    "serving_config",
]

# Engine names. Triton running the TensorRT-LLM backend is "triton" with the signal
# "tensorrtllm-backend": the process, its flags, ports and probes are Triton's. The
# OpenAI-compatible `trtllm-serve` server is a different process and is "trtllm".
ENGINE_NAMES: tuple[str, ...] = (
    "vllm",
    "sglang",
    "tgi",
    "tei",
    "triton",
    "trtllm",
    "nim",
    "kserve-huggingface",
    "llamacpp",
    "ollama",
)
TRTLLM_BACKEND_SIGNAL = "tensorrtllm-backend"

# --------------------------------------------------------------------------------------
# Evidence weights. Confidence = 1 - prod(1 - w) over an engine's distinct signals
# (noisy-OR), then scaled by (1 - RIVAL_PENALTY x the runner-up's score). An engine is
# claimed only with at least one decisive signal (weight >= DECISIVE): ports and flags or
# variables shared by several engines only add to a claim, never make one.
# --------------------------------------------------------------------------------------

W_IMAGE_KNOWN = 0.75  # a well-known engine image repository
W_IMAGE_NAME = 0.45  # the repository name merely contains the engine's name
W_COMMAND = 0.85  # the engine's binary or module is what runs
W_COMMAND_PATH = 0.6  # an engine-specific start script path
W_FLAG = 0.3  # a flag only this engine has
W_ENV = 0.25  # an environment variable only this engine reads
W_SHARED = 0.1  # flags / variables a family of engines share (TGI and TEI)
W_PORT = 0.1  # the engine's default port is exposed
DECISIVE = 0.25
RIVAL_PENALTY = 0.3


# --------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into registry, repository path, tag and digest."""

    registry: str | None
    repository: str
    tag: str | None
    digest: str | None


_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


def parse_image(ref: str) -> ImageRef:
    """Split ``[registry/]path[:tag][@digest]``; Docker Hub's host and ``library/`` dropped."""
    rest, tag, digest = split_image(ref.strip())
    parts = [p for p in rest.split("/") if p]
    registry: str | None = None
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0).lower()
    if registry in _DOCKER_HUB:
        registry = None
    if registry is None and len(parts) > 1 and parts[0] == "library":
        parts.pop(0)
    return ImageRef(registry, "/".join(parts).lower(), tag, digest)


# Repository paths (matched as whole trailing path segments, so mirrors match too).
_KNOWN_IMAGES: dict[str, tuple[str, ...]] = {
    "vllm": (
        "vllm/vllm-openai",
        "vllm-openai",
        "vllm-openai-rocm",
        "vllm-tpu",
        "vllm-cpu",
        "rocm/vllm",
        "rocm/vllm-dev",
    ),
    "sglang": ("lmsysorg/sglang", "sglang"),
    "tgi": ("huggingface/text-generation-inference", "text-generation-inference"),
    "tei": ("huggingface/text-embeddings-inference", "text-embeddings-inference"),
    "triton": ("nvidia/tritonserver", "tritonserver"),
    "trtllm": ("nvidia/tensorrt-llm/release", "tensorrt-llm/release", "tensorrt-llm"),
    "kserve-huggingface": ("kserve/huggingfaceserver", "huggingfaceserver"),
    "llamacpp": ("ggml-org/llama.cpp", "ggerganov/llama.cpp", "llama.cpp"),
    "ollama": ("ollama/ollama",),
}
_IMAGE_WORDS: dict[str, frozenset[str]] = {
    "vllm": frozenset({"vllm"}),
    "sglang": frozenset({"sglang"}),
    "tgi": frozenset({"tgi"}),
    "tei": frozenset({"tei"}),
    "triton": frozenset({"triton", "tritonserver"}),
    "trtllm": frozenset({"trtllm", "tensorrt"}),
    "kserve-huggingface": frozenset({"huggingfaceserver"}),
    "llamacpp": frozenset({"llamacpp"}),
    "ollama": frozenset({"ollama"}),
}
# A repository with one of these words is a helper around an engine, not the engine.
_HELPER_WORDS = frozenset(
    {
        "router", "proxy", "gateway", "exporter", "operator", "client", "bench",
        "benchmark", "ui", "webui", "metrics", "sidecar", "init", "downloader", "loader",
        "controller", "agent", "tests",
    }
)  # fmt: skip


def _path_match(repository: str, suffix: str) -> bool:
    return repository == suffix or repository.endswith("/" + suffix)


def _image_words(repository: str) -> set[str]:
    text = repository.replace("llama.cpp", "llamacpp").replace("llama-cpp", "llamacpp")
    return {w for w in re.split(r"[/._-]+", text) if w}


def _image_evidence(image: ImageRef) -> list[tuple[str, str, float]]:
    """(engine, signal, weight) found in an image reference."""
    found: list[tuple[str, str, float]] = []
    repo = image.repository
    signal = f"image:{repo}"
    if image.registry == "nvcr.io" and repo.startswith("nim/"):
        return [("nim", f"image:nvcr.io/{repo}", W_IMAGE_KNOWN)]
    for engine, paths in _KNOWN_IMAGES.items():
        if any(_path_match(repo, p) for p in paths):
            found.append((engine, signal, W_IMAGE_KNOWN))
    if found:
        return found
    words = _image_words(repo)
    if words & _HELPER_WORDS:
        return []
    for engine, keys in _IMAGE_WORDS.items():
        if words & keys:
            found.append((engine, signal, W_IMAGE_NAME))
    return found


_VERSION = re.compile(
    r"v?(\d+(?:\.\d+)+(?:(?:[.-])?(?:post|rc|dev)\d+|[ab]\d+)?)(?:[-_+].*)?", re.IGNORECASE
)
_BUILD = re.compile(r"(?:^|-)(b\d{3,})(?:-|$)")


def image_version(tag: str | None) -> str | None:
    """A version read from an image tag: ``v0.6.3`` -> ``0.6.3``, ``cpu-1.6`` -> ``1.6``.

    Suffixes such as ``-cu121`` or ``-trtllm-python-py3`` are dropped; ``latest``,
    ``sha-...`` and other non-versions give None. llama.cpp build tags give ``bNNNN``.
    """
    if not tag:
        return None
    m = _VERSION.fullmatch(tag)
    if m:
        return m.group(1)
    parts = tag.split("-")
    for k in range(1, len(parts)):
        m = _VERSION.fullmatch("-".join(parts[k:]))
        if m:
            return m.group(1)
    b = _BUILD.search(tag)
    return b.group(1) if b else None


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------

_PYTHON = re.compile(r"python(\d+(\.\d+)*)?$")
_SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
_PY_MODULES: dict[str, str] = {
    "sglang.launch_server": "sglang",
    "huggingfaceserver": "kserve-huggingface",
}
_BINARIES: dict[str, str] = {
    "text-generation-launcher": "tgi",
    "text-embeddings-router": "tei",
    "tritonserver": "triton",
    "launch_triton_server.py": "triton",
    "trtllm-serve": "trtllm",
    "llama-server": "llamacpp",
}
_SEPARATORS = {";", "&&", "||", "|", "&"}


@dataclass(frozen=True)
class _Invocation:
    engine: str
    signal: str
    weight: float
    args: tuple[Token, ...]


def _invocation_at(tokens: Sequence[Token], i: int) -> _Invocation | None:
    text = tokens[i].text
    base = basename(text)

    def rest(start: int) -> tuple[Token, ...]:
        out: list[Token] = []
        for tok in tokens[start:]:
            if tok.from_shell and tok.text in _SEPARATORS:
                break
            out.append(tok)
        return tuple(out)

    if base in _BINARIES:
        return _Invocation(_BINARIES[base], f"command:{base}", W_COMMAND, rest(i + 1))
    if base == "ollama" and i + 1 < len(tokens) and tokens[i + 1].text == "serve":
        return _Invocation("ollama", "command:ollama serve", W_COMMAND, rest(i + 2))
    if text.startswith("/opt/nim/"):
        return _Invocation("nim", f"command:{text}", W_COMMAND_PATH, rest(i + 1))
    if text in _PY_MODULES:
        return _Invocation(_PY_MODULES[text], f"command:{text}", W_COMMAND, rest(i + 1))
    if _PYTHON.match(base):
        j = i + 1
        while j < len(tokens) and tokens[j].text.startswith("-"):
            opt = tokens[j].text
            module = tokens[j + 1].text if opt == "-m" and j + 1 < len(tokens) else opt[2:]
            if opt.startswith("-m") and module in _PY_MODULES:
                start = j + (2 if opt == "-m" else 1)
                signal = f"command:python -m {module}"
                return _Invocation(_PY_MODULES[module], signal, W_COMMAND, rest(start))
            if opt.startswith("-m"):
                return None
            j += 1
    return None


_VLLM_SIGNALS = {
    SERVE: "command:vllm serve",
    OPENAI_API_SERVER: "command:python -m vllm.entrypoints.openai.api_server",
    LEGACY_API_SERVER: "command:python -m vllm.entrypoints.api_server",
}


def _script_tokens(tokens: Sequence[Token]) -> list[Token] | None:
    """The words of an ``sh -c SCRIPT`` that was not flattened, as pseudo tokens."""
    if not tokens or basename(tokens[0].text) not in _SHELLS:
        return None
    for k, tok in enumerate(tokens[1:], start=1):
        if tok.text.startswith("-") and "c" in tok.text[1:] and not tok.text.startswith("--"):
            if k + 1 >= len(tokens):
                return None
            script = tokens[k + 1]
            lexer = shlex.shlex(script.text, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            try:
                words = list(lexer)
            except ValueError:
                words = script.text.split()
            return [Token(w, script.source, script.index, True) for w in words]
    return None


def _find_invocation(view: ContainerView) -> _Invocation | None:
    """The serving engine's start command in the container's argv (or its sh -c script)."""
    candidates = [list(view.tokens)]
    script = _script_tokens(view.tokens)
    if script is not None:
        candidates.append(script)
    for tokens in candidates:
        found = find_vllm_invocation(tokens)
        if found is not None:
            kind, args = found
            signal = _VLLM_SIGNALS.get(kind, f"command:{kind}")
            return _Invocation("vllm", signal, W_COMMAND, tuple(args))
        for i in range(len(tokens)):
            inv = _invocation_at(tokens, i)
            if inv is not None:
                return inv
    return None


# --------------------------------------------------------------------------------------
# Flags, environment and ports
# --------------------------------------------------------------------------------------

# Flags one engine has and the others do not. Generic flags (--model, --port, --host,
# --tensor-parallel-size, --dtype, --trust-remote-code, --quantization, --served-model-name,
# --kv-cache-dtype, ...) are deliberately absent: they never decide between engines.
_SPECIFIC_FLAGS: dict[str, frozenset[str]] = {
    "vllm": frozenset(
        {
            "--gpu-memory-utilization", "--max-num-seqs", "--max-num-batched-tokens",
            "--max-model-len", "--enable-prefix-caching", "--no-enable-prefix-caching",
            "--enable-chunked-prefill", "--no-enable-chunked-prefill", "--enforce-eager",
            "--swap-space", "--block-size", "--speculative-config",
            "--distributed-executor-backend", "--enable-auto-tool-choice",
            "--limit-mm-per-prompt", "--compilation-config", "--enable-log-requests",
            "--uvicorn-log-level", "--enable-expert-parallel", "--max-loras",
            "--max-lora-rank", "--disable-log-stats", "--cpu-offload-gb",
        }
    ),
    "sglang": frozenset(
        {
            "--model-path", "--tp-size", "--dp-size", "--pp-size", "--ep-size",
            "--mem-fraction-static", "--context-length", "--max-running-requests",
            "--chunked-prefill-size", "--disable-radix-cache", "--schedule-policy",
            "--max-prefill-tokens", "--enable-torch-compile", "--cuda-graph-max-bs",
            "--schedule-conservativeness", "--tokenizer-path", "--enable-dp-attention",
            "--disable-cuda-graph", "--speculative-algorithm", "--lora-paths",
            "--enable-metrics", "--log-requests",
        }
    ),
    "tgi": frozenset(
        {
            "--max-total-tokens", "--max-batch-prefill-tokens", "--max-input-tokens",
            "--max-input-length", "--max-batch-total-tokens", "--num-shard", "--sharded",
            "--quantize", "--cuda-memory-fraction", "--max-waiting-tokens",
            "--waiting-served-ratio", "--max-best-of", "--max-stop-sequences",
            "--speculate", "--cuda-graphs", "--disable-custom-kernels", "--lora-adapters",
            "--validation-workers", "--rope-scaling", "--rope-factor",
        }
    ),
    "tei": frozenset(
        {
            "--max-batch-tokens", "--pooling", "--max-batch-requests", "--auto-truncate",
            "--default-prompt-name", "--default-prompt", "--tokenization-workers",
        }
    ),
    "triton": frozenset(
        {
            "--model-repository", "--model-store", "--http-port", "--grpc-port",
            "--metrics-port", "--model-control-mode", "--backend-config", "--load-model",
            "--log-verbose", "--model_repo", "--world_size",
        }
    ),
    "trtllm": frozenset(
        {
            "--kv_cache_free_gpu_memory_fraction", "--max_batch_size", "--max_num_tokens",
            "--max_seq_len", "--tp_size", "--pp_size", "--ep_size",
            "--extra_llm_api_options", "--max_beam_width", "--num_postprocess_workers",
        }
    ),
    "kserve-huggingface": frozenset(
        {
            "--model_id", "--model_dir", "--model_name", "--predictor_host",
            "--return_probabilities", "--disable_lower_case", "--disable_special_tokens",
            "--model_revision",
        }
    ),
    "llamacpp": frozenset(
        {
            "--n-gpu-layers", "-ngl", "--gpu-layers", "--ctx-size", "-np", "--cont-batching",
            "--no-cont-batching", "--flash-attn", "-fa", "--mlock", "--no-mmap",
            "--n-predict", "--hf-repo", "-hf", "-hfr", "--cache-type-k", "-ctk",
            "--split-mode", "--tensor-split", "--jinja",
        }
    ),
}  # fmt: skip
# Flags TGI and TEI (both Hugging Face routers) share: they point to the family only.
_SHARED_FLAGS: dict[str, tuple[str, ...]] = {
    "--model-id": ("tgi", "tei"),
    "--hostname": ("tgi", "tei"),
    "--max-concurrent-requests": ("tgi", "tei"),
    "--max-client-batch-size": ("tgi", "tei"),
    "--huggingface-hub-cache": ("tgi", "tei"),
    "--otlp-endpoint": ("tgi", "tei"),
}
_ENV_PREFIXES: dict[str, tuple[str, float]] = {
    "VLLM_": ("vllm", W_ENV),
    "SGLANG_": ("sglang", W_ENV),
    "SGL_": ("sglang", W_ENV),
    "NIM_": ("nim", W_ENV + 0.05),
    "OLLAMA_": ("ollama", W_ENV + 0.05),
    "LLAMA_ARG_": ("llamacpp", W_ENV + 0.05),
    "TRTLLM_": ("trtllm", W_ENV),
}
_ENV_NAMES: dict[str, tuple[tuple[str, ...], float]] = {
    "MAX_TOTAL_TOKENS": (("tgi",), W_ENV),
    "MAX_INPUT_TOKENS": (("tgi",), W_ENV),
    "MAX_INPUT_LENGTH": (("tgi",), W_ENV),
    "MAX_BATCH_PREFILL_TOKENS": (("tgi",), W_ENV),
    "MAX_BATCH_TOTAL_TOKENS": (("tgi",), W_ENV),
    "NUM_SHARD": (("tgi",), W_ENV),
    "SHARDED": (("tgi",), W_ENV),
    "QUANTIZE": (("tgi",), W_ENV),
    "CUDA_MEMORY_FRACTION": (("tgi",), W_ENV),
    "MAX_BATCH_TOKENS": (("tei",), W_ENV),
    "POOLING": (("tei",), W_ENV),
    "AUTO_TRUNCATE": (("tei",), W_ENV),
    "MAX_BATCH_REQUESTS": (("tei",), W_ENV),
    "MODEL_ID": (("tgi", "tei"), W_SHARED),
    "MAX_CONCURRENT_REQUESTS": (("tgi", "tei"), W_SHARED),
    "NGC_API_KEY": (("nim",), W_SHARED),
}
_PORTS: dict[int, tuple[str, ...]] = {
    8000: ("vllm", "triton", "trtllm", "nim"),
    8001: ("triton",),
    8002: ("triton",),
    30000: ("sglang",),
    80: ("tgi", "tei"),
    3000: ("tgi", "tei"),
    8080: ("tgi", "tei", "llamacpp", "kserve-huggingface"),
    11434: ("ollama",),
}


def _flag_names(tokens: Iterable[Token]) -> list[str]:
    names: list[str] = []
    for tok in tokens:
        text = tok.text
        if text.startswith("-") and len(text) > 1 and not re.match(r"-\d", text):
            name = text.partition("=")[0]
            if name not in names:
                names.append(name)
    return names


def _flag_evidence(tokens: Sequence[Token]) -> list[tuple[str, str, float]]:
    found: list[tuple[str, str, float]] = []
    for name in _flag_names(tokens):
        vllm_form = "--" + name[2:].replace("_", "-") if name.startswith("--") else name
        for engine, flags in _SPECIFIC_FLAGS.items():
            if name in flags or (engine == "vllm" and vllm_form in flags):
                found.append((engine, f"flag:{name}", W_FLAG))
        for engine in _SHARED_FLAGS.get(name, ()):
            found.append((engine, f"flag:{name}", W_SHARED))
    return found


def _env_evidence(env: Mapping[str, EnvVar]) -> list[tuple[str, str, float]]:
    found: list[tuple[str, str, float]] = []
    for name in env:
        for prefix, (engine, weight) in _ENV_PREFIXES.items():
            if name.startswith(prefix):
                found.append((engine, f"env:{name}", weight))
        engines, weight = _ENV_NAMES.get(name, ((), 0.0))
        for engine in engines:
            found.append((engine, f"env:{name}", weight))
    return found


# --------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------


@dataclass
class _Score:
    signals: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    decisive: bool = False
    known_image: bool = False

    def add(self, signal: str, weight: float) -> None:
        if signal in self.signals:
            return
        self.signals.append(signal)
        self.weights.append(weight)
        if weight >= DECISIVE and not signal.startswith("port:"):
            self.decisive = True

    @property
    def value(self) -> float:
        miss = 1.0
        for w in self.weights:
            miss *= 1.0 - w
        return 1.0 - miss


def _trtllm_backend(view: ContainerView, image: ImageRef | None, inv: _Invocation | None) -> bool:
    if image is not None and "trtllm" in (image.tag or "").lower():
        return True
    if inv is not None and inv.signal.endswith("launch_triton_server.py"):
        return True
    return any("tensorrtllm" in t.text.replace("_", "").lower() for t in view.tokens)


def detect_engine(view: ContainerView) -> EngineGuess | None:
    """Guess the serving engine of one container from image, command, flags, env and ports.

    Returns None when nothing decisive points to a known engine (generic flags such as
    ``--model``/``--port``/``--tensor-parallel-size`` and ports alone never claim one).
    """
    scores: dict[str, _Score] = {name: _Score() for name in ENGINE_NAMES}
    image = parse_image(view.image) if view.image else None
    if image is not None:
        for engine, signal, weight in _image_evidence(image):
            scores[engine].add(signal, weight)
            scores[engine].known_image |= weight >= W_IMAGE_KNOWN
    inv = _find_invocation(view)
    if inv is not None:
        scores[inv.engine].add(inv.signal, inv.weight)
    for engine, signal, weight in _flag_evidence(view.tokens):
        scores[engine].add(signal, weight)
    for engine, signal, weight in _env_evidence(view.env):
        scores[engine].add(signal, weight)
    claimed = {name: s for name, s in scores.items() if s.decisive}
    if not claimed:
        return None
    ports = {number for _, number in view.ports}
    for number in sorted(ports):
        for engine in _PORTS.get(number, ()):
            if engine in claimed:
                claimed[engine].add(f"port:{number}", W_PORT)
    ranked = sorted(claimed, key=lambda n: (-claimed[n].value, ENGINE_NAMES.index(n)))
    best = claimed[ranked[0]]
    rival = claimed[ranked[1]].value if len(ranked) > 1 else 0.0
    confidence = round(best.value * (1.0 - RIVAL_PENALTY * rival), 4)
    signals = list(best.signals)
    name = ranked[0]
    if name == "triton" and _trtllm_backend(view, image, inv):
        signals.append(TRTLLM_BACKEND_SIGNAL)
    version = image_version(image.tag) if image is not None and best.known_image else None
    return EngineGuess(
        name=name,
        confidence=confidence,
        signals=tuple(signals),
        version=version,
        version_source="image-tag" if version is not None else None,
    )


SIDECAR_NAMES: frozenset[str] = frozenset(
    {
        "istio-proxy", "proxyv2", "envoy", "linkerd-proxy", "oauth2-proxy",
        "kube-rbac-proxy", "fluent-bit", "fluentd", "vector", "promtail", "otel-collector",
        "opentelemetry-collector", "opentelemetry-collector-contrib", "cloud-sql-proxy",
        "vault-agent", "dcgm-exporter", "node-exporter", "queue-proxy", "datadog-agent",
        "jaeger-agent", "git-sync", "nginx", "haproxy", "authproxy",
    }
)  # fmt: skip


def _is_sidecar(view: ContainerView) -> bool:
    if view.name in SIDECAR_NAMES:
        return True
    if view.image:
        last = parse_image(view.image).repository.rsplit("/", 1)[-1]
        return last in SIDECAR_NAMES
    return False


def choose_serving_container(
    views: Sequence[ContainerView],
) -> tuple[int | None, dict[int, EngineGuess]]:
    """Detect on every (non-init) container; pick the most confident engine container.

    Known sidecars (istio-proxy, envoy, oauth2-proxy, fluent-bit, ...) are never picked,
    wherever they are listed; ties go to the container listed first.
    """
    guesses: dict[int, EngineGuess] = {}
    for index, view in enumerate(views):
        guess = detect_engine(view)
        if guess is not None:
            guesses[index] = guess
    candidates = [i for i in guesses if not _is_sidecar(views[i])]
    if not candidates:
        return None, guesses
    chosen = max(candidates, key=lambda i: (guesses[i].confidence, -i))
    return chosen, guesses


# --------------------------------------------------------------------------------------
# Serving configuration
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServingExtraction:
    """Serving settings as declared (exactly SERVING_KEYS), with engine defaults applied.

    ``extra`` holds engine-specific settings that have no serving key (llama.cpp's
    ``n_gpu_layers``, NIM's ``model_profile``, Ollama's ``keep_alive``, TGI's
    ``max_input_tokens``, ...). API keys are recorded only as ``<redacted>`` or
    ``<from secret NAME>``: never their value.
    """

    declared: dict[str, Declared[Any] | None]
    effective: dict[str, object]
    issues: tuple[ArgIssue, ...]
    config_file: str | None = None
    extra: dict[str, Declared[Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "declared": {k: (v.to_json() if v else None) for k, v in self.declared.items()},
            "effective": dict(self.effective),
            "issues": [issue.to_json() for issue in self.issues],
            "config_file": self.config_file,
            "extra": {k: v.to_json() for k, v in self.extra.items()},
        }


Conv = Callable[[str | None], Any]

_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no", "off"}


def _to_str(text: str | None) -> Any:
    if text is None:
        raise ValueError("expects a value")
    return text


def _to_int(text: str | None) -> Any:
    if text is None:
        raise ValueError("expects an integer")
    return int(text)


def _to_float(text: str | None) -> Any:
    if text is None:
        raise ValueError("expects a number")
    return float(text)


def _to_bool(text: str | None) -> Any:
    """A switch (no value: True) or a boolean word."""
    if text is None:
        return True
    low = text.strip().lower()
    if low in _TRUE_WORDS:
        return True
    if low in _FALSE_WORDS:
        return False
    raise ValueError("expects a boolean")


def _negated(text: str | None) -> Any:
    return not _to_bool(text)


def _int_over_one(text: str | None) -> Any:
    return _to_int(text) > 1


def _chunk_enabled(text: str | None) -> Any:
    return _to_int(text) > 0


def _present(text: str | None) -> Any:
    return True


def _int_or_text(text: str | None) -> Any:
    value = _to_str(text)
    try:
        return int(value)
    except ValueError:
        return value


_SWITCH_CONVS: tuple[Conv, ...] = (_to_bool, _negated)

_API_KEY_FLAGS = {"--api-key", "--api_key"}
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)", re.IGNORECASE)
_UNRESOLVED = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


@dataclass
class _Collector:
    view: ContainerView
    declared: dict[str, Declared[Any] | None] = field(default_factory=dict)
    extra: dict[str, Declared[Any]] = field(default_factory=dict)
    issues: list[ArgIssue] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    config_file: str | None = None

    def __post_init__(self) -> None:
        self.declared = dict.fromkeys(SERVING_KEYS)
        for name, var in self.view.env.items():
            if var.value and _SECRET_ENV.search(name):
                self.secrets.add(var.value)
        for k, tok in enumerate(self.view.tokens):
            name, eq, value = tok.text.partition("=")
            if name in _API_KEY_FLAGS:
                if eq and value:
                    self.secrets.add(value)
                elif k + 1 < len(self.view.tokens):
                    self.secrets.add(self.view.tokens[k + 1].text)

    def put(self, key: str, value: Any, origin: Origin, via: str) -> None:
        if key.startswith("extra:"):
            self.extra[key[6:]] = Declared(value, origin, via)
        else:
            self.declared[key] = Declared(value, origin, via)

    def issue(self, kind: str, message: str, origin: Origin, suggestion: str | None = None) -> None:
        self.issues.append(ArgIssue(kind, message, origin, suggestion))

    def api_key_from_text(self, texts: Sequence[str], origin: Origin, via: str) -> None:
        self.secrets.update(texts)
        labels = list(dict.fromkeys(self._key_label(t) for t in texts)) or ["<redacted>"]
        self.put("api_key", ", ".join(labels), origin, via)

    def api_key_from_env(self, var: EnvVar, via: str | None = None) -> None:
        if var.value:
            self.secrets.add(var.value)
        self.put("api_key", self._env_label(var), var.origin, via or f"env {var.name}")

    def _env_label(self, var: EnvVar) -> str:
        if var.value_from:
            kind, _, ref = var.value_from.partition(":")
            name = ref.split("/", 1)[0] if ref else ""
            if kind == "secretKeyRef":
                return f"<from secret {name}>"
            if kind == "configMapKeyRef":
                return f"<from configmap {name}>"
            return f"<from {kind}>"
        return "<redacted>" if var.value else "<empty>"

    def _key_label(self, text: str) -> str:
        m = _UNRESOLVED.fullmatch(text.strip())
        if m:
            name = m.group(1) or m.group(2)
            var = self.view.env.get(name)
            if var is not None and var.value_from:
                return self._env_label(var)
            return f"<from ${name}>"
        return "<redacted>"

    def from_option(self, key: str, conv: Conv, opt: _Opt) -> None:
        origin = self.view.token_origin(opt.value_token or opt.token)
        if key == "api_key":
            self.api_key_from_text([opt.value or ""], origin, opt.name)
            return
        try:
            value = conv(opt.value)
        except ValueError as exc:
            shown = "" if opt.value is None else f" {opt.value!r}"
            self.issue("bad_value", f"{opt.name}{shown}: {exc}", origin)
            return
        self.put(key, value, origin, opt.name)

    def from_env(self, key: str, conv: Conv, var: EnvVar) -> None:
        via = f"env {var.name}"
        if key == "api_key":
            self.api_key_from_env(var)
            return
        if var.value is None:
            self.put(key, f"<from {var.value_from or 'reference'}>", var.origin, via)
            return
        try:
            value = conv(var.value)
        except ValueError as exc:
            self.issue("bad_env_value", f"{var.name}={var.value!r}: {exc}", var.origin)
            return
        self.put(key, value, var.origin, via)

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 4 and not _UNRESOLVED.fullmatch(secret):
                text = text.replace(secret, "<redacted>")
        return text

    def result(self, defaults: Mapping[str, object]) -> ServingExtraction:
        effective: dict[str, object] = {}
        for key in SERVING_KEYS:
            item = self.declared[key]
            effective[key] = item.value if item is not None else defaults.get(key)
        issues = tuple(
            ArgIssue(
                i.kind,
                self.scrub(i.message),
                i.origin,
                self.scrub(i.suggestion) if i.suggestion else None,
            )
            for i in self.issues
        )
        return ServingExtraction(
            dict(self.declared), effective, issues, self.config_file, dict(self.extra)
        )


@dataclass(frozen=True)
class _Opt:
    name: str
    value: str | None
    token: Token
    positional: bool = False
    value_token: Token | None = None


_NEG_NUMBER = re.compile(r"^-\d+(\.\d+)?$")


def _scan(tokens: Sequence[Token], switches: Iterable[str]) -> list[_Opt]:
    """Split argv into options (``--x v``, ``--x=v``, switches) and positionals."""
    switch_set = set(switches)
    out: list[_Opt] = []
    i = 0
    only_positional = False
    while i < len(tokens):
        tok = tokens[i]
        text = tok.text
        if only_positional or not text.startswith("-") or text == "-" or _NEG_NUMBER.match(text):
            out.append(_Opt(text, None, tok, positional=True))
            i += 1
            continue
        if text == "--":
            only_positional = True
            i += 1
            continue
        name, eq, value = text.partition("=")
        if eq:
            out.append(_Opt(name, value, tok))
            i += 1
            continue
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else None
        takes = (
            name not in switch_set
            and nxt is not None
            and (not nxt.startswith("-") or nxt == "-" or bool(_NEG_NUMBER.match(nxt)))
        )
        value_token = tokens[i + 1] if takes else None
        out.append(_Opt(name, nxt if takes else None, tok, value_token=value_token))
        i += 2 if takes else 1
    return out


FlagTable = Mapping[str, tuple[str, Conv]]


def _apply_table(
    col: _Collector,
    args: Sequence[Token],
    flags: FlagTable,
    env_table: FlagTable = {},  # noqa: B006 - read only
    *,
    known: frozenset[str] | None = None,
    positional_key: str | None = None,
    switches: Iterable[str] = (),
) -> list[_Opt]:
    """Env first, then the command line (which wins). Returns the unmatched options."""
    for name, (key, conv) in env_table.items():
        var = col.view.env.get(name)
        if var is not None:
            col.from_env(key, conv, var)
    all_switches = {f for f, (_, conv) in flags.items() if conv in _SWITCH_CONVS} | set(switches)
    leftovers: list[_Opt] = []
    seen_positional = False
    for opt in _scan(args, all_switches):
        if opt.positional:
            if positional_key is not None and not seen_positional:
                seen_positional = True
                col.put(positional_key, opt.name, col.view.token_origin(opt.token), "positional")
            else:
                leftovers.append(opt)
            continue
        spec = flags.get(opt.name)
        if spec is None:
            if known is not None and opt.name not in known:
                near = difflib.get_close_matches(opt.name.replace("_", "-"), sorted(known), 1)
                hint = f"; did you mean {near[0]}?" if near else ""
                col.issue(
                    "unknown_flag",
                    f"unknown option {opt.name}{hint}",
                    col.view.token_origin(opt.token),
                    near[0] if near else None,
                )
            leftovers.append(opt)
            continue
        key, conv = spec
        col.from_option(key, conv, opt)
    return leftovers


def _engine_args(view: ContainerView, engine: str) -> tuple[Token, ...]:
    """The tokens that are the engine's arguments (all of them with the image ENTRYPOINT)."""
    inv = _find_invocation(view)
    if inv is not None and inv.engine == engine:
        return inv.args
    if not view.command_given:
        return view.tokens
    return view.tokens[1:]


# ---- vLLM ---------------------------------------------------------------------------

_VLLM_DEST = {"expert_parallel": "enable_expert_parallel"}
_VLLM_BY_DEST = {spec.dest: spec for spec in VLLM_FLAGS.values()}


def _vllm_defaults() -> dict[str, object]:
    defaults: dict[str, object] = {}
    for key in SERVING_KEYS:
        if key == "disable_log_requests":
            spec = _VLLM_BY_DEST.get("enable_log_requests")
            defaults[key] = not spec.default if spec is not None else True
            continue
        spec = _VLLM_BY_DEST.get(_VLLM_DEST.get(key, key))
        defaults[key] = spec.default if spec is not None else None
    return defaults


def _vllm_into(
    col: _Collector,
    parsed: VllmCommandLine,
    file_origin: Origin | None,
    *,
    skip: Iterable[str] = (),
) -> None:
    skipped = set(skip)
    for key in SERVING_KEYS:
        if key in skipped:
            continue
        dest = _VLLM_DEST.get(key, key)
        if key == "disable_log_requests":
            dest = "enable_log_requests"
        arg = parsed.model if key == "model" else parsed.args.get(dest)
        if arg is None:
            continue
        from_file = arg.from_config_file and file_origin is not None
        value_token = arg.value_tokens[0] if arg.value_tokens else arg.token
        origin = file_origin if from_file and file_origin else col.view.token_origin(value_token)
        via = "config file" if arg.from_config_file else arg.written_as
        if arg.flag == "model_tag":
            via = "positional"
        if key == "api_key":
            # vLLM takes one or more keys (nargs "+"): record only how each is given.
            texts = arg.value if isinstance(arg.value, list) else [arg.value]
            col.api_key_from_text([str(t) for t in texts], origin, via)
            continue
        value = arg.value
        if key == "disable_log_requests" and isinstance(value, bool):
            value = not value
        col.put(key, value, origin, via)


def _vllm_problems(col: _Collector, parsed: VllmCommandLine, skip: Iterable[str] = ()) -> None:
    skipped = set(skip)
    key = parsed.args.get("api_key")
    for problem in parsed.problems:
        if problem.kind in skipped:
            continue
        from_secret = key is not None and problem.token == key.token
        if problem.kind == "unresolved_reference" and from_secret:
            continue  # an API key from a Secret is the recommended way, not a problem
        origin = col.view.token_origin(problem.token) if problem.token else col.view.origin
        col.issue(problem.kind, problem.message, origin, problem.suggestion)


def _load_config(col: _Collector, parsed: VllmCommandLine) -> tuple[VllmCommandLine, Origin | None]:
    if parsed.config_file is None:
        return parsed, None
    path = str(parsed.config_file.value)
    col.config_file = path
    where = col.view.token_origin(parsed.config_file.token)
    entry = col.view.config_files.get(path)
    if entry is None:
        col.issue(
            "config_file_unavailable",
            f"--config {path} is not mounted from a ConfigMap in the inputs; "
            "the settings it holds are unknown",
            where,
        )
        return parsed, None
    text, origin = entry
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        col.issue("config_file_invalid", f"--config {path} is not valid YAML: {exc}", origin)
        return parsed, origin
    if data is None:
        data = {}
    if not isinstance(data, dict):
        col.issue("config_file_invalid", f"--config {path} must hold a YAML mapping", origin)
        return parsed, origin
    return apply_config_file({str(k): v for k, v in data.items()}, parsed), origin


def _vllm_env(col: _Collector) -> None:
    literal = {name: var.value for name, var in col.view.env.items()}
    for name, setting in vllm_env_settings(literal).items():
        var = col.view.env[name]
        if not setting.known:
            col.issue("unknown_env", setting.problem or name, var.origin, setting.suggestion)
        elif setting.problem:
            col.issue("bad_env_value", f"{name}: {setting.problem}", var.origin)
    key_var = col.view.env.get("VLLM_API_KEY")
    if key_var is not None and col.declared["api_key"] is None:
        col.api_key_from_env(key_var)


def _serve_vllm(col: _Collector) -> dict[str, object]:
    view = col.view
    inv = _find_invocation(view)
    found = (inv.signal, list(inv.args)) if inv is not None and inv.engine == "vllm" else None
    kind: str | None = None
    if found is not None:
        kind = next((k for k, s in _VLLM_SIGNALS.items() if s == found[0]), SERVE)
        args: Sequence[Token] = found[1]
    elif not view.command_given:
        kind, args = SERVE, list(view.tokens)
    else:
        args = view.tokens[1:]
    serve = kind not in (OPENAI_API_SERVER, LEGACY_API_SERVER)
    parsed = parse_vllm_args(args, serve=serve)
    parsed, file_origin = _load_config(col, parsed)
    _vllm_into(col, parsed, file_origin)
    if kind is None:
        col.issue(
            "invocation_not_found",
            "no vLLM server start (vllm serve, python -m vllm.entrypoints.openai.api_server) "
            "was found in the command; its arguments were read as serve arguments",
            view.origin,
        )
    else:
        _vllm_problems(col, parsed)
    _vllm_env(col)
    return _vllm_defaults()


# ---- SGLang -------------------------------------------------------------------------

_SGLANG_FLAGS: FlagTable = {
    "--model-path": ("model", _to_str),
    "--model": ("model", _to_str),
    "--tokenizer-path": ("tokenizer", _to_str),
    "--revision": ("revision", _to_str),
    "--served-model-name": ("served_model_name", _to_str),
    "--tp-size": ("tensor_parallel_size", _to_int),
    "--tp": ("tensor_parallel_size", _to_int),
    "--tensor-parallel-size": ("tensor_parallel_size", _to_int),
    "--pp-size": ("pipeline_parallel_size", _to_int),
    "--pipeline-parallel-size": ("pipeline_parallel_size", _to_int),
    "--dp-size": ("data_parallel_size", _to_int),
    "--data-parallel-size": ("data_parallel_size", _to_int),
    "--ep-size": ("expert_parallel", _int_over_one),
    "--expert-parallel-size": ("expert_parallel", _int_over_one),
    "--dtype": ("dtype", _to_str),
    "--quantization": ("quantization", _to_str),
    "--kv-cache-dtype": ("kv_cache_dtype", _to_str),
    "--context-length": ("max_model_len", _to_int),
    "--max-running-requests": ("max_num_seqs", _to_int),
    "--max-prefill-tokens": ("max_num_batched_tokens", _to_int),
    "--mem-fraction-static": ("gpu_memory_utilization", _to_float),
    "--disable-radix-cache": ("enable_prefix_caching", _negated),
    "--chunked-prefill-size": ("enable_chunked_prefill", _chunk_enabled),
    "--disable-cuda-graph": ("enforce_eager", _to_bool),
    "--speculative-algorithm": ("speculative_config", _to_str),
    "--enable-lora": ("enable_lora", _to_bool),
    "--lora-paths": ("enable_lora", _present),
    "--api-key": ("api_key", _to_str),
    "--port": ("port", _to_int),
    "--host": ("host", _to_str),
    "--trust-remote-code": ("trust_remote_code", _to_bool),
    "--load-format": ("load_format", _to_str),
    "--download-dir": ("download_dir", _to_str),
    "--otlp-traces-endpoint": ("otlp_traces_endpoint", _to_str),
    "--log-requests": ("disable_log_requests", _negated),
    "--log-level-http": ("uvicorn_log_level", _to_str),
}
_SGLANG_SWITCHES = (
    "--enable-metrics", "--enable-torch-compile", "--skip-tokenizer-init",
    "--enable-dp-attention", "--enable-mixed-chunk", "--disable-custom-all-reduce",
    "--enable-ep-moe", "--is-embedding", "--disable-overlap-schedule",
)  # fmt: skip
_SGLANG_DEFAULTS: dict[str, object] = {
    "tensor_parallel_size": 1,
    "pipeline_parallel_size": 1,
    "data_parallel_size": 1,
    "expert_parallel": False,
    "dtype": "auto",
    "kv_cache_dtype": "auto",
    "enable_prefix_caching": True,
    "enable_chunked_prefill": True,
    "enforce_eager": False,
    "enable_lora": False,
    "port": 30000,
    "host": "127.0.0.1",
    "trust_remote_code": False,
    "load_format": "auto",
    "disable_log_requests": True,
}


def _serve_sglang(col: _Collector) -> dict[str, object]:
    args = _engine_args(col.view, "sglang")
    _apply_table(col, args, _SGLANG_FLAGS, switches=_SGLANG_SWITCHES)
    return _SGLANG_DEFAULTS


# ---- TGI and TEI --------------------------------------------------------------------

_TGI_FLAGS: FlagTable = {
    "--model-id": ("model", _to_str),
    "--revision": ("revision", _to_str),
    "--num-shard": ("tensor_parallel_size", _to_int),
    "--quantize": ("quantization", _to_str),
    "--dtype": ("dtype", _to_str),
    "--kv-cache-dtype": ("kv_cache_dtype", _to_str),
    "--max-total-tokens": ("max_model_len", _to_int),
    "--max-input-tokens": ("extra:max_input_tokens", _to_int),
    "--max-input-length": ("extra:max_input_tokens", _to_int),
    "--max-batch-prefill-tokens": ("max_num_batched_tokens", _to_int),
    "--max-batch-total-tokens": ("extra:max_batch_total_tokens", _to_int),
    "--max-concurrent-requests": ("max_num_seqs", _to_int),
    "--port": ("port", _to_int),
    "-p": ("port", _to_int),
    "--hostname": ("host", _to_str),
    "--cuda-memory-fraction": ("gpu_memory_utilization", _to_float),
    "--trust-remote-code": ("trust_remote_code", _to_bool),
    "--speculate": ("speculative_config", _to_int),
    "--lora-adapters": ("enable_lora", _present),
    "--otlp-endpoint": ("otlp_traces_endpoint", _to_str),
    "--huggingface-hub-cache": ("download_dir", _to_str),
    "--api-key": ("api_key", _to_str),
    "--sharded": ("extra:sharded", _to_bool),
}
_TGI_ENV: FlagTable = {
    "MODEL_ID": ("model", _to_str),
    "REVISION": ("revision", _to_str),
    "NUM_SHARD": ("tensor_parallel_size", _to_int),
    "QUANTIZE": ("quantization", _to_str),
    "DTYPE": ("dtype", _to_str),
    "KV_CACHE_DTYPE": ("kv_cache_dtype", _to_str),
    "MAX_TOTAL_TOKENS": ("max_model_len", _to_int),
    "MAX_INPUT_TOKENS": ("extra:max_input_tokens", _to_int),
    "MAX_INPUT_LENGTH": ("extra:max_input_tokens", _to_int),
    "MAX_BATCH_PREFILL_TOKENS": ("max_num_batched_tokens", _to_int),
    "MAX_BATCH_TOTAL_TOKENS": ("extra:max_batch_total_tokens", _to_int),
    "MAX_CONCURRENT_REQUESTS": ("max_num_seqs", _to_int),
    "PORT": ("port", _to_int),
    "HOSTNAME": ("host", _to_str),
    "CUDA_MEMORY_FRACTION": ("gpu_memory_utilization", _to_float),
    "TRUST_REMOTE_CODE": ("trust_remote_code", _to_bool),
    "SPECULATE": ("speculative_config", _to_int),
    "LORA_ADAPTERS": ("enable_lora", _present),
    "OTLP_ENDPOINT": ("otlp_traces_endpoint", _to_str),
    "HUGGINGFACE_HUB_CACHE": ("download_dir", _to_str),
    "API_KEY": ("api_key", _to_str),
    "PREFIX_CACHING": ("enable_prefix_caching", _to_bool),
    "SHARDED": ("extra:sharded", _to_bool),
}
# Every text-generation-launcher option (TGI 3.x): clap rejects anything else, including
# the underscore spellings (--num_shard).
_TGI_KNOWN = frozenset(
    {
        "--model-id", "--revision", "--validation-workers", "--sharded", "--num-shard",
        "--quantize", "--speculate", "--dtype", "--kv-cache-dtype", "--trust-remote-code",
        "--max-concurrent-requests", "--max-best-of", "--max-stop-sequences",
        "--max-top-n-tokens", "--max-input-tokens", "--max-input-length",
        "--max-total-tokens", "--waiting-served-ratio", "--max-batch-prefill-tokens",
        "--max-batch-total-tokens", "--max-waiting-tokens", "--max-batch-size",
        "--cuda-graphs", "--hostname", "--port", "-p", "--prometheus-port",
        "--shard-uds-path", "--master-addr", "--master-port", "--huggingface-hub-cache",
        "--weights-cache-override", "--disable-custom-kernels", "--cuda-memory-fraction",
        "--rope-scaling", "--rope-factor", "--json-output", "--otlp-endpoint",
        "--otlp-service-name", "--cors-allow-origin", "--api-key", "--watermark-gamma",
        "--watermark-delta", "--ngrok", "--ngrok-authtoken", "--ngrok-edge",
        "--tokenizer-config-path", "--disable-grammar-support", "--env", "-e",
        "--max-client-batch-size", "--lora-adapters", "--usage-stats", "--payload-limit",
        "--enable-prefill-logprobs", "--graceful-termination-timeout", "--help", "-h",
        "--version", "-V",
    }
)  # fmt: skip
_TGI_SWITCHES = ("--disable-custom-kernels", "--json-output", "--ngrok", "--env", "-e",
                 "--disable-grammar-support", "--enable-prefill-logprobs")  # fmt: skip

_TEI_FLAGS: FlagTable = {
    "--model-id": ("model", _to_str),
    "--revision": ("revision", _to_str),
    "--dtype": ("dtype", _to_str),
    "--max-batch-tokens": ("max_num_batched_tokens", _to_int),
    "--max-concurrent-requests": ("max_num_seqs", _to_int),
    "--port": ("port", _to_int),
    "-p": ("port", _to_int),
    "--hostname": ("host", _to_str),
    "--api-key": ("api_key", _to_str),
    "--otlp-endpoint": ("otlp_traces_endpoint", _to_str),
    "--huggingface-hub-cache": ("download_dir", _to_str),
    "--served-model-name": ("served_model_name", _to_str),
    "--pooling": ("extra:pooling", _to_str),
    "--max-client-batch-size": ("extra:max_client_batch_size", _to_int),
    "--auto-truncate": ("extra:auto_truncate", _to_bool),
}
_TEI_ENV: FlagTable = {
    "MODEL_ID": ("model", _to_str),
    "REVISION": ("revision", _to_str),
    "DTYPE": ("dtype", _to_str),
    "MAX_BATCH_TOKENS": ("max_num_batched_tokens", _to_int),
    "MAX_CONCURRENT_REQUESTS": ("max_num_seqs", _to_int),
    "PORT": ("port", _to_int),
    "HOSTNAME": ("host", _to_str),
    "API_KEY": ("api_key", _to_str),
    "OTLP_ENDPOINT": ("otlp_traces_endpoint", _to_str),
    "HUGGINGFACE_HUB_CACHE": ("download_dir", _to_str),
    "SERVED_MODEL_NAME": ("served_model_name", _to_str),
    "POOLING": ("extra:pooling", _to_str),
    "MAX_CLIENT_BATCH_SIZE": ("extra:max_client_batch_size", _to_int),
    "AUTO_TRUNCATE": ("extra:auto_truncate", _to_bool),
}


def _official_image(view: ContainerView, engine: str) -> bool:
    if not view.image:
        return False
    repo = parse_image(view.image).repository
    return any(_path_match(repo, p) for p in _KNOWN_IMAGES.get(engine, ()))


def _serve_tgi(col: _Collector) -> dict[str, object]:
    args = _engine_args(col.view, "tgi")
    _apply_table(col, args, _TGI_FLAGS, _TGI_ENV, known=_TGI_KNOWN, switches=_TGI_SWITCHES)
    # The official image sets PORT=80; text-generation-launcher itself defaults to 3000.
    return {
        "model": "bigscience/bloom-560m",
        "port": 80 if _official_image(col.view, "tgi") else 3000,
        "host": "0.0.0.0",
        "max_num_seqs": 128,
        "gpu_memory_utilization": 1.0,
        "trust_remote_code": False,
        "enable_lora": False,
        "quantization": None,
        "tensor_parallel_size": None,  # all visible GPUs
    }


def _serve_tei(col: _Collector) -> dict[str, object]:
    args = _engine_args(col.view, "tei")
    _apply_table(col, args, _TEI_FLAGS, _TEI_ENV, switches=("--auto-truncate", "--json-output"))
    return {
        "port": 80 if _official_image(col.view, "tei") else 3000,
        "host": "0.0.0.0",
        "max_num_seqs": 512,
        "max_num_batched_tokens": 16384,
        "tensor_parallel_size": 1,
    }


# ---- Triton and trtllm-serve --------------------------------------------------------

_TRITON_FLAGS: FlagTable = {
    "--model-repository": ("model", _to_str),
    "--model-store": ("model", _to_str),
    "--http-port": ("port", _to_int),
    "--http-address": ("host", _to_str),
    "--model-control-mode": ("extra:model_control_mode", _to_str),
    "--grpc-port": ("extra:grpc_port", _to_int),
    "--metrics-port": ("extra:metrics_port", _to_int),
    # scripts/launch_triton_server.py of the TensorRT-LLM backend:
    "--model_repo": ("model", _to_str),
    "--http_port": ("port", _to_int),
    "--world_size": ("tensor_parallel_size", _to_int),
    "--tensor-parallel-size": ("tensor_parallel_size", _to_int),
}
_MPI = {"mpirun", "mpiexec", "orterun"}


def _serve_triton(col: _Collector) -> dict[str, object]:
    view = col.view
    args = _engine_args(view, "triton")
    # `mpirun -n N ... tritonserver`: one rank per GPU of the TensorRT-LLM engine.
    for k, tok in enumerate(view.tokens):
        if basename(tok.text) not in _MPI:
            continue
        for j in range(k + 1, len(view.tokens) - 1):
            if view.tokens[j].text in ("-n", "-np"):
                opt = _Opt(f"mpirun {view.tokens[j].text}", view.tokens[j + 1].text, tok)
                col.from_option("tensor_parallel_size", _to_int, opt)
                break
        break
    _apply_table(col, args, _TRITON_FLAGS, switches=("--strict-model-config",))
    return {"port": 8000, "host": "0.0.0.0"}


_TRTLLM_FLAGS: FlagTable = {
    "--tokenizer": ("tokenizer", _to_str),
    "--host": ("host", _to_str),
    "--port": ("port", _to_int),
    "--tp_size": ("tensor_parallel_size", _to_int),
    "--pp_size": ("pipeline_parallel_size", _to_int),
    "--ep_size": ("expert_parallel", _int_over_one),
    "--max_batch_size": ("max_num_seqs", _to_int),
    "--max_num_tokens": ("max_num_batched_tokens", _to_int),
    "--max_seq_len": ("max_model_len", _to_int),
    "--kv_cache_free_gpu_memory_fraction": ("gpu_memory_utilization", _to_float),
    "--trust_remote_code": ("trust_remote_code", _to_bool),
    "--enable_chunked_prefill": ("enable_chunked_prefill", _to_bool),
    "--backend": ("extra:backend", _to_str),
    "--extra_llm_api_options": ("extra:extra_llm_api_options", _to_str),
    "--log_level": ("uvicorn_log_level", _to_str),
    # NVIDIA Dynamo's TensorRT-LLM worker (python -m dynamo.trtllm) names these the dashed way.
    "--model-path": ("model", _to_str),
    "--served-model-name": ("served_model_name", _to_str),
}


def _serve_trtllm(col: _Collector) -> dict[str, object]:
    args = list(_engine_args(col.view, "trtllm"))
    if args and args[0].text == "serve":
        args = args[1:]
    _apply_table(col, args, _TRTLLM_FLAGS, positional_key="model")
    return {
        "host": "localhost",
        "port": 8000,
        "tensor_parallel_size": 1,
        "pipeline_parallel_size": 1,
        "max_num_seqs": 2048,
        "max_num_batched_tokens": 8192,
        "gpu_memory_utilization": 0.9,
        "trust_remote_code": False,
    }


# ---- NIM ----------------------------------------------------------------------------

_NIM_ENV: FlagTable = {
    "NIM_MODEL_NAME": ("model", _to_str),
    "NIM_SERVED_MODEL_NAME": ("served_model_name", _to_str),
    "NIM_MAX_MODEL_LEN": ("max_model_len", _to_int),
    "NIM_TENSOR_PARALLEL_SIZE": ("tensor_parallel_size", _to_int),
    "NIM_PIPELINE_PARALLEL_SIZE": ("pipeline_parallel_size", _to_int),
    "NIM_SERVER_PORT": ("port", _to_int),
    "NIM_ENABLE_KV_CACHE_REUSE": ("enable_prefix_caching", _to_bool),
    "NIM_CACHE_PATH": ("download_dir", _to_str),
    "NIM_MODEL_PROFILE": ("extra:model_profile", _to_str),
    "NIM_LOG_LEVEL": ("extra:log_level", _to_str),
}


def _serve_nim(col: _Collector) -> dict[str, object]:
    _apply_table(col, (), {}, _NIM_ENV)
    defaults: dict[str, object] = {"port": 8000, "download_dir": "/opt/nim/.cache"}
    if col.view.image:
        image = parse_image(col.view.image)
        if image.registry == "nvcr.io" and image.repository.startswith("nim/"):
            # A model-specific NIM serves the model its image is named after.
            defaults["model"] = image.repository.removeprefix("nim/")
    return defaults


# ---- KServe huggingfaceserver -------------------------------------------------------

_KSERVE_FLAGS: FlagTable = {
    "--model_id": ("model", _to_str),
    "--model_dir": ("extra:model_dir", _to_str),
    "--model_name": ("served_model_name", _to_str),
    "--model_revision": ("revision", _to_str),
    "--tokenizer_revision": ("tokenizer_revision", _to_str),
    "--dtype": ("dtype", _to_str),
    "--max_length": ("max_model_len", _to_int),
    "--http_port": ("port", _to_int),
    "--trust_remote_code": ("trust_remote_code", _to_bool),
    "--backend": ("extra:backend", _to_str),
    "--task": ("extra:task", _to_str),
}
_KSERVE_OWN = frozenset(
    {
        "--grpc_port", "--workers", "--max_threads", "--max_asyncio_workers",
        "--predictor_host", "--predictor_protocol", "--predictor_use_ssl",
        "--predictor_request_timeout_seconds", "--enable_grpc", "--enable_docs_url",
        "--enable_latency_logging", "--configure_logging", "--log_config_file",
        "--access_log_format", "--disable_lower_case", "--disable_special_tokens",
        "--return_probabilities", "--return_token_type_ids", "--return_raw_logits",
        "--add_special_tokens", "--tensor_input_names", "--return_response_headers",
    }
)  # fmt: skip
_KSERVE_SWITCHES = (
    "--trust_remote_code", "--disable_lower_case", "--disable_special_tokens",
    "--return_probabilities", "--return_token_type_ids", "--return_raw_logits",
    "--enable_docs_url", "--disable_log_requests",
)  # fmt: skip


def _serve_kserve(col: _Collector) -> dict[str, object]:
    args = _engine_args(col.view, "kserve-huggingface")
    own = set(_KSERVE_FLAGS) | _KSERVE_OWN
    rest: list[Token] = []
    for opt in _scan(args, _KSERVE_SWITCHES):
        if opt.positional or opt.name not in own:
            rest.append(opt.token)
            if opt.value_token is not None:
                rest.append(opt.value_token)
    _apply_table(col, args, _KSERVE_FLAGS, switches=_KSERVE_SWITCHES)
    if col.declared["model"] is None and "model_dir" in col.extra:
        col.declared["model"] = col.extra["model_dir"]
    backend = col.extra.get("backend")
    uses_vllm = backend is None or str(backend.value).lower() in ("vllm", "auto")
    defaults: dict[str, object] = {}
    if uses_vllm:
        # With the vLLM backend the server also takes vLLM's engine arguments.
        parsed = parse_vllm_args(rest, serve=False)
        taken = [k for k in SERVING_KEYS if col.declared[k] is not None]
        _vllm_into(col, parsed, None, skip=taken)
        _vllm_problems(col, parsed, skip=("no_model", "positional_model"))
        defaults.update(_vllm_defaults())
        defaults["model"] = None
    defaults["port"] = 8080
    return defaults


# ---- llama.cpp ----------------------------------------------------------------------

_LLAMA_FLAGS: FlagTable = {
    "-m": ("model", _to_str),
    "--model": ("model", _to_str),
    "-hf": ("model", _to_str),
    "-hfr": ("model", _to_str),
    "--hf-repo": ("model", _to_str),
    "-a": ("served_model_name", _to_str),
    "--alias": ("served_model_name", _to_str),
    "-c": ("max_model_len", _to_int),
    "--ctx-size": ("max_model_len", _to_int),
    "-np": ("max_num_seqs", _to_int),
    "--parallel": ("max_num_seqs", _to_int),
    "-b": ("max_num_batched_tokens", _to_int),
    "--batch-size": ("max_num_batched_tokens", _to_int),
    "-ctk": ("kv_cache_dtype", _to_str),
    "--cache-type-k": ("kv_cache_dtype", _to_str),
    "--lora": ("enable_lora", _present),
    "--host": ("host", _to_str),
    "--port": ("port", _to_int),
    "--api-key": ("api_key", _to_str),
    "-ngl": ("extra:n_gpu_layers", _int_or_text),
    "--gpu-layers": ("extra:n_gpu_layers", _int_or_text),
    "--n-gpu-layers": ("extra:n_gpu_layers", _int_or_text),
    "-ts": ("extra:tensor_split", _to_str),
    "--tensor-split": ("extra:tensor_split", _to_str),
    "-sm": ("extra:split_mode", _to_str),
    "--split-mode": ("extra:split_mode", _to_str),
}
_LLAMA_ENV: FlagTable = {
    "LLAMA_ARG_MODEL": ("model", _to_str),
    "LLAMA_ARG_HF_REPO": ("model", _to_str),
    "LLAMA_ARG_ALIAS": ("served_model_name", _to_str),
    "LLAMA_ARG_CTX_SIZE": ("max_model_len", _to_int),
    "LLAMA_ARG_N_PARALLEL": ("max_num_seqs", _to_int),
    "LLAMA_ARG_BATCH": ("max_num_batched_tokens", _to_int),
    "LLAMA_ARG_CACHE_TYPE_K": ("kv_cache_dtype", _to_str),
    "LLAMA_ARG_HOST": ("host", _to_str),
    "LLAMA_ARG_PORT": ("port", _to_int),
    "LLAMA_API_KEY": ("api_key", _to_str),
    "LLAMA_ARG_N_GPU_LAYERS": ("extra:n_gpu_layers", _int_or_text),
}
_LLAMA_SWITCHES = (
    "--cont-batching", "-cb", "--no-cont-batching", "-nocb", "--mlock", "--no-mmap",
    "--embedding", "--embeddings", "--metrics", "--jinja", "--verbose", "-v",
    "--no-webui", "--reranking", "--slots", "--no-slots",
)  # fmt: skip


def _serve_llamacpp(col: _Collector) -> dict[str, object]:
    args = _engine_args(col.view, "llamacpp")
    leftovers = _apply_table(col, args, _LLAMA_FLAGS, _LLAMA_ENV, switches=_LLAMA_SWITCHES)
    for opt in leftovers:
        if opt.name == "--api-key-file":
            origin = col.view.token_origin(opt.token)
            col.put("api_key", "<from file>", origin, "--api-key-file")
    # The official server image sets LLAMA_ARG_HOST=0.0.0.0.
    return {
        "port": 8080,
        "host": "0.0.0.0" if _official_image(col.view, "llamacpp") else "127.0.0.1",
        "max_num_batched_tokens": 2048,
        "enable_lora": False,
    }


# ---- Ollama -------------------------------------------------------------------------

_OLLAMA_ENV: FlagTable = {
    "OLLAMA_NUM_PARALLEL": ("max_num_seqs", _to_int),
    "OLLAMA_CONTEXT_LENGTH": ("max_model_len", _to_int),
    "OLLAMA_KV_CACHE_TYPE": ("kv_cache_dtype", _to_str),
    "OLLAMA_MODELS": ("download_dir", _to_str),
    "OLLAMA_KEEP_ALIVE": ("extra:keep_alive", _to_str),
    "OLLAMA_FLASH_ATTENTION": ("extra:flash_attention", _to_bool),
    "OLLAMA_MAX_LOADED_MODELS": ("extra:max_loaded_models", _to_int),
    "OLLAMA_MAX_QUEUE": ("extra:max_queue", _to_int),
}
_OLLAMA_HOST = re.compile(r"^(?:[a-z]+://)?(\[[^\]]*\]|[^:/]*)?(?::(\d+))?/?$")


def _serve_ollama(col: _Collector) -> dict[str, object]:
    _apply_table(col, (), {}, _OLLAMA_ENV)
    var = col.view.env.get("OLLAMA_HOST")
    if var is not None and var.value is not None:
        m = _OLLAMA_HOST.match(var.value.strip())
        if m is None:
            col.issue("bad_env_value", f"OLLAMA_HOST={var.value!r} is not host[:port]", var.origin)
        else:
            if m.group(1):
                col.put("host", m.group(1), var.origin, "env OLLAMA_HOST")
            if m.group(2):
                col.put("port", int(m.group(2)), var.origin, "env OLLAMA_HOST")
    # The official image sets OLLAMA_HOST=0.0.0.0:11434; the binary binds 127.0.0.1.
    return {
        "port": 11434,
        "host": "0.0.0.0" if _official_image(col.view, "ollama") else "127.0.0.1",
    }


_EXTRACTORS: dict[str, Callable[[_Collector], Mapping[str, object]]] = {
    "vllm": _serve_vllm,
    "sglang": _serve_sglang,
    "tgi": _serve_tgi,
    "tei": _serve_tei,
    "triton": _serve_triton,
    "trtllm": _serve_trtllm,
    "nim": _serve_nim,
    "kserve-huggingface": _serve_kserve,
    "llamacpp": _serve_llamacpp,
    "ollama": _serve_ollama,
}


def serving_config(view: ContainerView, engine: str) -> ServingExtraction:
    """Extract the serving settings a container declares for ``engine``.

    ``declared`` has exactly the keys of SERVING_KEYS (None when not declared); each value
    carries how it was written (``via``) and where (Origin). ``effective`` applies the
    engine's defaults where nothing is declared (None: derived from the model or hardware,
    or unknown). An unknown engine name gives an empty extraction.
    """
    col = _Collector(view)
    extractor = _EXTRACTORS.get(engine)
    defaults = extractor(col) if extractor is not None else {}
    return col.result(defaults)
