#!/usr/bin/env bash
# Install the development environment and run the whole test suite: lint, format, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

echo "== ruff check"
.venv/bin/ruff check src tests tools bench
echo "== ruff format --check"
.venv/bin/ruff format --check src tests tools bench
echo "== mypy --strict src"
.venv/bin/mypy
echo "== pytest (fast suite)"
.venv/bin/pytest -m "not slow" "$@"

echo "== real-component tests (vLLM 0.32 CPU build serving a tiny model, Prometheus)"
bash scripts/vllm_env.sh
# A real server on 2 shared cores has timing of its own: failed real-component tests get
# exactly one rerun (pytest --last-failed), and both runs are in the log.
if ! PIQC_REQUIRE_VLLM=1 .venv/bin/pytest -m slow "$@"; then
  echo "== rerunning the failed real-component tests once"
  PIQC_REQUIRE_VLLM=1 .venv/bin/pytest -m slow --last-failed "$@"
fi
