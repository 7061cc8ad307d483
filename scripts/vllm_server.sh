#!/usr/bin/env bash
# Start or stop the tiny test vLLM server on 127.0.0.1 (test environment only).
#
#   scripts/vllm_server.sh start DIR PORT [extra vllm serve args...]
#   scripts/vllm_server.sh stop DIR
#
# DIR is a work directory: the model is built in DIR/tiny-llama (served by that relative path, so
# /v1/models shows no absolute path), the log is DIR/server.log, the PID file DIR/server.pid.
# Environment: VLLM_ENV (default .test-env/vllm), VLLM_CPU_KVCACHE_SPACE (GiB, default 1),
# HEALTH_TIMEOUT (seconds, default 300), MODEL_NAME (default tiny-llama).
# The server leads its own process group; stop signals that group only, found by the PID file.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ENV_DIR="${VLLM_ENV:-$ROOT/.test-env/vllm}"
case "$ENV_DIR" in /*) ;; *) ENV_DIR="$ROOT/$ENV_DIR" ;; esac
say() { echo "[vllm_server] $*" >&2; }

cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT [args...] | stop DIR" >&2; exit 2; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
pidfile="$dir/server.pid"

stop() {
  [ -f "$pidfile" ] || { say "no PID file in $dir"; return 0; }
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping process group $pid"
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      pgrep -g "$pid" >/dev/null 2>&1 || break
      sleep 1
    done
    if pgrep -g "$pid" >/dev/null 2>&1; then
      say "process group $pid still alive after 30 s; SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

case "$cmd" in
  stop)
    stop
    ;;
  start)
    port="${3:-}"
    [ -n "$port" ] || { echo "usage: $0 start DIR PORT [args...]" >&2; exit 2; }
    shift 3
    [ -x "$ENV_DIR/bin/vllm" ] || { say "no vLLM test env at $ENV_DIR (run scripts/vllm_env.sh)"; exit 3; }
    base="http://127.0.0.1:$port"
    if curl -s -o /dev/null --max-time 2 "$base/health"; then
      say "something already answers on $base; not starting a second server"
      exit 1
    fi
    model="${MODEL_NAME:-tiny-llama}"
    "$ENV_DIR/bin/python" "$ROOT/scripts/make_tiny_model.py" "$dir/$model" >&2
    export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
    export VLLM_CACHE_ROOT="$dir/vllm-cache"
    cd "$dir"
    started=$(date +%s)
    setsid "$ENV_DIR/bin/vllm" serve "$model" --served-model-name "$model" \
      --host 127.0.0.1 --port "$port" --enforce-eager --max-model-len 512 --dtype bfloat16 \
      "$@" > "$dir/server.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    pid=$!
    deadline=$(( started + ${HEALTH_TIMEOUT:-300} ))
    until curl -sf -o /dev/null --max-time 2 "$base/health"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        say "server exited before it was healthy; last log lines:"
        tail -30 "$dir/server.log" >&2
        rm -f "$pidfile"
        exit 1
      fi
      if [ "$(date +%s)" -ge "$deadline" ]; then
        say "not healthy after ${HEALTH_TIMEOUT:-300} s; stopping it"
        tail -30 "$dir/server.log" >&2
        stop
        exit 1
      fi
      sleep 1
    done
    say "healthy on $base after $(( $(date +%s) - started )) s (PID $pid)"
    ;;
  *)
    echo "usage: $0 start DIR PORT [args...] | stop DIR" >&2
    exit 2
    ;;
esac
