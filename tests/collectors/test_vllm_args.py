"""vLLM 0.32 serve-argument parsing, rendering and env-var typing."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from piqc_advisor.collectors import vllm_args as va
from piqc_advisor.collectors.command_line import (
    OPENAI_API_SERVER,
    SERVE,
    Token,
    effective_argv,
    find_vllm_invocation,
)
from piqc_advisor.collectors.vllm_args import (
    VLLM_FLAGS,
    VllmCommandLine,
    apply_config_file,
    config_file_argv,
    human_readable_int,
    human_readable_int_or_auto,
    parse_vllm_args,
    render_vllm_args,
    vllm_env_settings,
)


def toks(*words: str) -> list[Token]:
    return [Token(w, "args", i) for i, w in enumerate(words)]


def parse(*words: str, serve: bool = True) -> VllmCommandLine:
    return parse_vllm_args(toks(*words), serve=serve)


def kinds(cl: VllmCommandLine) -> list[str]:
    return [p.kind for p in cl.problems]


def values(cl: VllmCommandLine) -> dict[str, Any]:
    return {dest: arg.value for dest, arg in cl.args.items()}


# ---------------------------------------------------------------- the flag table


def test_flag_table_loaded_from_generated_json() -> None:
    tp = VLLM_FLAGS["--tensor-parallel-size"]
    assert tp.aliases == ("-tp",)
    assert tp.dest == "tensor_parallel_size"
    assert tp.default == 1
    assert VLLM_FLAGS["--enable-prefix-caching"].aliases == ("--no-enable-prefix-caching",)
    assert VLLM_FLAGS["--log-config-file"].deprecated
    assert VLLM_FLAGS["--disable-cascade-attn"].deprecated
    assert not VLLM_FLAGS["--allow-deprecated-quantization"].deprecated
    assert VLLM_FLAGS["model_tag"].positional
    assert "fp8" in (VLLM_FLAGS["--kv-cache-dtype"].choices or ())
    assert len(VLLM_FLAGS) == 317


def test_generated_json_has_no_help_text() -> None:
    from importlib import resources

    data = resources.files("piqc_advisor.collectors").joinpath("data")
    args = json.loads(data.joinpath("vllm_0_32_args.json").read_text())["args"]
    envs = json.loads(data.joinpath("vllm_0_32_envs.json").read_text())["envs"]
    assert all("summary" not in a and "help" not in a for a in args)
    assert {tuple(sorted(e)) for e in envs} == {("choices", "default", "name", "type")}


def test_import_tool_is_reproducible(tmp_path: Any, reference_dir: Any) -> None:
    import importlib.util
    from pathlib import Path

    tool = Path(__file__).resolve().parents[2] / "tools" / "import_vllm_reference.py"
    spec = importlib.util.spec_from_file_location("import_vllm_reference", tool)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--reference-dir", str(reference_dir), "--out-dir", str(tmp_path)]) == 0
    packaged = Path(va.__file__).parent / "data"
    for name in ("vllm_0_32_args.json", "vllm_0_32_envs.json"):
        assert (tmp_path / name).read_text() == (packaged / name).read_text()


# ---------------------------------------------------------------- human-readable ints


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32k", 32_000),
        ("32K", 32_768),
        ("1m", 1_000_000),
        ("1M", 1_048_576),
        ("25.6k", 25_600),
        ("2g", 2_000_000_000),
        ("1T", 2**40),
        (" 4096 ", 4096),
        ("-5", -5),
    ],
)
def test_human_readable_int(text: str, expected: int) -> None:
    assert human_readable_int(text) == expected


@pytest.mark.parametrize("text", ["1.5K", "32kb", "k", "1e3", ""])
def test_human_readable_int_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        human_readable_int(text)


def test_human_readable_int_or_auto() -> None:
    assert human_readable_int_or_auto("auto") == -1
    assert human_readable_int_or_auto("AUTO") == -1
    assert human_readable_int_or_auto("-1") == -1
    assert human_readable_int_or_auto("8k") == 8000


# ---------------------------------------------------------------- exact parses


def test_serve_positional_model_and_common_flags() -> None:
    cl = parse(
        "org/model",
        "-tp",
        "2",
        "--max-model-len=32k",
        "--no-enable-prefix-caching",
        "--enforce-eager",
        "--gpu-memory-utilization",
        "0.85",
    )
    assert cl.model is not None
    assert (cl.model.value, cl.model.flag, cl.model.token.index) == ("org/model", "model_tag", 0)
    assert values(cl) == {
        "tensor_parallel_size": 2,
        "max_model_len": 32_000,
        "enable_prefix_caching": False,
        "enforce_eager": True,
        "gpu_memory_utilization": 0.85,
    }
    tp = cl.args["tensor_parallel_size"]
    assert (tp.flag, tp.written_as, tp.token.index, tp.value_tokens[0].index) == (
        "--tensor-parallel-size",
        "-tp",
        1,
        2,
    )
    assert cl.args["max_model_len"].written_as == "--max-model-len"
    assert cl.args["enable_prefix_caching"].written_as == "--no-enable-prefix-caching"
    assert cl.problems == ()


def test_underscores_are_dashes() -> None:
    cl = parse("m", "--max_model_len", "4096", "--enable_prefix_caching", "--no_enforce_eager")
    assert values(cl) == {
        "max_model_len": 4096,
        "enable_prefix_caching": True,
        "enforce_eager": False,
    }
    assert cl.args["max_model_len"].written_as == "--max_model_len"
    assert cl.args["max_model_len"].flag == "--max-model-len"
    assert cl.problems == ()


def test_max_model_len_auto_and_binary_suffix() -> None:
    assert values(parse("m", "--max-model-len", "auto")) == {"max_model_len": -1}
    assert values(parse("m", "--max-model-len", "32K")) == {"max_model_len": 32_768}
    bad = parse("m", "--max-model-len", "1.5K")
    assert kinds(bad) == ["bad_value"]
    assert bad.problems[0].token == Token("--max-model-len", "args", 1)


def test_json_values() -> None:
    cl = parse(
        "m",
        "--speculative-config",
        '{"method":"ngram","num_speculative_tokens":3}',
        "--hf-overrides",
        '{"rope_scaling": {"type": "yarn"}}',
        "--compilation-config",
        '{"cudagraph_mode": "FULL"}',
        "--limit-mm-per-prompt",
        '{"image": 2}',
    )
    assert values(cl) == {
        "speculative_config": {"method": "ngram", "num_speculative_tokens": 3},
        "hf_overrides": {"rope_scaling": {"type": "yarn"}},
        "compilation_config": {"cudagraph_mode": "FULL"},
        "limit_mm_per_prompt": {"image": 2},
    }
    # union_dict_and_str: a non-object stays a string
    assert values(parse("m", "--hf-overrides", "my/overrides.json")) == {
        "hf_overrides": "my/overrides.json"
    }
    broken = parse("m", "--speculative-config", "{method: ngram}")
    assert kinds(broken) == ["bad_value"]
    # a config dataclass needs a JSON object
    assert kinds(parse("m", "--compilation-config", "3")) == ["bad_value"]


def test_dotted_json_keys_are_merged_and_appended() -> None:
    cl = parse(
        "m",
        "--compilation-config.cudagraph_mode",
        "FULL",
        "--compilation-config.pass_config.fuse_norm_quant=true",
        "--compilation-config.compile_sizes+",
        "1,2",
        "-tp",
        "2",
    )
    assert values(cl) == {
        "tensor_parallel_size": 2,
        "compilation_config": {
            "cudagraph_mode": "FULL",
            "pass_config": {"fuse_norm_quant": True},
            "compile_sizes": ["1", "2"],
        },
    }
    assert cl.args["compilation_config"].token.index == 1
    assert values(parse("m", "--kv-transfer-config.kv_buffer_size", "1g")) == {
        "kv_transfer_config": {"kv_buffer_size": 1_000_000_000}
    }


def test_optimization_level_short_forms() -> None:
    assert values(parse("m", "-O3")) == {"optimization_level": "3"}
    assert values(parse("m", "-O=0")) == {"optimization_level": "0"}
    assert values(parse("m", "-O", "2")) == {"optimization_level": "2"}
    assert kinds(parse("m", "-O", "fast")) == ["unknown_flag"]


def test_short_aliases() -> None:
    cl = parse("m", "-pp", "2", "-dp", "4", "-q", "fp8", "-ep", "-asc", "2", "-sc", '{"a": 1}')
    assert values(cl) == {
        "pipeline_parallel_size": 2,
        "data_parallel_size": 4,
        "quantization": "fp8",
        "enable_expert_parallel": True,
        "api_server_count": 2,
        "speculative_config": {"a": 1},
    }
    assert values(parse("m", "-tp=8")) == {"tensor_parallel_size": 8}
    # single-character short option with the value glued on, as argparse allows
    assert values(parse("m", "-qawq")) == {"quantization": "awq"}


def test_nargs_plus_swallows_following_words() -> None:
    cl = parse("m", "--served-model-name", "a", "b", "--port", "8001")
    assert values(cl) == {"served_model_name": ["a", "b"], "port": 8001}
    # a model written after a nargs=+ option is eaten by it (vLLM puts the model first)
    late = parse("--served-model-name", "a", "org/m")
    assert late.model is None
    assert values(late) == {"served_model_name": ["a", "org/m"]}
    assert "model_not_first" in kinds(late)


def test_optional_values_none() -> None:
    cl = parse("m", "--quantization", "None", "--max-num-seqs", "128")
    assert values(cl) == {"quantization": None, "max_num_seqs": 128}


def test_append_and_bare_optional_value() -> None:
    cl = parse("m", "--middleware", "a.B", "--middleware", "c.D", "--hf-token")
    assert values(cl) == {"middleware": ["a.B", "c.D"], "hf_token": True}
    assert "duplicate_flag" not in kinds(cl)


def test_model_via_option_is_moved_first_for_serve() -> None:
    cl = parse("-tp", "2", "--model", "org/m", "--port", "8001")
    assert cl.model is not None
    assert (cl.model.value, cl.model.flag, cl.model.written_as) == ("org/m", "--model", "--model")
    assert cl.model.token == Token("--model", "args", 2)
    assert values(cl) == {"tensor_parallel_size": 2, "port": 8001}
    assert cl.problems == ()
    eq = parse("--model=org/m")
    assert eq.model is not None and eq.model.value == "org/m"


def test_model_both_positional_and_option_is_rejected_for_serve() -> None:
    cl = parse("org/a", "--model", "org/b")
    assert cl.model is not None and cl.model.value == "org/b"
    assert kinds(cl) == ["model_conflict"]
    assert cl.problems[0].token == Token("org/a", "args", 0)


def test_missing_model_and_missing_values() -> None:
    assert kinds(parse("--port", "8000")) == ["no_model"]
    assert kinds(parse("m", "--port")) == ["missing_value"]
    assert kinds(parse("m", "--port", "--enforce-eager")) == ["missing_value"]
    assert kinds(parse("--model")) == ["missing_value", "no_model"]
    assert kinds(parse("m", "--served-model-name")) == ["missing_value"]


def test_python_module_entrypoint_with_model_option() -> None:
    tokens = effective_argv(
        ["python3", "-m", "vllm.entrypoints.openai.api_server"],
        ["--model", "$(MODEL_ID)", "--max-model-len", "8192", "--port", "8080"],
        {"MODEL_ID": "org/m"},
    )
    found = find_vllm_invocation(tokens)
    assert found is not None
    kind, rest = found
    assert kind == OPENAI_API_SERVER
    cl = parse_vllm_args(rest, serve=False)
    assert cl.model is not None
    assert (cl.model.value, cl.model.flag, cl.model.token) == (
        "org/m",
        "--model",
        Token("--model", "args", 0),
    )
    assert values(cl) == {"max_model_len": 8192, "port": 8080}
    assert cl.problems == ()


def test_sh_c_pipeline_end_to_end() -> None:
    tokens = effective_argv(
        ["sh", "-c"],
        ["exec vllm serve $MODEL --tensor-parallel-size $TP --max_model_len 4096"],
        {"MODEL": "org/m", "TP": "2"},
    )
    found = find_vllm_invocation(tokens)
    assert found is not None and found[0] == SERVE
    cl = parse_vllm_args(found[1])
    assert cl.model is not None and cl.model.value == "org/m"
    assert values(cl) == {"tensor_parallel_size": 2, "max_model_len": 4096}
    assert {(a.token.source, a.token.index, a.token.from_shell) for a in cl.args.values()} == {
        ("args", 0, True)
    }


def test_unresolved_references_are_reported_not_converted() -> None:
    cl = parse("$(MODEL_ID)", "-tp", "$(TP)", "--max-model-len", "${MAX_LEN}")
    assert cl.model is not None and cl.model.unresolved
    assert values(cl) == {"tensor_parallel_size": "$(TP)", "max_model_len": "${MAX_LEN}"}
    assert cl.args["tensor_parallel_size"].unresolved
    assert kinds(cl) == ["unresolved_reference", "unresolved_reference"]
    assert all(p.severity == "warning" for p in cl.problems)


# ---------------------------------------------------------------- problems


def test_abbreviated_flag_is_accepted_with_suggestion() -> None:
    cl = parse("m", "--max-num-seq", "64")
    assert values(cl) == {"max_num_seqs": 64}
    (problem,) = cl.problems
    assert problem.kind == "abbreviated_flag"
    assert problem.suggestion == "--max-num-seqs"
    assert problem.severity == "warning"
    assert problem.token == Token("--max-num-seq", "args", 1)
    assert cl.args["max_num_seqs"].written_as == "--max-num-seq"


def test_unknown_flag_gets_closest_real_flag() -> None:
    cl = parse("m", "--max-num-sequences", "64", "--port", "8001")
    (problem,) = cl.problems
    assert problem.kind == "unknown_flag"
    assert problem.suggestion == "--max-num-seqs"
    assert problem.token == Token("--max-num-sequences", "args", 1)
    assert problem.severity == "error"
    assert values(cl) == {"port": 8001}
    assert kinds(parse("m", "--tensor-paralel-size", "2")) == ["unknown_flag"]
    assert parse("m", "--tensor-paralel-size", "2").problems[0].suggestion == (
        "--tensor-parallel-size"
    )


def test_ambiguous_prefix() -> None:
    cl = parse("m", "--max-num", "4")
    (problem,) = cl.problems
    assert problem.kind == "ambiguous_flag"
    assert "--max-num-seqs" in problem.message
    assert "--max-num-batched-tokens" in problem.message


def test_bad_choice_and_bad_value() -> None:
    cl = parse("m", "--dtype", "bf16", "--kv-cache-dtype", "fp8_e4m3", "--port", "eighty")
    assert kinds(cl) == ["bad_choice", "bad_value"]
    assert cl.problems[0].suggestion == "bfloat16"
    assert cl.problems[0].token == Token("--dtype", "args", 1)
    assert values(cl) == {"kv_cache_dtype": "fp8_e4m3"}
    assert kinds(parse("m", "--max-lora-rank", "24")) == ["bad_choice"]
    assert values(parse("m", "--max-lora-rank", "64")) == {"max_lora_rank": 64}


def test_boolean_flags_reject_values() -> None:
    assert kinds(parse("m", "--enforce-eager=true")) == ["unexpected_value"]
    # a bare word after a boolean flag is a second positional: argparse rejects it
    assert kinds(parse("m", "--enforce-eager", "true")) == ["unrecognized_argument"]


def test_deprecated_and_duplicate() -> None:
    cl = parse("m", "--disable-cascade-attn", "-tp", "2", "--tensor-parallel-size", "4")
    assert kinds(cl) == ["deprecated_flag", "duplicate_flag"]
    assert cl.args["tensor_parallel_size"].value == 4
    assert cl.problems[0].severity == "warning"


def test_help_never_serves() -> None:
    assert kinds(parse("m", "--help")) == ["help"]


# ---------------------------------------------------------------- config files


def test_config_file_path_is_returned_and_removed() -> None:
    cl = parse("m", "--config", "/etc/vllm/config.yaml", "-tp", "2")
    assert cl.config_file is not None
    assert cl.config_file.value == "/etc/vllm/config.yaml"
    assert cl.config_file.token == Token("--config", "args", 1)
    assert cl.config_file.value_tokens == (Token("/etc/vllm/config.yaml", "args", 2),)
    assert values(cl) == {"tensor_parallel_size": 2}
    assert cl.problems == ()
    assert kinds(parse("m", "--config", "c.json")) == ["bad_value"]


def test_config_equals_form_is_not_loaded() -> None:
    cl = parse("m", "--config=/etc/c.yaml")
    assert cl.config_file is None
    assert kinds(cl) == ["config_not_loaded"]
    assert cl.problems[0].suggestion == "--config /etc/c.yaml"


def test_config_file_argv_matches_vllm_rules() -> None:
    assert config_file_argv(
        {
            "tensor-parallel-size": 4,
            "enforce-eager": True,
            "enable-prefix-caching": False,
            "trust_remote_code": False,
            "served-model-name": ["a", "b"],
            "speculative-config": {"method": "ngram"},
            "api-key": [],
        }
    ) == [
        "--tensor-parallel-size",
        "4",
        "--enforce-eager",
        "--no-enable-prefix-caching",
        "--served-model-name",
        "a",
        "b",
        "--speculative-config",
        '{"method": "ngram"}',
    ]


def test_apply_config_file_cli_wins() -> None:
    cl = parse("--config", "cfg.yaml", "-tp", "2")
    merged = apply_config_file(
        {
            "model": "org/from-config",
            "tensor-parallel-size": 8,
            "max_model_len": "16k",
            "enable-prefix-caching": False,
            "gpu-memory-utilization": 0.8,
        },
        cl,
    )
    assert merged.model is not None
    assert merged.model.value == "org/from-config"
    assert merged.model.from_config_file
    assert values(merged) == {
        "tensor_parallel_size": 2,
        "max_model_len": 16_000,
        "enable_prefix_caching": False,
        "gpu_memory_utilization": 0.8,
    }
    assert merged.args["tensor_parallel_size"].written_as == "-tp"
    assert merged.args["max_model_len"].from_config_file
    assert merged.args["max_model_len"].token == Token("cfg.yaml", "args", 1)
    assert merged.problems == ()
    assert merged.value("port") == 8000


def test_apply_config_file_reports_unknown_keys_and_missing_model() -> None:
    cl = parse("--config", "cfg.yaml")
    merged = apply_config_file({"max-num-seqz": 3}, cl)
    assert sorted(kinds(merged)) == ["no_model", "unknown_flag"]
    unknown = next(p for p in merged.problems if p.kind == "unknown_flag")
    assert unknown.suggestion == "--max-num-seqs"
    assert unknown.message.startswith("config file: ")


# ---------------------------------------------------------------- env vars


def test_vllm_env_settings() -> None:
    out = vllm_env_settings(
        {
            "VLLM_CPU_KVCACHE_SPACE": "4",
            "VLLM_BATCH_INVARIANT": "1",
            "VLLM_WORKER_MULTIPROC_METHOD": "spawn",
            "VLLM_CPU_KVCACHE_SPAC": "8",
            "VLLM_ATTENTION_BACKEND": "FLASH_ATTN",
            "VLLM_API_KEY": None,
            "HF_HOME": "/cache",
            "CUDA_VISIBLE_DEVICES": "0,1",
            "VLLM_USE_PRECOMPILED": "true",
        }
    )
    assert set(out) == {
        "VLLM_CPU_KVCACHE_SPACE",
        "VLLM_BATCH_INVARIANT",
        "VLLM_WORKER_MULTIPROC_METHOD",
        "VLLM_CPU_KVCACHE_SPAC",
        "VLLM_ATTENTION_BACKEND",
        "VLLM_API_KEY",
        "CUDA_VISIBLE_DEVICES",
        "VLLM_USE_PRECOMPILED",
    }
    assert out["VLLM_CPU_KVCACHE_SPACE"].value == 4
    assert out["VLLM_BATCH_INVARIANT"].value is True
    assert out["VLLM_WORKER_MULTIPROC_METHOD"].value == "spawn"
    assert out["VLLM_API_KEY"].raw is None and out["VLLM_API_KEY"].known
    typo = out["VLLM_CPU_KVCACHE_SPAC"]
    assert not typo.known
    assert typo.suggestion == "VLLM_CPU_KVCACHE_SPACE"
    # removed before 0.32 (the --attention-backend option replaces it)
    assert not out["VLLM_ATTENTION_BACKEND"].known
    assert out["VLLM_USE_PRECOMPILED"].problem is not None
    assert vllm_env_settings({"VLLM_WORKER_MULTIPROC_METHOD": "thread"})[
        "VLLM_WORKER_MULTIPROC_METHOD"
    ].problem


# ---------------------------------------------------------------- properties


_SAFE_TEXT = st.from_regex(r"[A-Za-z0-9_/:@+][A-Za-z0-9_./:@+-]{0,15}", fullmatch=True).filter(
    lambda s: s not in ("None",)
)
_JSON_SCALAR = st.one_of(
    st.integers(-1000, 1000), st.booleans(), st.none(), _SAFE_TEXT, st.just(1.5)
)
_JSON_OBJ = st.dictionaries(_SAFE_TEXT, _JSON_SCALAR, max_size=3)


def _scalar(spec: va.FlagSpec) -> st.SearchStrategy[Any]:
    if spec.choices is not None:
        options = [c for c in spec.choices if c != "None"]
        if spec.base == "int":
            return st.sampled_from([int(c) for c in options])
        return st.sampled_from(options)
    if spec.base == "int":
        return st.integers(-(2**40), 2**40)
    if spec.base == "float":
        return st.floats(0, 1e6, allow_nan=False)
    if spec.base in ("human_readable_int", "human_readable_int_or_auto"):
        return st.integers(0, 2**40)
    if spec.base == "json":
        return _JSON_OBJ
    if spec.base == "union_dict_and_str":
        return st.one_of(_JSON_OBJ, _SAFE_TEXT)
    return _SAFE_TEXT


def _value(spec: va.FlagSpec) -> st.SearchStrategy[Any]:
    if spec.action == "boolean_optional":
        return st.booleans()
    if spec.action == "store_true":
        return st.just(True)
    base = _scalar(spec)
    if spec.nargs == "+" or spec.action in ("lora_modules", "append"):
        return st.lists(base, min_size=1, max_size=3)
    if spec.nargs == "?":
        return st.one_of(st.just(True), base)
    if spec.optional:
        return st.one_of(st.none(), base)
    return base


_RENDERABLE = sorted(
    (s for s in VLLM_FLAGS.values() if not s.positional and s.dest not in ("config", "model")),
    key=lambda s: s.dest,
)


@st.composite
def _configs(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(_RENDERABLE), max_size=8, unique_by=lambda s: s.dest))
    mapping: dict[str, Any] = {"model": draw(_SAFE_TEXT)}
    for spec in chosen:
        mapping[spec.dest] = draw(_value(spec))
    return mapping


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_configs())
def test_render_then_parse_gives_back_the_config(mapping: dict[str, Any]) -> None:
    argv = render_vllm_args(mapping)
    cl = parse(*argv)
    assert [p for p in cl.problems if p.kind != "deprecated_flag"] == []
    assert cl.model is not None and cl.model.value == mapping["model"]
    expected = {k: v for k, v in mapping.items() if k != "model"}
    got = values(cl)
    assert set(got) == set(expected)
    assert all(_same(got[k], expected[k]) for k in expected), (argv, got, expected)


@given(_configs())
def test_render_for_api_server_uses_model_option(mapping: dict[str, Any]) -> None:
    argv = render_vllm_args(mapping, serve=False)
    assert argv[:2] == ["--model", mapping["model"]]
    cl = parse(*argv, serve=False)
    assert cl.model is not None and cl.model.value == mapping["model"]


def test_render_refuses_what_argv_cannot_express() -> None:
    with pytest.raises(ValueError):
        render_vllm_args({"watermark": -0.5})  # vLLM rewrites any "-x.y" element
    with pytest.raises(ValueError):
        render_vllm_args({"disable_log_stats": False})  # store_true cannot be switched off
    with pytest.raises(ValueError):
        render_vllm_args({"no_such_option": 1})
    with pytest.raises(ValueError):
        render_vllm_args({"tokenizer": "--weird"})
    assert render_vllm_args({"max_model_len": 4096, "enforce_eager": False}) == [
        "--max-model-len",
        "4096",
        "--no-enforce-eager",
    ]


# ------------------------------------------- agreement with Python's own argparse


class _Fail(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Fail(message)


def _argparse_type(spec: va.FlagSpec) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        if spec.optional and text in ("", "None"):
            return None
        try:
            return va._convert_base(spec, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


def _real_parser() -> argparse.ArgumentParser:
    """An argparse parser with vLLM 0.32's option strings, actions and nargs."""
    parser = _Parser(add_help=True, allow_abbrev=True)
    for spec in VLLM_FLAGS.values():
        if spec.positional:
            parser.add_argument(spec.dest, nargs="?")
            continue
        kwargs: dict[str, Any] = {"dest": spec.dest, "default": argparse.SUPPRESS}
        strings = [spec.flag, *[a for a in spec.aliases if not a.startswith("--no-")]]
        if spec.action == "boolean_optional":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif spec.action == "store_true":
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = _argparse_type(spec)
            if spec.choices is not None:
                kwargs["choices"] = [
                    None if c == "None" else int(c) if spec.base == "int" else c
                    for c in spec.choices
                ]
            if spec.action == "append":
                kwargs["action"] = "append"
            elif spec.action == "lora_modules":
                kwargs["nargs"] = "+"
            elif spec.nargs is not None:
                kwargs["nargs"] = spec.nargs
                if spec.nargs == "?":
                    kwargs["const"] = True
        parser.add_argument(*strings, **kwargs)
    return parser


