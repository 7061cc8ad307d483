"""Instant PromQL queries over the Prometheus HTTP API, bounded in time and size."""

from __future__ import annotations

import json
from dataclasses import dataclass

from piqc_advisor.runtime.probe import FetchError, ProbeOptions, Prober


@dataclass(frozen=True)
class VectorSample:
    labels: dict[str, str]
    value: float


def instant_query(
    base: str, promql: str, options: ProbeOptions | None = None
) -> list[VectorSample]:
    """The instant vector of `promql`; FetchError on transport, status or API errors."""
    prober = Prober(base, options or ProbeOptions())
    try:
        from urllib.parse import urlencode

        got = prober.get("/api/v1/query?" + urlencode({"query": promql}))
    finally:
        prober.close()
    try:
        data = json.loads(got.body)
    except ValueError:
        raise FetchError(f"{base}: answer to {promql!r} is not JSON (HTTP {got.status})") from None
    if not isinstance(data, dict) or data.get("status") != "success":
        error = data.get("error") if isinstance(data, dict) else None
        raise FetchError(f"{base}: query {promql!r} failed: {error or got.status}")
    result = data.get("data", {}).get("result", [])
    samples: list[VectorSample] = []
    for entry in result if isinstance(result, list) else []:
        metric, value = entry.get("metric", {}), entry.get("value", [None, "nan"])
        samples.append(VectorSample({str(k): str(v) for k, v in metric.items()}, float(value[1])))
    return samples


RATE_QUERIES = {
    "requests-per-second": "sum by (instance) (rate(vllm:request_success_total[{w}]))",
    "generation-tokens-per-second": "sum by (instance) (rate(vllm:generation_tokens_total[{w}]))",
    "e2e-p99": (
        "histogram_quantile(0.99, sum by (instance, le) "
        "(rate(vllm:e2e_request_latency_seconds_bucket[{w}])))"
    ),
}
