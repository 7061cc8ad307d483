"""Kubernetes argv resolution: $(VAR) expansion, sh -c scripts, finding the vLLM server."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from piqc_advisor.collectors.command_line import (
    IMAGE_ENTRYPOINT,
    LEGACY_API_SERVER,
    OPENAI_API_SERVER,
    SERVE,
    Token,
    effective_argv,
    expand_k8s_vars,
    find_vllm_invocation,
    resolve_argv,
)


def texts(tokens: list[Token]) -> list[str]:
    return [t.text for t in tokens]


# ---------------------------------------------------------------- $(VAR) expansion


def test_k8s_expansion_known_unknown_and_escape() -> None:
    env = {"MODEL_ID": "meta-llama/Llama-3.1-8B", "SECRET": None}
    assert expand_k8s_vars("$(MODEL_ID)", env) == "meta-llama/Llama-3.1-8B"
    assert expand_k8s_vars("--model=$(MODEL_ID)", env) == "--model=meta-llama/Llama-3.1-8B"
    assert expand_k8s_vars("$(NOPE)", env) == "$(NOPE)"
    assert expand_k8s_vars("$(SECRET)", env) == "$(SECRET)"
    assert expand_k8s_vars("$$(MODEL_ID)", env) == "$(MODEL_ID)"
    assert expand_k8s_vars("$$$(MODEL_ID)", env) == "$meta-llama/Llama-3.1-8B"
    assert expand_k8s_vars("$MODEL_ID ${MODEL_ID}", env) == "$MODEL_ID ${MODEL_ID}"
    assert expand_k8s_vars("$(MODEL_ID", env) == "$(MODEL_ID"
    assert expand_k8s_vars("cost $", env) == "cost $"
    assert expand_k8s_vars("$()", env) == "$()"


_NAMES = st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True)
_PLAIN = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=20)


@given(_PLAIN)
def test_k8s_expansion_without_dollar_is_identity(s: str) -> None:
    assert expand_k8s_vars(s, {"A": "x"}) == s


@given(st.text(max_size=40))
def test_k8s_expansion_with_empty_env_only_unescapes(s: str) -> None:
    # With nothing to substitute, the only change is "$$" -> "$".
    out = expand_k8s_vars(s, {})
    assert len(out) <= len(s)
    assert out == expand_k8s_vars(s, {"UNRELATED_Q": None})


@given(_NAMES, _PLAIN, _PLAIN, _PLAIN)
def test_k8s_expansion_substitutes_defined_names(
    name: str, value: str, before: str, after: str
) -> None:
    s = f"{before}$({name}){after}"
    assert expand_k8s_vars(s, {name: value}) == f"{before}{value}{after}"


@given(_PLAIN)
def test_k8s_expansion_escape_roundtrip(s: str) -> None:
    escaped = s.replace("$", "$$")
    assert expand_k8s_vars(escaped, {"X": "1"}) == s


@given(_NAMES, st.text(max_size=10))
def test_k8s_expansion_is_single_pass(name: str, value: str) -> None:
    # A substituted value is never expanded again.
    nested = f"$({name})"
    assert expand_k8s_vars(nested, {name: nested + value}) == nested + value


# ---------------------------------------------------------------- effective argv


def test_command_plus_args_keeps_origins() -> None:
    tokens = effective_argv(["vllm", "serve"], ["$(MODEL_ID)", "-tp", "2"], {"MODEL_ID": "org/m"})
    assert tokens == [
        Token("vllm", "command", 0),
        Token("serve", "command", 1),
        Token("org/m", "args", 0),
        Token("-tp", "args", 1),
        Token("2", "args", 2),
    ]


def test_args_only_means_unknown_entrypoint() -> None:
    resolved = resolve_argv(None, ["--model", "m"], {})
    assert resolved.entrypoint_known is False
    assert texts(list(resolved.tokens)) == ["--model", "m"]
    assert [t.source for t in resolved.tokens] == ["args", "args"]
    assert resolve_argv(["vllm"], None, {}).entrypoint_known is True


def test_sh_c_exec_vllm_serve_with_env() -> None:
    env = {"MODEL": "Qwen/Qwen3-8B", "TP": "4"}
    resolved = resolve_argv(
        ["sh", "-c"], ["exec vllm serve $MODEL --tensor-parallel-size $TP"], env
    )
    assert resolved.flattened
    assert texts(list(resolved.tokens)) == [
        "vllm",
        "serve",
        "Qwen/Qwen3-8B",
        "--tensor-parallel-size",
        "4",
    ]
    assert all(t == Token(t.text, "args", 0, True) for t in resolved.tokens)
    assert resolved.shell_script == Token(
        "exec vllm serve $MODEL --tensor-parallel-size $TP", "args", 0
    )


def test_sh_c_script_in_command_carries_command_index() -> None:
    tokens = effective_argv(["/bin/sh", "-c", "vllm serve m --port 8000"], None, {})
    assert texts(tokens) == ["vllm", "serve", "m", "--port", "8000"]
    assert {(t.source, t.index, t.from_shell) for t in tokens} == {("command", 2, True)}


def test_bash_script_with_assignments_exports_defaults_and_continuations() -> None:
    script = (
        "set -e\n"
        "MODEL=org/base\n"
        "export TP=2 PORT=9000\n"
        "pip install -q flashinfer && \\\n"
        '  VLLM_USE_V1=1 exec vllm serve "${MODEL}" -tp ${TP:-1} \\\n'
        "    --port $PORT --max-model-len ${MAX_LEN:-8192} --served-model-name 'my $MODEL'"
        " 2>&1 | tee /tmp/log # trailing comment"
    )
    resolved = resolve_argv(["/bin/bash", "-ec"], [script], {})
    assert resolved.flattened
    assert texts(list(resolved.tokens)) == [
        "vllm",
        "serve",
        "org/base",
        "-tp",
        "2",
        "--port",
        "9000",
        "--max-model-len",
        "8192",
        "--served-model-name",
        "my $MODEL",
    ]
    assert resolved.shell_assignments == (("VLLM_USE_V1", "1"),)
    assert [c.words[0] for c in resolved.shell_commands] == ["set", "pip", "exec", "tee"]


def test_shell_unknown_variable_stays_as_written_and_env_beats_nothing() -> None:
    tokens = effective_argv(
        ["bash", "-c", "vllm serve $MODEL --api-key ${API_KEY} --seed ${SEED:-7}"],
        None,
        {"MODEL": "m", "API_KEY": None},
    )
    assert texts(tokens) == ["vllm", "serve", "m", "--api-key", "${API_KEY}", "--seed", "7"]


def test_shell_word_splitting_and_quoting() -> None:
    env = {"EXTRA": "--enforce-eager  --port 8001", "NAME": "a b"}
    tokens = effective_argv(["sh", "-c", 'vllm serve m $EXTRA "$NAME" x"$NAME"y'], None, env)
    assert texts(tokens) == [
        "vllm",
        "serve",
        "m",
        "--enforce-eager",
        "--port",
        "8001",
        "a b",
        "xa by",
    ]


def test_shell_k8s_expansion_happens_before_the_shell() -> None:
    # $$ is the kubelet's escape: the shell then sees $MODEL and expands its own variable.
    tokens = effective_argv(
        ["sh", "-c", "MODEL=x; vllm serve $$MODEL --dtype $(DTYPE)"], None, {"DTYPE": "half"}
    )
    assert texts(tokens) == ["vllm", "serve", "x", "--dtype", "half"]


def test_shell_positional_parameters() -> None:
    tokens = effective_argv(["sh", "-c", 'exec vllm serve "$1"', "sh", "org/model"], None, {})
    assert texts(tokens) == ["vllm", "serve", "org/model"]


def test_shell_without_server_is_left_whole() -> None:
    resolved = resolve_argv(["sh", "-c", "sleep infinity"], None, {})
    assert not resolved.flattened
    assert texts(list(resolved.tokens)) == ["sh", "-c", "sleep infinity"]


def test_sh_without_c_is_not_a_script() -> None:
    resolved = resolve_argv(["sh", "run.sh"], None, {})
    assert resolved.shell_script is None
    assert texts(list(resolved.tokens)) == ["sh", "run.sh"]


# ---------------------------------------------------------------- finding the server


def _toks(*words: str) -> list[Token]:
    return [Token(w, "args", i) for i, w in enumerate(words)]


def test_find_vllm_serve() -> None:
    found = find_vllm_invocation(_toks("vllm", "serve", "m", "-tp", "2"))
    assert found is not None
    kind, rest = found
    assert kind == SERVE
    assert texts(rest) == ["m", "-tp", "2"]
    assert rest[0].index == 2


def test_find_vllm_serve_behind_wrappers_and_path() -> None:
    found = find_vllm_invocation(_toks("/usr/bin/env", "/opt/venv/bin/vllm", "serve", "m"))
    assert found is not None
    assert found[0] == SERVE
    assert texts(found[1]) == ["m"]
    assert find_vllm_invocation(_toks("vllm", "bench", "serve")) is None
    assert find_vllm_invocation(_toks("pip", "install", "vllm")) is None


def test_find_python_module_entrypoints() -> None:
    found = find_vllm_invocation(
        _toks("python3", "-u", "-m", "vllm.entrypoints.openai.api_server", "--model", "m")
    )
    assert found is not None
    assert found[0] == OPENAI_API_SERVER
    assert texts(found[1]) == ["--model", "m"]
    legacy = find_vllm_invocation(_toks("python", "-m", "vllm.entrypoints.api_server"))
    assert legacy is not None
    assert legacy[0] == LEGACY_API_SERVER
    assert legacy[1] == []
    glued = find_vllm_invocation(_toks("python3.12", "-mvllm.entrypoints.openai.api_server"))
    assert glued is not None
    assert glued[0] == OPENAI_API_SERVER
    cli = find_vllm_invocation(_toks("python", "-m", "vllm.entrypoints.cli.main", "serve", "m"))
    assert cli is not None
    assert cli[0] == SERVE
    assert find_vllm_invocation(_toks("python", "-m", "http.server")) is None


def test_find_module_path_forms() -> None:
    bare = find_vllm_invocation(_toks("vllm.entrypoints.openai.api_server", "--port", "1"))
    assert bare is not None
    assert bare[0] == OPENAI_API_SERVER
    assert texts(bare[1]) == ["--port", "1"]
    script = find_vllm_invocation(
        _toks("python3", "/usr/lib/python3/site-packages/vllm/entrypoints/openai/api_server.py")
    )
    assert script is not None
    assert script[0] == OPENAI_API_SERVER


def test_image_entrypoint_flag_makes_args_serve_args() -> None:
    tokens = effective_argv(None, ["org/m", "--max-model-len", "4096"], {})
    assert find_vllm_invocation(tokens) is None
    found = find_vllm_invocation(tokens, image_runs_vllm_serve=True)
    assert found is not None
    assert found[0] == IMAGE_ENTRYPOINT
    assert found[1] == tokens


@given(
    st.lists(
        st.from_regex(r"[A-Za-z0-9_./=:-]{1,12}", fullmatch=True).filter(
            lambda w: not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)
        ),
        max_size=8,
    )
)
def test_plain_script_words_survive_the_shell(words: list[str]) -> None:
    tokens = effective_argv(["sh", "-c", "exec vllm serve " + " ".join(words)], None, {})
    assert texts(tokens) == ["vllm", "serve", *words]
    assert all(t.from_shell and t.source == "command" and t.index == 2 for t in tokens)
