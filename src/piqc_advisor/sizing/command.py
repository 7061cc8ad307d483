"""The `piqc-advisor size` command: does a model fit a GPU, and how much KV cache is left."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from piqc_advisor.safe_yaml import DataFileError
from piqc_advisor.sizing.accelerators import builtin_gpu_catalog, load_gpu_catalog, resolve_gpu
from piqc_advisor.sizing.architectures import (
    Architecture,
    load_config_json,
    name_quantization,
    resolve_model,
)
from piqc_advisor.sizing.estimator import Estimate, SizingInput, estimate
from piqc_advisor.terminal import Output, TextTable

# Values vLLM 0.32's parser accepts for --dtype and --kv-cache-dtype (checked by a test).
DTYPES = ("auto", "bfloat16", "float16", "float32", "half", "float")
KV_DTYPES = ("auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2")


def _model(value: str) -> tuple[Architecture, str | None]:
    path = Path(value)
    if path.exists() and (path.is_file() or (path / "config.json").is_file()):
        return load_config_json(path), name_quantization(path.resolve().name)
    match = resolve_model(value)
    if match is None:
        raise click.UsageError(
            f"unknown model {value!r}: not in the built-in catalog and not a local config.json "
            "or model directory (the architecture is never guessed from a size in the name)"
        )
    return match.architecture, match.name_quantization


@click.command("size")
@click.argument("model")
@click.option(
    "--gpu", "gpu_name", required=True, help="GPU name, node label value or instance type."
)
@click.option("--count", type=click.IntRange(min=1), help="GPUs per replica (default TP x PP).")
@click.option("--tp", type=click.IntRange(min=1), help="Tensor parallel size.")
@click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--max-model-len", type=click.IntRange(min=1))
@click.option("--max-num-seqs", type=click.IntRange(min=1))
@click.option("--dtype", type=click.Choice(DTYPES), default="auto", show_default=True)
@click.option("--kv-cache-dtype", type=click.Choice(KV_DTYPES), default="auto", show_default=True)
@click.option("--quantization", help="vLLM --quantization value (awq, gptq, fp8, ...).")
@click.option(
    "--gpu-memory-utilization", type=click.FloatRange(0.05, 1.0), default=0.9, show_default=True
)
@click.option("--enforce-eager", is_flag=True, help="No CUDA graphs.")
@click.option("--gpu-catalog", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="YAML file adding or overriding accelerators and instance types.")  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def size_command(
    model: str,
    gpu_name: str,
    count: int | None,
    tp: int | None,
    pp: int,
    max_model_len: int | None,
    max_num_seqs: int | None,
    dtype: str,
    kv_cache_dtype: str,
    quantization: str | None,
    gpu_memory_utilization: float,
    enforce_eager: bool,
    gpu_catalog: Path | None,
    fmt: str,
) -> None:
    """Estimate per-GPU memory, KV-cache tokens and concurrency for MODEL on a GPU."""
    try:
        catalog = load_gpu_catalog(gpu_catalog) if gpu_catalog else builtin_gpu_catalog()
        arch, from_name = _model(model)
    except DataFileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    match = resolve_gpu(gpu_name, catalog)
    if match is None:
        raise click.UsageError(
            f"unknown GPU {gpu_name!r}; known: " + ", ".join(a.id for a in catalog.accelerators)
        )
    gpus = count or match.count
    tp = tp or (max(1, (gpus or 1) // pp))
    request = SizingInput(
        architecture=arch,
        accelerator=match.accelerator,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        gpus=gpus,
        max_model_len=max_model_len,
        max_num_seqs=max_num_seqs,
        dtype=dtype,
        kv_cache_dtype=kv_cache_dtype,
        quantization=quantization,
        gpu_memory_utilization=gpu_memory_utilization,
        enforce_eager=enforce_eager,
    )
    result = estimate(request, name_quantization=from_name, catalog=catalog)
    out = Output()
    if fmt == "json":
        data = result.to_json()
        data["catalog_date"] = catalog.date
        out.json(data)
    else:
        out.table(_table(result, catalog.date))
    if result.problems or not result.fits:
        sys.exit(1)


def _table(result: Estimate, date: str) -> TextTable:
    i = result.inputs
    conc = result.max_concurrency
    gpus = i.tensor_parallel * i.pipeline_parallel
    runtime = result.activation_gib + result.non_torch_gib + result.cuda_graphs_gib
    layout = f"TP {i.tensor_parallel}, PP {i.pipeline_parallel}"
    rows = [
        ("model", f"{i.architecture.id} ({i.architecture.source})"),
        ("gpu", f"{i.accelerator.id} x {gpus} ({layout})"),
        (
            "dtype / weights / kv",
            f"{result.act_dtype} / {result.weight_format} / {i.kv_cache_dtype}",
        ),
        ("budget per GPU", f"{result.budget_gib:.2f} GiB of {i.accelerator.usable_gib} GiB"),
        ("weights per GPU", f"{result.weights_gib:.2f} GiB"),
        ("activations + runtime", f"{runtime:.2f} GiB"),
        (
            "KV cache per GPU",
            f"{result.kv_available_gib:.2f} GiB, {result.kv_bytes_per_token:,} B/token",
        ),
        ("KV cache tokens", f"{result.kv_tokens:,}"),
        ("max concurrency", f"{conc:.2f} sequences of {result.max_model_len:,} tokens"),
        ("fits", ("yes" if result.fits else "NO") + f" (margin {result.margin_gib:.2f} GiB)"),
    ]
    if result.cheaper:
        gpu, saving, other = result.cheaper
        rows.append(
            (
                "cheaper tier",
                f"{gpu} serves it ({other:.2f} seqs), saves ~${saving:.2f}/h "
                "(reference prices, verify)",
            )
        )
    footer = (
        tuple(f"problem: {p}" for p in result.problems)
        + tuple(f"assumption: {a}" for a in result.assumptions)
        + tuple(f"note: {n}" for n in result.notes)
        + (f"catalog date: {date}",)
    )
    return TextTable(("what", "value"), tuple(rows), footer=footer)
