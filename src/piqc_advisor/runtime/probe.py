"""Bounded HTTP reads of a running server: size caps, timeouts, same-host redirects only."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from piqc_advisor.collectors.prometheus_text import DEFAULT_MAX_BYTES
from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.runtime.snapshot import (
    Snapshot,
    load_json,
    models_from_json,
    snapshot_from_text,
    version_from_json,
)

IDENTITY_PATHS = ("/version", "/v1/models", "/health", "/load", "/server_info")
MAX_REDIRECTS = 3


class FetchError(Exception):
    """A read that failed: the message is safe to print (never holds the token)."""


@dataclass(frozen=True)
class ProbeOptions:
    timeout: float = 10.0
    max_bytes: int = DEFAULT_MAX_BYTES
    token: str | None = None
    verify: bool | str = True


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class Prober:
    """One HTTP client per server; every read is bounded in time and size."""

    def __init__(self, base: str, options: ProbeOptions) -> None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{base}: not an http(s) URL")
        self.base = base.rstrip("/")
        self.options = options
        headers = {"Accept": "text/plain, application/json"}
        if options.token:
            headers["Authorization"] = f"Bearer {options.token}"
        verify: bool | ssl.SSLContext = True
        if isinstance(options.verify, str):
            verify = ssl.create_default_context(cafile=options.verify)
        else:
            verify = options.verify
        self.client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
            verify=verify,
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def get(self, path: str) -> Fetched:
        url = self.base + path
        deadline = time.monotonic() + self.options.timeout
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with self.client.stream("GET", url) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        if _origin(target) != _origin(self.base):
                            raise FetchError(
                                f"{url}: redirect to another host or scheme refused ({target})"
                            )
                        url = target
                        continue
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > self.options.max_bytes:
                            raise FetchError(
                                f"{url}: body exceeds the {self.options.max_bytes}-byte limit"
                            )
                        if time.monotonic() > deadline:
                            raise FetchError(f"{url}: took longer than {self.options.timeout}s")
                    return Fetched(response.status_code, bytes(body))
            except httpx.TimeoutException as exc:
                raise FetchError(f"{url}: timed out ({type(exc).__name__})") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _problem(source: str, code: str, message: str, severity: str = "error") -> Problem:
    return Problem(source, None, None, "error" if severity == "error" else "warning", code, message)


def read_identity(prober: Prober) -> tuple[dict[str, object], list[Problem]]:
    """/version, /v1/models, /health, /load and /server_info, each read once."""
    found: dict[str, object] = {}
    problems: list[Problem] = []
    for path in IDENTITY_PATHS:
        source = prober.base + path
        # vLLM writes its config as one string unless asked for JSON (0.32, dev mode only).
        query = "?config_format=json" if path == "/server_info" else ""
        try:
            got = prober.get(path + query)
        except FetchError as exc:
            problems.append(_problem(source, "probe-endpoint", str(exc), "warning"))
            continue
        if path == "/health":
            found["health"] = "ok" if got.status == 200 else f"HTTP {got.status}"
            continue
        if got.status == 404:
            continue  # not present on this server (e.g. /server_info outside dev mode)
        if got.status != 200:
            message = f"HTTP {got.status}"
            problems.append(_problem(source, "probe-endpoint", message, "warning"))
            continue
        data = load_json(got.body.decode("utf-8", errors="replace"))
        if path == "/version":
            found["version"] = version_from_json(data)
        elif path == "/v1/models":
            found["models"] = models_from_json(data)
        elif path == "/load" and isinstance(data, dict):
            load = data.get("server_load")
            if isinstance(load, int | float):
                found["load"] = float(load)
        elif path == "/server_info" and isinstance(data, dict):
            found["server_info"] = data
    return found, problems


def scrape(prober: Prober, identity: dict[str, object]) -> Snapshot:
    """One /metrics read turned into a snapshot carrying the identity read earlier."""
    source = prober.base + "/metrics"
    timestamp = time.time()
    try:
        got = prober.get("/metrics")
    except FetchError as exc:
        from piqc_advisor.collectors.vllm_metrics import MetricSet

        return Snapshot(
            source, timestamp, MetricSet(), (_problem(source, "probe-failed", str(exc)),)
        )
    if got.status != 200:
        from piqc_advisor.collectors.vllm_metrics import MetricSet

        message = f"HTTP {got.status} from /metrics"
        return Snapshot(
            source, timestamp, MetricSet(), (_problem(source, "probe-status", message),)
        )
    return snapshot_from_text(
        got.body, source, timestamp, max_bytes=prober.options.max_bytes, **identity
    )


def probe(
    base: str,
    options: ProbeOptions,
    samples: int,
    window: float,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[Snapshot], list[Problem]]:
    """`samples` scrapes of /metrics spread evenly over `window` seconds (identity read once)."""
    prober = Prober(base, options)
    try:
        identity, problems = read_identity(prober)
        snapshots: list[Snapshot] = []
        interval = window / (samples - 1) if samples > 1 else 0.0
        start = time.monotonic()
        for index in range(samples):
            if progress is not None:
                progress(index + 1, samples)
            due = start + index * interval
            wait = due - time.monotonic()
            if wait > 0:
                sleep(wait)
            snapshots.append(scrape(prober, identity))
        return snapshots, problems
    finally:
        prober.close()
