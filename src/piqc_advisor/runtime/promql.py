"""Instant PromQL queries over the Prometheus HTTP API, bounded in time and size."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from piqc_advisor.runtime.probe import FetchError, ProbeOptions, Prober

QUERY_PATH = "/api/v1/query"


@dataclass(frozen=True)
class VectorSample:
    labels: dict[str, str]
    value: float
    timestamp: float = math.nan


def _sample(entry: Any) -> VectorSample | None:
    """One element of a vector result, or None when it does not have the API's shape."""
    if not isinstance(entry, dict):
        return None
    metric, pair = entry.get("metric", {}), entry.get("value")
    if not isinstance(metric, dict) or not isinstance(pair, list) or len(pair) != 2:
        return None
    try:
        stamp, value = float(pair[0]), float(pair[1])
    except (TypeError, ValueError):
        return None
    return VectorSample({str(k): str(v) for k, v in metric.items()}, value, stamp)


def query(prober: Prober, promql: str, at: float | None = None) -> list[VectorSample]:
    """One instant query (one HTTP read) at time `at` (Prometheus' now when None).

    FetchError on transport errors, HTTP errors, a body that is not the API's JSON, an API
    error or a result that is not an instant vector; the message names the URL and the query.
    """
    where = f"{prober.base}{QUERY_PATH}"
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    path = f"{QUERY_PATH}?{urlencode(params)}"
    try:
        got = prober.get(path)
    except FetchError as exc:
        reason = str(exc).removeprefix(prober.base + path + ": ")
        raise FetchError(f"{where}: query {promql!r}: {reason}") from None
    try:
        data = json.loads(got.body)
    except ValueError:
        raise FetchError(
            f"{where}: query {promql!r}: HTTP {got.status}, the answer is not JSON"
        ) from None
    if not isinstance(data, dict):
        raise FetchError(f"{where}: query {promql!r}: HTTP {got.status}, not an API answer")
    if data.get("status") != "success":
        kind = data.get("errorType") or "error"
        error = data.get("error") or "no error message"
        raise FetchError(f"{where}: query {promql!r}: HTTP {got.status}, {kind}: {error}")
    result = data.get("data")
    if not isinstance(result, dict) or result.get("resultType") != "vector":
        kind = result.get("resultType") if isinstance(result, dict) else None
        raise FetchError(f"{where}: query {promql!r}: expected an instant vector, got {kind}")
    entries = result.get("result")
    if not isinstance(entries, list):
        raise FetchError(f"{where}: query {promql!r}: the vector result is not a list")
    samples: list[VectorSample] = []
    for entry in entries:
        sample = _sample(entry)
        if sample is None:
            raise FetchError(f"{where}: query {promql!r}: malformed sample {entry!r:.120}")
        samples.append(sample)
    return samples


def instant_query(
    base: str, promql: str, options: ProbeOptions | None = None
) -> list[VectorSample]:
    """The instant vector of `promql`; FetchError on transport, status or API errors."""
    prober = Prober(base, options or ProbeOptions())
    try:
        return query(prober, promql)
    finally:
        prober.close()
