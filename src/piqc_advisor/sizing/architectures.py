"""Model architectures: a local config.json or the built-in catalog, resolved from model ids."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from piqc_advisor.safe_yaml import DataFileError, load_yaml_file

DATA = Path(__file__).resolve().parent / "data"
MAX_CONFIG_BYTES = 1 << 20

# Name suffixes that do not change the architecture (fine-tunes, formats, quantizations).
_DROP = frozenset(
    {"instruct", "chat", "it", "hf", "base", "awq", "gptq", "int4", "int8", "fp8", "dynamic",
     "w4a16", "w8a8", "w8a16", "bnb", "4bit", "8bit", "gguf", "quantized", "fp16", "bf16",
     "mlx", "marlin", "nvfp4", "mxfp4", "original"}
)  # fmt: skip
_QUANT_TOKENS = re.compile(r"(awq|gptq|int4|int8|fp8|w4a16|w8a8|w8a16|bnb|4bit|8bit|nvfp4)")


@dataclass(frozen=True)
class Architecture:
    """What the estimator needs to know about a model."""

    id: str
    family: str
    num_hidden_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    total_params: int
    intermediate_size: int | None = None
    active_params: int | None = None
    kind: str = "decoder"
    tie_word_embeddings: bool = False
    sliding_window: int | None = None
    full_attention_every: int = 1
    local_attention: str = "sliding"
    moe_experts: int | None = None
    moe_per_token: int | None = None
    moe_intermediate_size: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    max_position_embeddings: int | None = None
    torch_dtype: str = "bfloat16"
    checkpoint_quantization: str | None = None
    source: str = "catalog"
    params_estimated: bool = False

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def local_layers(self) -> int:
        """How many layers attend only to a window (sliding or chunked)."""
        if self.sliding_window is None:
            return 0
        if self.full_attention_every <= 0:
            return self.num_hidden_layers
        if self.full_attention_every == 1:
            return 0
        return self.num_hidden_layers - self.num_hidden_layers // self.full_attention_every

    @property
    def expert_intermediate_size(self) -> int:
        """The intermediate size of one routed expert (moe_intermediate_size where it differs)."""
        return self.moe_intermediate_size or self.intermediate_size or 4 * self.hidden_size

    @property
    def embedding_params(self) -> int:
        """Input embedding plus an untied output head."""
        per = self.vocab_size * self.hidden_size
        return per if self.tie_word_embeddings else 2 * per

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "family": self.family,
            "kind": self.kind,
            "num_hidden_layers": self.num_hidden_layers,
            "hidden_size": self.hidden_size,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.vocab_size,
            "intermediate_size": self.intermediate_size,
            "total_params": self.total_params,
            "params_estimated": self.params_estimated,
            "active_params": self.active_params,
            "sliding_window": self.sliding_window,
            "local_layers": self.local_layers,
            "max_position_embeddings": self.max_position_embeddings,
            "torch_dtype": self.torch_dtype,
            "checkpoint_quantization": self.checkpoint_quantization,
        }
        if self.mla:
            data["mla"] = {
                "kv_lora_rank": self.kv_lora_rank,
                "qk_rope_head_dim": self.qk_rope_head_dim,
            }
        if self.moe_experts:
            data["moe"] = {
                "experts": self.moe_experts,
                "per_token": self.moe_per_token,
                "intermediate_size": self.expert_intermediate_size,
            }
        return data


@dataclass(frozen=True)
class ModelMatch:
    """A resolved model id: the architecture and the quantization its name implies."""

    architecture: Architecture
    name_quantization: str | None
    via: str


def _from_entry(entry: dict[str, Any]) -> Architecture:
    moe = entry.get("moe") or {}
    mla = entry.get("mla") or {}
    return Architecture(
        id=entry["id"],
        family=entry["family"],
        num_hidden_layers=entry["num_hidden_layers"],
        hidden_size=entry["hidden_size"],
        num_attention_heads=entry["num_attention_heads"],
        num_key_value_heads=entry["num_key_value_heads"],
        head_dim=entry["head_dim"],
        vocab_size=entry["vocab_size"],
        total_params=entry["total_params"],
        intermediate_size=entry.get("intermediate_size"),
        active_params=entry.get("active_params"),
        kind=entry.get("kind", "decoder"),
        tie_word_embeddings=bool(entry.get("tie_word_embeddings", False)),
        sliding_window=entry.get("sliding_window"),
        full_attention_every=entry.get("full_attention_every", 1),
        local_attention=entry.get("local_attention", "sliding"),
        moe_experts=moe.get("experts"),
        moe_per_token=moe.get("per_token"),
        moe_intermediate_size=moe.get("intermediate_size"),
        kv_lora_rank=mla.get("kv_lora_rank"),
        qk_rope_head_dim=mla.get("qk_rope_head_dim"),
        max_position_embeddings=entry.get("max_position_embeddings"),
        torch_dtype=entry.get("torch_dtype", "bfloat16"),
        checkpoint_quantization=entry.get("checkpoint_quantization"),
    )


@cache
def _catalog() -> tuple[tuple[Architecture, tuple[str, ...]], ...]:
    """Each catalog architecture with its names, read once (tests check it against its schema)."""
    data = load_yaml_file(DATA / "models.yaml")
    return tuple((_from_entry(e), tuple(e["names"])) for e in data["models"])


def builtin_models() -> tuple[Architecture, ...]:
    """The built-in architectures, in catalog order."""
    return tuple(arch for arch, _ in _catalog())


@cache
def _name_index() -> dict[str, Architecture]:
    index: dict[str, Architecture] = {}
    for arch, names in _catalog():
        for name in (arch.id.split("/")[-1], *names):
            index.setdefault(normalize_model_name(name), arch)
    return index


def normalize_model_name(name: str) -> str:
    """The bare model name: no org, no 'Meta-', no fine-tune or quantization suffixes."""
    text = name.strip().lower().replace("_", "-")
    text = text.rsplit("/", 1)[-1]
    text = text.removeprefix("meta-")
    parts = [p for p in text.split("-") if p not in {"instruct", "chat", "hf"}] or [text]
    while len(parts) > 1 and (
        parts[-1] in _DROP
        or re.fullmatch(r"(quantized\.)?w\d+a\d+", parts[-1])
        or re.fullmatch(r"g\d+|\d+bit|int\d", parts[-1])
    ):
        parts.pop()
    return "-".join(parts)


def strip_model_ref(model: str) -> str:
    """A model reference without URI scheme, revision or trailing slash."""
    text = model.strip()
    for scheme in ("hf://", "huggingface://", "s3://", "gs://", "pvc://", "oci://", "file://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    text = text.split("@", 1)[0].split(":", 1)[0] if "://" not in text else text
    return text.rstrip("/")


def name_quantization(model: str) -> str | None:
    """The weight format a model name announces (-AWQ, -GPTQ-Int4, -FP8, ...), if any."""
    tail = model.strip().lower().rsplit("/", 1)[-1]
    found = set(_QUANT_TOKENS.findall(tail))
    if "awq" in found:
        return "awq"
    if "gptq" in found:
        return "gptq-int8" if "int8" in found else "gptq"
    if "nvfp4" in found:
        return "nvfp4"
    if "fp8" in found:
        return "fp8"
    if "w8a8" in found or "int8" in found or "8bit" in found:
        return "int8"
    if found & {"w4a16", "int4", "4bit", "bnb"}:
        return "int4"
    return None


@lru_cache(maxsize=4096)
def resolve_model(model: str) -> ModelMatch | None:
    """The catalog architecture a model id names, or None (never guessed from a size alone)."""
    ref = strip_model_ref(model)
    if not ref:
        return None
    arch = _name_index().get(normalize_model_name(ref))
    if arch is None:
        return None
    quant = name_quantization(ref)
    if quant == "fp8" and _meta_fp8_checkpoint(ref, arch):
        quant = "fp8-mixed"
    return ModelMatch(arch, quant, f"catalog entry {arch.id}")


def _meta_fp8_checkpoint(ref: str, arch: Architecture) -> bool:
    """Meta's own FP8 Llama checkpoints (fbgemm_fp8) quantize only part of the layers."""
    org = ref.lower().split("/", 1)[0] if "/" in ref else ""
    return org == "meta-llama" and arch.family == "llama" and not arch.moe_experts


