"""Engine detection, serving-container choice and serving-config extraction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest

from piqc_advisor.collectors.command_line import Token, effective_argv
from piqc_advisor.collectors.container_view import ContainerView, EnvVar
from piqc_advisor.collectors.engines import (
    TRTLLM_BACKEND_SIGNAL,
    ServingExtraction,
    choose_serving_container,
    detect_engine,
    image_version,
    parse_image,
    serving_config,
)
from piqc_advisor.facts.origin import Origin
from piqc_advisor.facts.workload import SERVING_KEYS

PATH = "pod.yaml"


def token_origin(token: Token) -> Origin:
    return Origin(PATH, 100 + token.index, pointer=f"/{token.source}/{token.index}")


def make_view(
    image: str | None = None,
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    secret_env: Mapping[str, str] | None = None,
    name: str = "server",
    ports: Sequence[int] = (),
    config_files: Mapping[str, str] | None = None,
) -> ContainerView:
    """A ContainerView as the Kubernetes collector builds it; env lines are 50 + position."""
    env_vars: dict[str, EnvVar] = {}
    for i, (key, value) in enumerate((env or {}).items()):
        env_vars[key] = EnvVar(key, value, Origin(PATH, 50 + i))
    for i, (key, secret) in enumerate((secret_env or {}).items()):
        env_vars[key] = EnvVar(key, None, Origin(PATH, 70 + i), f"secretKeyRef:{secret}/key")
    literal = {k: v.value for k, v in env_vars.items()}
    tokens = effective_argv(command, args, literal)
    files = {
        path: (text, Origin("configmap.yaml", 10)) for path, text in (config_files or {}).items()
    }
    return ContainerView(
        name=name,
        image=image,
        origin=Origin(PATH, 5),
        tokens=tuple(tokens),
        command_given=command is not None,
        env=env_vars,
        ports=tuple((None, p) for p in ports),
        token_origin=token_origin,
        image_origin=Origin(PATH, 6) if image else None,
        config_files=files,
    )


def declared_values(extraction: ServingExtraction) -> dict[str, object]:
    return {k: d.value for k, d in extraction.declared.items() if d is not None}


# --------------------------------------------------------------------------------------
# Images and versions
# --------------------------------------------------------------------------------------


def test_parse_image_drops_docker_hub_and_library() -> None:
    ref = parse_image("docker.io/library/vllm:1.0")
    assert (ref.registry, ref.repository, ref.tag) == (None, "vllm", "1.0")
    ref = parse_image("localhost:5000/vllm/vllm-openai:v0.6.3@sha256:" + "a" * 64)
    assert ref.registry == "localhost:5000"
    assert ref.repository == "vllm/vllm-openai"
    assert ref.tag == "v0.6.3"
    assert ref.digest == "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v0.6.3", "0.6.3"),
        ("0.10.1.1", "0.10.1.1"),
        ("0.32.0", "0.32.0"),
        ("v0.6.3-cu121", "0.6.3"),
        ("v0.4.6.post1-cu124", "0.4.6.post1"),
        ("24.08-trtllm-python-py3", "24.08"),
        ("2.4.0-rocm", "2.4.0"),
        ("cpu-1.6", "1.6"),
        ("86-1.6", "1.6"),
        ("server-cuda-b4500", "b4500"),
        ("latest", None),
        ("sha-1a2b3c4", None),
        ("nightly", None),
        (None, None),
    ],
)
def test_image_version(tag: str | None, version: str | None) -> None:
    assert image_version(tag) == version


# --------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------


def test_vllm_image_and_command() -> None:
    view = make_view(
        "vllm/vllm-openai:v0.6.3",
        command=["vllm", "serve"],
        args=["meta-llama/Llama-3.1-8B-Instruct", "--gpu-memory-utilization", "0.85"],
        env={"VLLM_LOGGING_LEVEL": "INFO"},
        ports=[8000],
    )
    guess = detect_engine(view)
    assert guess is not None
    assert guess.name == "vllm"
    assert guess.signals == (
        "image:vllm/vllm-openai",
        "command:vllm serve",
        "flag:--gpu-memory-utilization",
        "env:VLLM_LOGGING_LEVEL",
        "port:8000",
    )
    assert guess.version == "0.6.3"
    assert guess.version_source == "image-tag"
    assert guess.confidence > 0.95


def test_confidence_grows_with_evidence() -> None:
    both = detect_engine(
        make_view("vllm/vllm-openai:v0.6.3", command=["vllm", "serve"], args=["m"])
    )
    image_only = detect_engine(make_view("vllm/vllm-openai:v0.6.3", args=["m"]))
    command_only = detect_engine(make_view("mycorp/base:1", command=["vllm", "serve", "m"]))
    flags_only = detect_engine(
        make_view(
            "mycorp/base:1",
            command=["/start.sh"],
            args=["--gpu-memory-utilization", "0.9", "--max-num-seqs", "64"],
        )
    )
    assert both and image_only and command_only and flags_only
    assert {g.name for g in (both, image_only, command_only, flags_only)} == {"vllm"}
    assert both.confidence > command_only.confidence > image_only.confidence
    assert image_only.confidence > flags_only.confidence
    one_flag = detect_engine(
        make_view("mycorp/base:1", command=["/start.sh"], args=["--max-num-seqs", "64"])
    )
    assert one_flag is not None
    assert one_flag.signals == ("flag:--max-num-seqs",)
    assert one_flag.confidence < 0.5 < flags_only.confidence
    # The version is read only from a known engine image, not from an app image tag.
    assert command_only.version is None


def test_python_module_vllm_entrypoint() -> None:
    view = make_view(
        "mycorp/llm:2.3.1",
        command=["python3", "-m", "vllm.entrypoints.openai.api_server"],
        args=["--model", "m"],
    )
    guess = detect_engine(view)
    assert guess is not None
    assert guess.name == "vllm"
    assert "command:python -m vllm.entrypoints.openai.api_server" in guess.signals
    assert guess.version is None


def test_sglang_with_generic_flags_only_is_sglang() -> None:
    view = make_view(
        "lmsysorg/sglang:v0.4.6.post1-cu124",
        command=["python3", "-m", "sglang.launch_server"],
        args=["--model", "X", "--port", "8000", "--tensor-parallel-size", "2"],
        ports=[8000],
    )
    guess = detect_engine(view)
    assert guess is not None
    assert guess.name == "sglang"
    assert guess.signals == ("image:lmsysorg/sglang", "command:python -m sglang.launch_server")
    assert guess.version == "0.4.6.post1"
    assert guess.confidence > 0.9


def test_generic_flags_on_unknown_image_claim_nothing() -> None:
    view = make_view(
        "mycorp/inference:1.2.3",
        command=["python", "server.py"],
        args=["--model", "X", "--port", "8000", "--tensor-parallel-size", "2", "--dtype", "auto"],
        ports=[8000],
    )
    assert detect_engine(view) is None
    assert detect_engine(make_view("busybox:1.36", ports=[8000, 30000])) is None


def test_helper_images_with_engine_word_are_not_engines() -> None:
    assert detect_engine(make_view("mycorp/vllm-router:1.0")) is None
    guess = detect_engine(make_view("mycorp/vllm-custom:1.0"))
    assert guess is not None
    assert guess.name == "vllm"
    assert guess.confidence < 0.5
    assert guess.version is None


@pytest.mark.parametrize(
    ("view", "engine", "signal", "version"),
    [
        (
            make_view("ghcr.io/huggingface/text-generation-inference:3.0.1"),
            "tgi",
            "image:huggingface/text-generation-inference",
            "3.0.1",
        ),
        (
            make_view(
                "mycorp/base:1", command=["text-generation-launcher"], args=["--num-shard", "2"]
            ),
            "tgi",
            "command:text-generation-launcher",
            None,
        ),
        (
            make_view("ghcr.io/huggingface/text-embeddings-inference:cpu-1.6"),
            "tei",
            "image:huggingface/text-embeddings-inference",
            "1.6",
        ),
        (
            make_view("mycorp/base:1", command=["text-embeddings-router", "--model-id", "x"]),
            "tei",
            "command:text-embeddings-router",
            None,
        ),
        (
            make_view("nvcr.io/nvidia/tritonserver:24.08-py3", command=["tritonserver"]),
            "triton",
            "command:tritonserver",
            "24.08",
        ),
        (
            make_view("nvcr.io/nvidia/tensorrt-llm/release:1.0.0", command=["trtllm-serve", "m"]),
            "trtllm",
            "command:trtllm-serve",
            "1.0.0",
        ),
        (
            make_view("nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3"),
            "nim",
            "image:nvcr.io/nim/meta/llama-3.1-8b-instruct",
            "1.3.3",
        ),
        (
            make_view("mycorp/base:1", env={"NIM_MODEL_NAME": "a", "NIM_SERVER_PORT": "9000"}),
            "nim",
            "env:NIM_MODEL_NAME",
            None,
        ),
        (
            make_view("kserve/huggingfaceserver:v0.14.1-gpu", args=["--model_id=x"]),
            "kserve-huggingface",
            "image:kserve/huggingfaceserver",
            "0.14.1",
        ),
        (
            make_view("mycorp/base:1", command=["python", "-m", "huggingfaceserver"]),
            "kserve-huggingface",
            "command:python -m huggingfaceserver",
            None,
        ),
        (
            make_view("ghcr.io/ggml-org/llama.cpp:server-cuda-b4500", args=["-ngl", "99"]),
            "llamacpp",
            "image:ggml-org/llama.cpp",
            "b4500",
        ),
        (
            make_view("mycorp/base:1", command=["/app/llama-server", "-m", "/models/x.gguf"]),
            "llamacpp",
            "command:llama-server",
            None,
        ),
        (
            make_view("ollama/ollama:0.5.7-rocm"),
            "ollama",
            "image:ollama/ollama",
            "0.5.7",
        ),
        (
            make_view("mycorp/base:1", command=["ollama", "serve"]),
            "ollama",
            "command:ollama serve",
            None,
        ),
    ],
)
def test_each_engine_is_detected(
    view: ContainerView, engine: str, signal: str, version: str | None
) -> None:
    guess = detect_engine(view)
    assert guess is not None
    assert guess.name == engine
    assert signal in guess.signals
    assert guess.version == version


def test_triton_tensorrtllm_backend_is_a_triton_signal() -> None:
    view = make_view(
        "nvcr.io/nvidia/tritonserver:24.08-trtllm-python-py3",
        command=["tritonserver"],
        args=["--model-repository=/models"],
    )
    guess = detect_engine(view)
    assert guess is not None
    assert guess.name == "triton"
    assert guess.signals == (
        "image:nvidia/tritonserver",
        "command:tritonserver",
        "flag:--model-repository",
        TRTLLM_BACKEND_SIGNAL,
    )
    assert guess.version == "24.08"
    # trtllm-serve is its own engine, even inside the Triton image.
    serve = make_view(
        "nvcr.io/nvidia/tritonserver:24.08-trtllm-python-py3", command=["trtllm-serve", "m"]
    )
    other = detect_engine(serve)
    assert other is not None
    assert other.name == "trtllm"


def test_engine_in_sh_c_script_is_found() -> None:
    view = make_view(
        "mycorp/base:1",
        command=["/bin/sh", "-c"],
        args=["pip install x && exec python3 -m sglang.launch_server --model-path m --tp 2"],
    )
    guess = detect_engine(view)
    assert guess is not None
    assert guess.name == "sglang"
    values = declared_values(serving_config(view, "sglang"))
    assert values["model"] == "m"
    assert values["tensor_parallel_size"] == 2


def test_env_only_tgi_and_shared_variables_do_not_claim() -> None:
    shared = make_view("mycorp/base:1", env={"MODEL_ID": "x", "MAX_CONCURRENT_REQUESTS": "8"})
    assert detect_engine(shared) is None
    tgi = make_view("mycorp/base:1", env={"MODEL_ID": "x", "MAX_TOTAL_TOKENS": "4096"})
    guess = detect_engine(tgi)
    assert guess is not None
    assert guess.name == "tgi"
    assert guess.signals == ("env:MODEL_ID", "env:MAX_TOTAL_TOKENS")


# --------------------------------------------------------------------------------------
# Choosing the serving container
# --------------------------------------------------------------------------------------


def test_istio_sidecar_first_does_not_hide_vllm() -> None:
    istio = make_view(
        "docker.io/istio/proxyv2:1.22.0",
        name="istio-proxy",
        args=["proxy", "sidecar"],
        ports=[15090],
    )
    vllm = make_view("vllm/vllm-openai:v0.10.1.1", name="vllm", args=["m"], ports=[8000])
    index, guesses = choose_serving_container([istio, vllm])
    assert index == 1
    assert set(guesses) == {1}
    assert guesses[1].name == "vllm"
    assert guesses[1].version == "0.10.1.1"


def test_sidecar_with_engine_env_is_not_chosen() -> None:
    exporter = make_view("mycorp/metrics:1", name="fluent-bit", env={"VLLM_LOGGING_LEVEL": "x"})
    engine = make_view("mycorp/base:1", name="main", command=["vllm", "serve", "m"])
    index, guesses = choose_serving_container([exporter, engine])
    assert index == 1
    assert set(guesses) == {0, 1}


def test_most_confident_container_wins() -> None:
    weak = make_view("mycorp/base:1", name="a", command=["/run"], args=["--max-num-seqs", "4"])
    strong = make_view(
        "lmsysorg/sglang:v0.5.0", name="b", command=["python3", "-m", "sglang.launch_server"]
    )
    index, guesses = choose_serving_container([weak, strong])
    assert index == 1
    assert guesses[0].confidence < guesses[1].confidence


def test_no_engine_container() -> None:
    views = [make_view("nginx:1.27", name="nginx", ports=[80]), make_view("redis:7", name="cache")]
    assert choose_serving_container(views) == (None, {})
    assert choose_serving_container([]) == (None, {})


# --------------------------------------------------------------------------------------
# vLLM serving config
# --------------------------------------------------------------------------------------


def test_vllm_declared_via_and_origins() -> None:
    view = make_view(
        "vllm/vllm-openai:v0.10.1.1",
        command=["vllm", "serve"],
        args=[
            "meta-llama/Llama-3.1-8B-Instruct",  # 0
            "-tp",  # 1
            "2",
            "--max_model_len",  # 3
            "32k",
            "--enable-log-requests",  # 5
            "--no-enable-prefix-caching",  # 6
        ],
    )
    result = serving_config(view, "vllm")
    assert tuple(result.declared) == SERVING_KEYS
    model = result.declared["model"]
    assert model is not None
    assert (model.value, model.via, model.origin.line) == (
        "meta-llama/Llama-3.1-8B-Instruct",
        "positional",
        100,
    )
    tp = result.declared["tensor_parallel_size"]
    assert tp is not None
    assert (tp.value, tp.via, tp.origin.line) == (2, "-tp", 102)
    assert tp.origin.pointer == "/args/2"
    mml = result.declared["max_model_len"]
    assert mml is not None
    assert (mml.value, mml.via, mml.origin.line) == (32000, "--max_model_len", 104)
    logs = result.declared["disable_log_requests"]
    assert logs is not None
    assert (logs.value, logs.via) == (False, "--enable-log-requests")
    prefix = result.declared["enable_prefix_caching"]
    assert prefix is not None
    assert (prefix.value, prefix.via) == (False, "--no-enable-prefix-caching")
    assert result.declared["port"] is None
    assert result.issues == ()


def test_vllm_effective_defaults() -> None:
    result = serving_config(make_view("vllm/vllm-openai:v0.10.1.1", args=["m"]), "vllm")
    eff = result.effective
    assert tuple(eff) == SERVING_KEYS
    assert eff["model"] == "m"
    assert eff["port"] == 8000
    assert eff["gpu_memory_utilization"] == 0.92  # vLLM 0.32's default
    assert eff["tensor_parallel_size"] == 1
    assert eff["dtype"] == "auto"
    assert eff["max_num_seqs"] is None  # hardware dependent
    assert eff["expert_parallel"] is False
    assert eff["disable_log_requests"] is True
    assert eff["api_key"] is None
    assert result.config_file is None


def test_vllm_image_entrypoint_moves_model_flag() -> None:
    view = make_view("vllm/vllm-openai:v0.10.1.1", args=["--model", "m", "--port", "9000"])
    result = serving_config(view, "vllm")
    model, port = result.declared["model"], result.declared["port"]
    assert model is not None and port is not None
    assert (model.value, model.via, model.origin.line) == ("m", "--model", 101)
    assert (port.value, port.origin.line) == (9000, 103)
    assert result.effective["port"] == 9000


def test_vllm_abbreviated_flag_gives_issue_with_suggestion() -> None:
    view = make_view("vllm/vllm-openai:v0.10.1.1", args=["m", "--max-num-seq", "64"])
    result = serving_config(view, "vllm")
    issue = next(i for i in result.issues if i.suggestion == "--max-num-seqs")
    assert issue.kind == "abbreviated_flag"
    assert issue.origin.line == 101
    seqs = result.declared["max_num_seqs"]
    assert seqs is not None
    assert (seqs.value, seqs.via) == (64, "--max-num-seq")


def test_vllm_unknown_flag_and_bad_value() -> None:
    view = make_view(
        "vllm/vllm-openai:v0.10.1.1",
        args=["m", "--gpu-memory-utilisation", "0.9", "--dtype", "bf16"],
    )
    result = serving_config(view, "vllm")
    kinds = {i.kind: i for i in result.issues}
    assert kinds["unknown_flag"].suggestion == "--gpu-memory-utilization"
    assert kinds["unknown_flag"].origin.line == 101
    assert kinds["bad_choice"].origin.line == 103
    assert result.declared["dtype"] is None


def test_vllm_unknown_env_gives_issue() -> None:
    view = make_view("vllm/vllm-openai:v0.10.1.1", args=["m"], env={"VLLM_LOGGING_LEVL": "DEBUG"})
    result = serving_config(view, "vllm")
    issue = next(i for i in result.issues if i.kind == "unknown_env")
    assert issue.suggestion == "VLLM_LOGGING_LEVEL"
    assert issue.origin.line == 50


def test_vllm_config_file_from_configmap_with_cli_override() -> None:
    config = "max-model-len: 8192\ntensor-parallel-size: 4\nmax_num_seqs: 32\n"
    view = make_view(
        "vllm/vllm-openai:v0.10.1.1",
        args=["m", "--config", "/etc/vllm/config.yaml", "--tensor-parallel-size", "2"],
        config_files={"/etc/vllm/config.yaml": config},
    )
    result = serving_config(view, "vllm")
    assert result.config_file == "/etc/vllm/config.yaml"
    tp = result.declared["tensor_parallel_size"]
    assert tp is not None
    assert (tp.value, tp.via, tp.origin.line) == (2, "--tensor-parallel-size", 104)
    mml = result.declared["max_model_len"]
    assert mml is not None
    assert (mml.value, mml.via, mml.origin) == (8192, "config file", Origin("configmap.yaml", 10))
    seqs = result.declared["max_num_seqs"]
    assert seqs is not None
    assert seqs.value == 32
    assert result.issues == ()


def test_vllm_config_file_not_mounted() -> None:
    view = make_view("vllm/vllm-openai:v0.10.1.1", args=["m", "--config", "/cfg/x.yaml"])
    result = serving_config(view, "vllm")
    assert result.config_file == "/cfg/x.yaml"
    assert [i.kind for i in result.issues] == ["config_file_unavailable"]


def test_vllm_api_key_literal_is_redacted() -> None:
    secret = "sk-live-1234567890abcdef"
    view = make_view(
        "vllm/vllm-openai:v0.10.1.1",
        args=["m", "--api-key", secret, "--api-key", secret, "--bogus", secret],
    )
    result = serving_config(view, "vllm")
    key = result.declared["api_key"]
    assert key is not None
    assert (key.value, key.via, key.origin.line) == ("<redacted>", "--api-key", 104)
    assert result.effective["api_key"] == "<redacted>"
    assert result.issues  # duplicate flag, unknown flag
    assert secret not in repr(result)
    assert secret not in json.dumps(result.to_json())


def test_vllm_api_key_from_secret_env() -> None:
    view = make_view(
        "vllm/vllm-openai:v0.10.1.1",
        args=["m"],
        secret_env={"VLLM_API_KEY": "vllm-auth"},
    )
    result = serving_config(view, "vllm")
    key = result.declared["api_key"]
    assert key is not None
    assert (key.value, key.via, key.origin.line) == (
        "<from secret vllm-auth>",
        "env VLLM_API_KEY",
        70,
    )


def test_vllm_api_key_reference_to_secret_var() -> None:
    view = make_view(
        "vllm/vllm-openai:v0.10.1.1",
        args=["m", "--api-key", "$(API_KEY)"],
        secret_env={"API_KEY": "auth"},
    )
    key = serving_config(view, "vllm").declared["api_key"]
    assert key is not None
    assert (key.value, key.via) == ("<from secret auth>", "--api-key")


def test_vllm_literal_env_api_key_never_leaks() -> None:
    secret = "literal-env-secret-value"
    view = make_view("vllm/vllm-openai:v0.10.1.1", args=["m"], env={"VLLM_API_KEY": secret})
    result = serving_config(view, "vllm")
    key = result.declared["api_key"]
    assert key is not None
    assert (key.value, key.via) == ("<redacted>", "env VLLM_API_KEY")
    assert secret not in repr(result)
    assert secret not in json.dumps(result.to_json())


def test_vllm_in_shell_script_keeps_origins() -> None:
    view = make_view(
        "vllm/vllm-openai:v0.10.1.1",
        command=["sh", "-c"],
        args=["exec vllm serve m --max-num-seqs 128"],
    )
    result = serving_config(view, "vllm")
    seqs = result.declared["max_num_seqs"]
    assert seqs is not None
    assert (seqs.value, seqs.via, seqs.origin.line) == (128, "--max-num-seqs", 100)


# --------------------------------------------------------------------------------------
# Other engines
# --------------------------------------------------------------------------------------


def test_sglang_settings() -> None:
    view = make_view(
        "lmsysorg/sglang:v0.4.6.post1-cu124",
        command=["python3", "-m", "sglang.launch_server"],
        args=[
            "--model-path", "Qwen/Qwen2.5-7B",  # 0
            "--tp-size", "4",  # 2
            "--dp-size", "2",  # 4
            "--mem-fraction-static", "0.85",  # 6
            "--context-length", "16384",  # 8
            "--max-running-requests", "256",  # 10
            "--disable-radix-cache",  # 12
            "--enable-metrics",  # 13
            "--quantization", "fp8",  # 14
            "--revision", "abc123",  # 16
            "--chunked-prefill-size", "-1",  # 18
        ],
    )  # fmt: skip
    result = serving_config(view, "sglang")
    assert declared_values(result) == {
        "model": "Qwen/Qwen2.5-7B",
        "tensor_parallel_size": 4,
        "data_parallel_size": 2,
        "gpu_memory_utilization": 0.85,
        "max_model_len": 16384,
        "max_num_seqs": 256,
        "enable_prefix_caching": False,
        "quantization": "fp8",
        "revision": "abc123",
        "enable_chunked_prefill": False,
    }
    mem = result.declared["gpu_memory_utilization"]
    assert mem is not None
    assert (mem.via, mem.origin.line) == ("--mem-fraction-static", 107)
    radix = result.declared["enable_prefix_caching"]
    assert radix is not None
    assert (radix.via, radix.origin.line) == ("--disable-radix-cache", 112)
    assert result.effective["port"] == 30000
    assert result.effective["dtype"] == "auto"


def test_sglang_generic_flags_and_tp_alias() -> None:
    view = make_view(
        "lmsysorg/sglang:v0.4.6",
        command=["python3", "-m", "sglang.launch_server"],
        args=["--model", "X", "--port", "8000", "--tp", "2"],
    )
    result = serving_config(view, "sglang")
    assert declared_values(result) == {"model": "X", "port": 8000, "tensor_parallel_size": 2}
    tp = result.declared["tensor_parallel_size"]
    assert tp is not None
    assert tp.via == "--tp"


def test_tgi_args_override_env_and_defaults() -> None:
    view = make_view(
        "ghcr.io/huggingface/text-generation-inference:3.0.1",
        args=["--model-id", "m", "--max-total-tokens", "8192", "--max-input-tokens", "4096"],
        env={"NUM_SHARD": "2", "MODEL_ID": "ignored", "CUDA_MEMORY_FRACTION": "0.8"},
    )
    result = serving_config(view, "tgi")
    assert declared_values(result) == {
        "model": "m",
        "max_model_len": 8192,
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
    }
    shard = result.declared["tensor_parallel_size"]
    assert shard is not None
    assert (shard.via, shard.origin.line) == ("env NUM_SHARD", 50)
    model = result.declared["model"]
    assert model is not None
    assert (model.via, model.origin.line) == ("--model-id", 101)
    assert result.extra["max_input_tokens"].value == 4096
    assert result.effective["port"] == 80  # the image sets PORT=80
    assert result.effective["max_num_seqs"] == 128


def test_tgi_underscore_flag_is_unknown() -> None:
    view = make_view(
        "ghcr.io/huggingface/text-generation-inference:3.0.1",
        args=["--model-id", "m", "--num_shard", "2", "--max-concurrent-requests", "x"],
    )
    result = serving_config(view, "tgi")
    unknown = next(i for i in result.issues if i.kind == "unknown_flag")
    assert unknown.suggestion == "--num-shard"
    assert unknown.origin.line == 102
    bad = next(i for i in result.issues if i.kind == "bad_value")
    assert bad.origin.line == 105
    assert result.declared["max_num_seqs"] is None


def test_tgi_api_key_from_secret() -> None:
    view = make_view(
        "ghcr.io/huggingface/text-generation-inference:3.0.1",
        args=["--model-id", "m"],
        secret_env={"API_KEY": "tgi-auth"},
    )
    key = serving_config(view, "tgi").declared["api_key"]
    assert key is not None
    assert (key.value, key.via) == ("<from secret tgi-auth>", "env API_KEY")


def test_tei_settings() -> None:
    view = make_view(
        "ghcr.io/huggingface/text-embeddings-inference:1.6",
        args=["--model-id", "BAAI/bge-m3", "--max-batch-tokens", "32768", "--port", "8080"],
        env={"MAX_CONCURRENT_REQUESTS": "64"},
    )
    result = serving_config(view, "tei")
    assert declared_values(result) == {
        "model": "BAAI/bge-m3",
        "max_num_batched_tokens": 32768,
        "port": 8080,
        "max_num_seqs": 64,
    }
    assert result.effective["port"] == 8080


def test_triton_settings() -> None:
    view = make_view(
        "nvcr.io/nvidia/tritonserver:24.08-trtllm-python-py3",
        command=["mpirun", "--allow-run-as-root", "-n", "4", "tritonserver"],
        args=["--model-repository=/models", "--http-port", "9000"],
    )
    result = serving_config(view, "triton")
    assert declared_values(result) == {
        "model": "/models",
        "port": 9000,
        "tensor_parallel_size": 4,
    }
    tp = result.declared["tensor_parallel_size"]
    assert tp is not None
    assert tp.via == "mpirun -n"
    assert serving_config(make_view(command=["tritonserver"]), "triton").effective["port"] == 8000


def test_trtllm_serve_settings() -> None:
    view = make_view(
        "nvcr.io/nvidia/tensorrt-llm/release:1.0.0",
        command=["trtllm-serve"],
        args=[
            "meta-llama/Llama-3.1-8B",  # 0
            "--tp_size", "2",  # 1
            "--max_batch_size", "64",  # 3
            "--max_num_tokens", "4096",  # 5
            "--max_seq_len", "8192",  # 7
            "--kv_cache_free_gpu_memory_fraction", "0.8",  # 9
            "--trust_remote_code",  # 11
            "--port", "8001",  # 12
        ],
    )  # fmt: skip
    result = serving_config(view, "trtllm")
    assert declared_values(result) == {
        "model": "meta-llama/Llama-3.1-8B",
        "tensor_parallel_size": 2,
        "max_num_seqs": 64,
        "max_num_batched_tokens": 4096,
        "max_model_len": 8192,
        "gpu_memory_utilization": 0.8,
        "trust_remote_code": True,
        "port": 8001,
    }
    model = result.declared["model"]
    assert model is not None
    assert (model.via, model.origin.line) == ("positional", 100)
    assert result.effective["pipeline_parallel_size"] == 1


def test_nim_settings() -> None:
    view = make_view(
        "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3",
        env={
            "NIM_MAX_MODEL_LEN": "8192",
            "NIM_TENSOR_PARALLEL_SIZE": "2",
            "NIM_SERVED_MODEL_NAME": "llama",
            "NIM_MODEL_PROFILE": "vllm-bf16-tp2",
        },
        secret_env={"NGC_API_KEY": "ngc"},
    )
    result = serving_config(view, "nim")
    assert declared_values(result) == {
        "max_model_len": 8192,
        "tensor_parallel_size": 2,
        "served_model_name": "llama",
    }
    tp = result.declared["tensor_parallel_size"]
    assert tp is not None
    assert (tp.via, tp.origin.line) == ("env NIM_TENSOR_PARALLEL_SIZE", 51)
    assert result.extra["model_profile"].value == "vllm-bf16-tp2"
    assert result.effective["port"] == 8000
    assert result.effective["model"] == "meta/llama-3.1-8b-instruct"
    assert result.declared["api_key"] is None  # NGC_API_KEY downloads, it does not guard


def test_kserve_huggingface_passes_vllm_flags_through() -> None:
    view = make_view(
        "kserve/huggingfaceserver:v0.14.1-gpu",
        args=[
            "--model_name=llama",  # 0
            "--model_id=meta-llama/Llama-3.1-8B-Instruct",  # 1
            "--backend=vllm",  # 2
            "--max_model_len", "8192",  # 3
            "--tensor-parallel-size", "2",  # 5
            "--max-num-seq", "16",  # 7
        ],
    )  # fmt: skip
    result = serving_config(view, "kserve-huggingface")
    assert declared_values(result) == {
        "served_model_name": "llama",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "max_model_len": 8192,
        "tensor_parallel_size": 2,
        "max_num_seqs": 16,
    }
    assert result.extra["backend"].value == "vllm"
    tp = result.declared["tensor_parallel_size"]
    assert tp is not None
    assert tp.origin.line == 106
    assert [(i.kind, i.suggestion) for i in result.issues] == [
        ("abbreviated_flag", "--max-num-seqs")
    ]
    assert result.effective["port"] == 8080
    assert result.effective["gpu_memory_utilization"] == 0.92


def test_llamacpp_settings() -> None:
    view = make_view(
        "ghcr.io/ggml-org/llama.cpp:server-cuda-b4500",
        args=["-m", "/models/q.gguf", "-c", "8192", "-np", "4", "-ngl", "99", "--port", "9090"],
        env={"LLAMA_ARG_CTX_SIZE": "2048"},
        secret_env={"LLAMA_API_KEY": "llama-auth"},
    )
    result = serving_config(view, "llamacpp")
    assert declared_values(result) == {
        "model": "/models/q.gguf",
        "max_model_len": 8192,
        "max_num_seqs": 4,
        "port": 9090,
        "api_key": "<from secret llama-auth>",
    }
    ctx = result.declared["max_model_len"]
    assert ctx is not None
    assert (ctx.via, ctx.origin.line) == ("-c", 103)
    assert result.extra["n_gpu_layers"].value == 99
    assert result.effective["host"] == "0.0.0.0"


def test_ollama_settings() -> None:
    view = make_view(
        "ollama/ollama:0.5.7",
        env={
            "OLLAMA_NUM_PARALLEL": "4",
            "OLLAMA_CONTEXT_LENGTH": "8192",
            "OLLAMA_HOST": "0.0.0.0:8080",
            "OLLAMA_KEEP_ALIVE": "24h",
        },
    )
    result = serving_config(view, "ollama")
    assert declared_values(result) == {
        "max_num_seqs": 4,
        "max_model_len": 8192,
        "host": "0.0.0.0",
        "port": 8080,
    }
    port = result.declared["port"]
    assert port is not None
    assert (port.via, port.origin.line) == ("env OLLAMA_HOST", 52)
    assert result.extra["keep_alive"].value == "24h"
    default = serving_config(make_view("ollama/ollama:0.5.7"), "ollama")
    assert default.effective["port"] == 11434


def test_bad_env_value_is_an_issue() -> None:
    view = make_view("ollama/ollama:0.5.7", env={"OLLAMA_NUM_PARALLEL": "many"})
    result = serving_config(view, "ollama")
    assert [(i.kind, i.origin.line) for i in result.issues] == [("bad_env_value", 50)]
    assert result.declared["max_num_seqs"] is None


def test_unknown_engine_gives_empty_extraction() -> None:
    result = serving_config(make_view("x:1"), "nonsense")
    assert tuple(result.declared) == SERVING_KEYS
    assert all(v is None for v in result.declared.values())
    assert all(v is None for v in result.effective.values())
    assert result.issues == ()


@pytest.mark.parametrize(
    "engine",
    ["vllm", "sglang", "tgi", "tei", "triton", "trtllm", "nim", "kserve-huggingface", "llamacpp"],
)
def test_api_key_never_leaks_for_any_engine(engine: str) -> None:
    secret = "s3cr3t-value-never-shown"
    view = make_view(
        "mycorp/base:1",
        command=["/run"],
        args=["--api-key", secret, f"--api-key={secret}"],
        env={"API_KEY": secret, "VLLM_API_KEY": secret, "LLAMA_API_KEY": secret},
    )
    result = serving_config(view, engine)
    assert secret not in repr(result)
    assert secret not in json.dumps(result.to_json())