_REAL = _real_parser()
_WORD_FLAGS = [s for s in _RENDERABLE if s.dest != "help"]


@st.composite
def _argv(draw: st.DrawFn) -> list[str]:
    argv: list[str] = [draw(_SAFE_TEXT)]
    for _ in range(draw(st.integers(0, 6))):
        spec = draw(st.sampled_from(_WORD_FLAGS))
        strings = [spec.flag, *spec.aliases]
        opt = draw(st.sampled_from(strings))
        if opt.startswith("--") and draw(st.booleans()):
            opt = opt[: draw(st.integers(3, len(opt)))]  # maybe an abbreviation
            if opt == "--config":
                opt = spec.flag  # exactly "--config" is vLLM's config-file option
        argv.append(opt)
        if spec.takes_value:
            count = 1 if spec.nargs not in ("+", "?") else draw(st.integers(0, 2))
            for _ in range(count):
                choice = draw(st.sampled_from(["good", "good", "junk"]))
                value = draw(_scalar(spec)) if choice == "good" else draw(_SAFE_TEXT)
                argv.append(
                    json.dumps(value)
                    if isinstance(value, dict)
                    else repr(value)
                    if isinstance(value, float)
                    else str(value)
                )
        elif draw(st.integers(0, 9)) == 0:
            argv.append(draw(_SAFE_TEXT))  # stray word
    return argv


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_argv())
def test_agrees_with_python_argparse(argv: list[str]) -> None:
    """Options, prefixes, nargs and booleans resolve exactly as Python's argparse does."""
    cl = parse(*argv)
    # vLLM moves --model in front of the positional model; plain argparse cannot know that.
    assume(not any(p.kind == "model_conflict" for p in cl.problems))
    errors = [p for p in cl.problems if p.severity == "error"]
    try:
        ns = vars(_REAL.parse_args(argv))
    except _Fail:
        assert errors, (argv, cl.problems)
        return
    assert not errors, (argv, errors)
    ns.pop("help", None)
    model = ns.pop("model_tag", None)
    assert (cl.model.value if cl.model else None) == model
    assert set(values(cl)) == set(ns)
    for dest, value in ns.items():
        assert _same(values(cl)[dest], value), (argv, dest)
