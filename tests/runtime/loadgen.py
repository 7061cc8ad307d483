"""A bounded loopback load client for the tiny test vLLM (never sends to another host)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PROMPT = "def handle(request):\n    return request.json()\n"


@dataclass
class Result:
    status: int
    latency: float
    ttft: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


def _check(base: str) -> None:
    host = urlsplit(base).hostname
    if host not in LOOPBACK:
        raise ValueError(f"refusing to send load to non-loopback host {host!r}")


def complete(
    base: str,
    model: str,
    *,
    prompt: str = PROMPT,
    max_tokens: int = 16,
    stream: bool = False,
    timeout: float = 120.0,
) -> Result:
    """One /v1/completions request generating exactly max_tokens tokens (EOS ignored)."""
    _check(base)
    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0,
        "ignore_eos": True,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    started = time.perf_counter()
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False) as client,
            client.stream("POST", f"{base}/v1/completions", json=body) as response,
        ):
            if not stream:
                data = json.loads(response.read())
                usage = data.get("usage") or {}
                return Result(
                    response.status_code,
                    time.perf_counter() - started,
                    None,
                    int(usage.get("prompt_tokens", 0)),
                    int(usage.get("completion_tokens", 0)),
                )
            first: float | None = None
            usage = {}
            for line in response.iter_lines():
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                chunk = json.loads(line[5:])
                if chunk.get("choices") and first is None:
                    first = time.perf_counter() - started
                if chunk.get("usage"):
                    usage = chunk["usage"]
            return Result(
                response.status_code,
                time.perf_counter() - started,
                first,
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
            )
    except httpx.HTTPError as exc:
        return Result(0, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")


def concurrent(base: str, model: str, count: int, workers: int, **kwargs: object) -> list[Result]:
    """count requests with at most `workers` in flight."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(complete, base, model, **kwargs) for _ in range(count)]  # type: ignore[arg-type]
        return [f.result() for f in futures]
