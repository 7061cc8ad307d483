"""Benchmark `piqc-advisor check` against `piqc-advisor facts` on the same corpus (same run).

    .venv/bin/python bench/bench_check.py [--size 10000] [--repeat 2]

Uses the corpus of bench/make_corpus.py (bench/.work/corpus-N, generated when missing).
The goal of the advisor issue: check within 2x of facts on the 10,000-file corpus.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import make_corpus  # noqa: E402

TOOL = str(ROOT / ".venv" / "bin" / "piqc-advisor")


def best_of(command: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    corpus = HERE / ".work" / f"corpus-{args.size}"
    if not corpus.is_dir():
        make_corpus.generate(str(corpus), args.size)
    facts = best_of([TOOL, "facts", str(corpus), "--format", "json"], args.repeat)
    check = best_of([TOOL, "check", str(corpus), "--format", "json", "--exit-zero"], args.repeat)
    print("| files | facts s | check s | check / facts |")
    print("|---:|---:|---:|---:|")
    print(f"| {args.size:,} | {facts:.2f} | {check:.2f} | {check / facts:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
