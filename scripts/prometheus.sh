#!/usr/bin/env bash
# Start or stop a real Prometheus (Debian package) scraping the test vLLM server on 127.0.0.1.
#
#   scripts/prometheus.sh start [TARGET]   # TARGET host:port of the vLLM server (127.0.0.1:8811)
#   scripts/prometheus.sh stop
#
# Environment: PROM_DIR (default .test-env/prometheus: config, data, log, PID file),
# PROM_PORT (default 19090), SCRAPE_INTERVAL (default 1s), START_TIMEOUT (seconds, default 60).
# Installs the `prometheus` package when missing (apt-get update once; needs root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${PROM_DIR:-$ROOT/.test-env/prometheus}"
PORT="${PROM_PORT:-19090}"
say() { echo "[prometheus] $*" >&2; }
pidfile="$DIR/prometheus.pid"

install_prometheus() {
  command -v prometheus >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || { say "prometheus is not installed and this is not root"; exit 3; }
  say "installing the Debian prometheus package"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f "$DIR/.apt-updated" ]; then
    apt-get update -qq >&2
    mkdir -p "$DIR" && touch "$DIR/.apt-updated"
  fi
  apt-get install -y -qq --no-install-recommends prometheus >&2
}

case "${1:-}" in
  start)
    target="${2:-127.0.0.1:8811}"
    install_prometheus
    mkdir -p "$DIR/data"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "already running (PID $(cat "$pidfile"))"
      exit 0
    fi
    cat > "$DIR/prometheus.yml" <<YAML
global:
  scrape_interval: ${SCRAPE_INTERVAL:-1s}
  evaluation_interval: ${SCRAPE_INTERVAL:-1s}
scrape_configs:
  - job_name: vllm
    static_configs:
      - targets: ["$target"]
        labels: {deployment: tiny-llama}
YAML
    setsid prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PORT" > "$DIR/prometheus.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    deadline=$(( $(date +%s) + ${START_TIMEOUT:-60} ))
    until curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/-/ready"; do
      if ! kill -0 "$(cat "$pidfile")" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
        say "Prometheus did not become ready; last log lines:"
        tail -20 "$DIR/prometheus.log" >&2
        kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
        exit 1
      fi
      sleep 0.5
    done
    say "ready on http://127.0.0.1:$PORT scraping $target (PID $(cat "$pidfile"))"
    ;;
  stop)
    [ -f "$pidfile" ] || { say "no PID file in $DIR"; exit 0; }
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    say "stopped PID $pid"
    ;;
  *)
    echo "usage: $0 start [TARGET] | stop" >&2
    exit 2
    ;;
esac
