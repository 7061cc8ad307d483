"""Serving settings from a KubeRay RayService `serveConfigV2` (Ray Serve LLM and vLLM apps)."""

from __future__ import annotations

from typing import Any

from piqc_advisor.collectors.tree import Node
from piqc_advisor.collectors.yaml_source import Document, parse_documents
from piqc_advisor.facts.origin import Declared
from piqc_advisor.facts.workload import SERVING_KEYS

# Runtime-env variables the classic KubeRay vLLM example passes to its serve app.
_RUNTIME_ENV_KEYS = {
    "MODEL_ID": "model",
    "TENSOR_PARALLELISM": "tensor_parallel_size",
    "PIPELINE_PARALLELISM": "pipeline_parallel_size",
    "MAX_MODEL_LEN": "max_model_len",
}


def _inner_root(spec: Node) -> Node | None:
    """Parse the embedded serve config with file lines continuing those of the manifest."""
    child = spec.get("serveConfigV2")
    if child is None or not isinstance(child.value, str):
        return None
    outer = spec.context.document
    # A block scalar starts on the line after its key.
    first_line = child.origin.line + 1
    padding = "\n" * (first_line - 1)
    documents, _ = parse_documents(padding + child.value, outer.path)
    if not documents or documents[0].data is None:
        return None
    inner = documents[0]
    return Node.root(
        Document(
            path=outer.path,
            index=outer.index,
            line=first_line,
            data=inner.data,
            template=outer.template,
            template_line_offset=outer.template_line_offset,
        )
    )


def serve_config_hints(spec: Node) -> dict[str, Declared[Any]]:
    """Model, engine settings and replica bounds of the first LLM application."""
    root = _inner_root(spec)
    hints: dict[str, Declared[Any]] = {}
    if root is None:
        return hints
    for app in root.sequence("applications"):
        args = app.mapping("args")
        for llm in args.sequence("llm_configs") if args else []:
            loading = llm.mapping("model_loading_config")
            if loading is not None:
                source = loading.get("model_source") or loading.get("model_id")
                if source is not None and isinstance(source.value, str):
                    hints["model"] = Declared(source.value, source.origin, "serveConfigV2 model")
                model_id = loading.get("model_id")
                if model_id is not None and isinstance(model_id.value, str):
                    hints["served_model_name"] = Declared(
                        model_id.value, model_id.origin, "serveConfigV2 model_id"
                    )
            engine = llm.mapping("engine_kwargs")
            for key, node in engine.entries() if engine else []:
                normalized = key.replace("-", "_")
                if normalized in SERVING_KEYS and not isinstance(node.value, (dict, list)):
                    hints[normalized] = Declared(node.value, node.origin, f"engine_kwargs.{key}")
            accelerator = llm.get("accelerator_type")
            if accelerator is not None and isinstance(accelerator.value, str):
                hints["accelerator_type"] = Declared(
                    accelerator.value, accelerator.origin, "accelerator_type"
                )
            if hints:
                return hints
        runtime_env = app.mapping("runtime_env")
        env_vars = runtime_env.mapping("env_vars") if runtime_env else None
        for name, node in env_vars.entries() if env_vars else []:
            setting = _RUNTIME_ENV_KEYS.get(name)
            if setting is not None and not isinstance(node.value, (dict, list)):
                value: Any = node.value
                if setting != "model" and isinstance(value, str) and value.isdigit():
                    value = int(value)
                hints[setting] = Declared(value, node.origin, f"runtime_env {name}")
        if hints:
            return hints
    return hints
