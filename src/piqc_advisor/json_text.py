"""JSON text as json.dumps(ensure_ascii=False) writes it, by orjson where it can.

Python's own encoder writes indented JSON in pure Python; on the reports and facts of
thousands of manifests that took seconds (docs/benchmarks.md). orjson's text differs only in
spelling small exponents (0.00001 for 1e-05) and in writing NaN and infinities, which JSON
cannot hold, as null. What orjson refuses (integers over 64 bits, keys that are not strings)
is written by json, so any value a manifest can hold is written.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_bytes(data: Any, indent: bool = False) -> bytes:
    """UTF-8 JSON of `data`: compact, or indented by two spaces."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0)
    except (TypeError, orjson.JSONEncodeError):
        if indent:
            return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