def load_config_json(path: Path) -> Architecture:
    """An architecture from a Hugging Face config.json (a file or a model directory)."""
    file = path / "config.json" if path.is_dir() else path
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise DataFileError(file, "config.json larger than 1 MiB")
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataFileError(file, f"cannot read config.json: {exc}") from exc
    if not isinstance(data, dict):
        raise DataFileError(file, "config.json is not a JSON object")
    return architecture_from_config(data, str(file))


def _int(cfg: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def architecture_from_config(data: dict[str, Any], source: str) -> Architecture:
    """Read the fields vLLM uses for KV-cache layout from a config.json mapping."""
    cfg = data.get("text_config") if isinstance(data.get("text_config"), dict) else data
    assert isinstance(cfg, dict)
    layers = _int(cfg, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _int(cfg, "hidden_size", "d_model", "n_embd")
    heads = _int(cfg, "num_attention_heads", "n_head")
    if layers is None or hidden is None or heads is None:
        raise DataFileError(source, "config.json lacks num_hidden_layers, hidden_size or heads")
    kv = _int(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv")
    if kv is None:
        kv = 1 if cfg.get("multi_query") else heads
    head_dim = _int(cfg, "head_dim") or hidden // heads
    vocab = _int(cfg, "vocab_size") or _int(data, "vocab_size") or 0
    inter = _int(cfg, "intermediate_size", "ffn_dim", "n_inner") or 4 * hidden
    moe_inter = _int(cfg, "moe_intermediate_size")
    experts = _int(cfg, "num_local_experts", "num_experts", "n_routed_experts")
    per_token = _int(cfg, "num_experts_per_tok", "experts_per_token", "num_experts_per_token")
    kv_lora = _int(cfg, "kv_lora_rank")
    rope = _int(cfg, "qk_rope_head_dim")
    window = _int(cfg, "sliding_window")
    if cfg.get("use_sliding_window") is False:
        window = None
    every = 1
    layer_types = cfg.get("layer_types")
    local_kind = "sliding"
    if window is not None and isinstance(layer_types, list) and layer_types:
        full = sum(1 for t in layer_types if t == "full_attention")
        every = 0 if full == 0 else round(len(layer_types) / full)
    elif window is not None and _int(cfg, "sliding_window_pattern"):
        every = _int(cfg, "sliding_window_pattern") or 1
    elif window is not None and str(cfg.get("model_type", "")).startswith("gemma2"):
        every = 2
    elif window is not None:
        every = 0
    chunk = _int(cfg, "attention_chunk_size")
    if chunk and window is None:
        window, every, local_kind = chunk, 4, "chunked"
    tied = bool(cfg.get("tie_word_embeddings", data.get("tie_word_embeddings", False)))
    # Parameter count from the shapes: attention, MLP (or experts), norms, embeddings.
    attn = hidden * heads * head_dim * 2 + hidden * kv * head_dim * 2
    if kv_lora is not None:
        attn = hidden * heads * head_dim * 2 + hidden * (kv_lora + (rope or 0)) * 2
    ffn = 3 * hidden * (moe_inter or inter) * (experts or 1) if experts else 3 * hidden * inter
    embed = vocab * hidden * (1 if tied else 2)
    params = layers * (attn + ffn + 2 * hidden) + embed + hidden
    quant = data.get("quantization_config")
    quant_method = str(quant.get("quant_method")) if isinstance(quant, dict) else None
    dtype = str(data.get("torch_dtype") or cfg.get("torch_dtype") or "bfloat16")
    return Architecture(
        id=str(data.get("_name_or_path") or source),
        family=str(cfg.get("model_type") or data.get("model_type") or "unknown"),
        num_hidden_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        head_dim=head_dim,
        vocab_size=vocab,
        total_params=params,
        intermediate_size=inter,
        kind="encoder"
        if data.get("model_type") in {"bert", "xlm-roberta", "roberta"}
        else "decoder",
        tie_word_embeddings=tied,
        sliding_window=window,
        full_attention_every=every,
        local_attention=local_kind,
        moe_experts=experts,
        moe_per_token=per_token,
        moe_intermediate_size=moe_inter,
        kv_lora_rank=kv_lora,
        qk_rope_head_dim=rope,
        max_position_embeddings=_int(cfg, "max_position_embeddings", "n_positions"),
        torch_dtype=dtype if dtype in {"float32", "float16", "bfloat16"} else "bfloat16",
        checkpoint_quantization=quant_method,
        source=source,
        params_estimated=True,
    )
