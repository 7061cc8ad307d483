"""Benchmark `piqc-advisor probe` against vllm-doctor on the same real vLLM server.

    .venv/bin/python bench/bench_doctor.py [--repeat 5] [--load-repeat 3] [--no-prometheus]
    .venv/bin/python bench/bench_doctor.py --url http://127.0.0.1:8000   # a running server

Without --url the tiny vLLM 0.32 CPU server is started with scripts/vllm_server.sh on
127.0.0.1:--port (default 18851) with the KV-cache pressure the real-component tests plant
(`--max-num-seqs 4 --num-gpu-blocks-override 6`), and stopped at the end whatever happens
(by the script, through its PID file). Then, in three phases of the same run:

* idle:  the fresh server, no request yet;
* load:  a background client keeps sending bursts of long concurrent completions
  (tests/runtime/loadgen.py; 2 x max-num-seqs at a time, 400 tokens each, not streamed)
  until the timed runs are over; timing starts once the server has preempted a sequence;
* after: the load is stopped and the server has drained: idle again, with the history of
  the load in its counters and histograms.

In each phase every tool variant runs --repeat times (--load-repeat under load), the order
rotated on every repeat so that neither tool always sees the later server state:

* piqc snapshot: `piqc-advisor probe URL --samples 1 --window 0s --format json` -- one
  reading of /metrics (plus /version, /v1/models, /health, /load, /server_info once): the
  same kind of instant reading vllm-doctor makes;
* piqc window: `--samples 3 --window 2s`, the windowed view (its time includes the 2 s wait);
* doctor scrape: `vllm-doctor diagnose URL/metrics -o json -v` (its direct-scrape mode);
* doctor prometheus (load and after phases, when `prometheus` is installed and not
  --no-prometheus): a real Prometheus (scripts/prometheus.sh, 1 s scrape interval) scrapes
  the server from the start of the load phase, and `vllm-doctor diagnose PROM_URL --since 1m`
  reads it -- vllm-doctor's full mode (windowed increases, p95 latencies); its time is that of
  PromQL queries to Prometheus, not of reads of the server.

Each run is one whole process: wall time, its own CPU time (user + sys) and peak RSS
(os.wait4); output kept in bench/.work/doctor-runs/. CPU time is reported because under load
the wall time of a short process on a small machine mostly measures how long it waited for a
core next to the busy engine. vllm-doctor runs from its own venv (bench/.work/doctor-venv,
`pip install vllm-doctor`) with HOME and the working directory set to
bench/.work/doctor-home (its config loader creates ~/.vllm-doctor/) and no proxy variables.
Before the timed runs each tool runs once under `strace -f -e trace=connect` to show that it
connects only to the loopback server; in the idle phase the server's access log gives the
requests each run makes. The ratio doctor/piqc is only taken between runs of this invocation.
Results: a Markdown report on stdout and in bench/.work/doctor-results.md (+ .json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
RUNS = WORK / "doctor-runs"
DOCTOR_HOME = WORK / "doctor-home"
sys.path.insert(0, str(ROOT))

from tests.runtime.loadgen import concurrent  # noqa: E402

MODEL = "tiny-llama"
PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}

# The same server conditions under both tools' names: which piqc rule and which vllm-doctor
# checks speak to each (None: the tool has no such rule).
CONCEPTS: list[tuple[str, list[str], list[str]]] = [
    ("KV cache full / preemptions", ["runtime-kv-cache-pressure"], ["kv_cache_pressure"]),
    ("", [], ["preemption_pressure"]),
    ("Queueing (depth, queue time)", ["runtime-saturation"], ["queue_pressure", "queue_latency"]),
    ("Batch far below max-num-seqs while queued", ["runtime-batching-collapse"], []),
    ("Latency (tail p99/p50; TTFT, TPOT p95)", ["runtime-tail-latency"], []),
    ("", [], ["ttft_bottleneck", "tpot_bottleneck"]),
    ("Errors / aborts", ["runtime-error-rate"], ["error_rate"]),
    ("Prefix cache not paying off", ["runtime-prefix-cache-ineffective"], []),
    ("", [], ["prefix_cache_efficiency"]),
    ("Idle / underused / low throughput", ["runtime-idle-server"], ["low_throughput"]),
    ("Replica imbalance", [], ["replica_imbalance"]),
]


@dataclass
class Run:
    phase: str
    seconds: float
    cpu_seconds: float
    max_rss_kib: int
    returncode: int
    output: str
    findings: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    error: str = ""


@dataclass
class Variant:
    key: str
    tool: str
    mode: str
    cmd: list[str]
    env: dict[str, str]
    cwd: str | None
    phases: tuple[str, ...]
    runs: list[Run] = field(default_factory=list)

    def phase_runs(self, phase: str) -> list[Run]:
        return [r for r in self.runs if r.phase == phase]


# ------------------------------------------------------------------------------ processes


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    return {**env, **(extra or {})}


def timed(cmd: list[str], env: dict[str, str], cwd: str | None, out_path: Path) -> Run:
    """Wall time and the child's own peak RSS of one process; stdout kept in out_path."""
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env, cwd=cwd)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    text = err.decode(errors="replace").strip()
    cpu = usage.ru_utime + usage.ru_stime
    return Run("", elapsed, cpu, usage.ru_maxrss, code, str(out_path), error=text[-600:])


def best_of(cmd: list[str], env: dict[str, str], cwd: str | None, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def version_of(cmd: list[str], env: dict[str, str], cwd: str | None) -> str:
    try:
        out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[-1] if text else "?"


def machine() -> dict[str, str]:
    info = {"cpu": "?", "cores": str(os.cpu_count()), "memory": "?"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
        info["load avg at start"] = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        pass
    info["os"] = platform.platform()
    info["python"] = platform.python_version()
    return info


def git_state() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"
    return f"{rev}{' + uncommitted src changes' if dirty else ''}"


# --------------------------------------------------------------------------------- server


class Server:
    """The tiny vLLM server of scripts/vllm_server.sh, stopped by the script's PID file."""

    def __init__(self, directory: Path, port: int, args: list[str]) -> None:
        self.directory = directory
        self.port = port
        self.args = args
        self.url = f"http://127.0.0.1:{port}"
        self.log = directory / "server.log"
        self.startup_s = 0.0

    def start(self, timeout: float) -> None:
        script = str(ROOT / "scripts/vllm_server.sh")
        cmd = ["bash", script, "start", str(self.directory), str(self.port), *self.args]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        self.startup_s = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"vLLM did not start:\n{done.stderr[-3000:]}")
        print(done.stderr.strip().splitlines()[-1], file=sys.stderr)

    def stop(self) -> None:
        script = str(ROOT / "scripts/vllm_server.sh")
        subprocess.run(
            ["bash", script, "stop", str(self.directory)], timeout=90, check=False, text=True
        )


class Prometheus:
    """A real Prometheus of scripts/prometheus.sh scraping the server every second."""

    def __init__(self, directory: Path, port: int, target: str) -> None:
        self.env = clean_env(
            {"PROM_DIR": str(directory), "PROM_PORT": str(port), "SCRAPE_INTERVAL": "1s"}
        )
        self.target = target
        self.url = f"http://127.0.0.1:{port}"
        self.started = False

    def start(self) -> None:
        script = str(ROOT / "scripts/prometheus.sh")
        done = subprocess.run(
            ["bash", script, "start", self.target],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"Prometheus did not start:\n{done.stderr[-2000:]}")
        self.started = True

    def stop(self) -> None:
        if self.started:
            script = str(ROOT / "scripts/prometheus.sh")
            subprocess.run(["bash", script, "stop"], env=self.env, timeout=60, check=False)
            self.started = False


_SAMPLE = re.compile(r"^(vllm:[a-z_]+)(?:\{[^}]*\})?\s+(\S+)", re.MULTILINE)


METRICS_BODY: dict[str, int] = {}


def read_gauges(url: str) -> tuple[dict[str, float], float]:
    """Sums of the vllm: samples of one /metrics read, and how long the read took."""
    start = time.perf_counter()
    with httpx.Client(timeout=60, trust_env=False) as client:
        body = client.get(f"{url}/metrics").text
    elapsed = time.perf_counter() - start
    METRICS_BODY["bytes"] = max(METRICS_BODY.get("bytes", 0), len(body.encode()))
    METRICS_BODY["lines"] = max(METRICS_BODY.get("lines", 0), body.count("\n"))
    sums: dict[str, float] = {}
    for name, value in _SAMPLE.findall(body):
        try:
            sums[name] = sums.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return sums, elapsed


class Load(threading.Thread):
    """Back-to-back bursts of long concurrent completions until stopped."""

    def __init__(self, url: str, model: str, workers: int, tokens: int) -> None:
        super().__init__(daemon=True)
        self.url, self.model, self.workers, self.tokens = url, model, workers, tokens
        self.stopped = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.completion_tokens = 0
        self.bursts = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            results = concurrent(
                self.url, self.model, self.workers, self.workers, max_tokens=self.tokens
            )
            self.bursts += 1
            for r in results:
                self.statuses[r.status] += 1
                self.completion_tokens += r.completion_tokens

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=300)


# ------------------------------------------------------------------------- what tools say


def parse_piqc(run: Run) -> None:
    try:
        server = json.loads(Path(run.output).read_text())["servers"][0]
    except (OSError, ValueError, KeyError, IndexError) as exc:
        run.error = f"output unreadable: {exc}; {run.error}"
        return
    for d in server["diagnoses"]:
        if d["outcome"] == "diagnosed":
            run.findings.append(d["rule"])
            run.messages[d["rule"]] = d["message"]
    signals = {s["id"]: s.get("value") or {} for s in server["signals"]}
    kv = signals.get("kv-cache-usage", {})
    queue = signals.get("queue-depth", {})
    batch = signals.get("effective-batch-size", {})
    qtime = signals.get("queue-time", {})
    run.values = {
        "view": server.get("view"),
        "kv usage max": kv.get("max"),
        "preemptions": kv.get("preemptions"),
        "waiting max": queue.get("max"),
        "running max": batch.get("max"),
        "queue time p95 s": qtime.get("p95"),
        "requests": signals.get("requests-per-second", {}).get("requests"),
    }


def parse_doctor(run: Run) -> None:
    try:
        report = json.loads(Path(run.output).read_text())
    except (OSError, ValueError) as exc:
        run.error = f"output unreadable: {exc}; {run.error}"
        return
    for check in report["checks"]:
        finding = check.get("finding")
        if finding:
            run.findings.append(check["id"])
            run.messages[check["id"]] = (
                f"[{finding['severity']}/{finding['confidence']}] {finding['summary']}"
            )
    metrics = {k: v.get("value") for k, v in report.get("metrics", {}).items()}
    run.values = {
        "health": report.get("health"),
        "kv usage": metrics.get("kv_cache_usage_perc"),
        "preemptions": metrics.get("num_preemptions_total"),
        "waiting": metrics.get("num_requests_waiting"),
        "running": metrics.get("num_requests_running"),
        "queue time p95 s": metrics.get("queue_time_p95_seconds"),
        "ttft p95 s": metrics.get("ttft_p95_seconds"),
        "success (stop)": metrics.get("request_success_total"),
        "notices": report.get("notices"),
    }


_ACCESS = re.compile(r'"(GET|POST) (/[^ ?"]*)[^"]*" (\d{3})')


def log_offset(log: Path | None) -> int:
    return log.stat().st_size if log is not None and log.exists() else 0


def requests_since(log: Path | None, offset: int) -> dict[str, int]:
    """`METHOD /path status` counts of the server's access-log lines written after offset."""
    if log is None or not log.exists():
        return {}
    with open(log, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace")
    counts: Counter[str] = Counter(f"{m} {p} {s}" for m, p, s in _ACCESS.findall(text))
    return dict(sorted(counts.items()))


def network_check(cmd: list[str], env: dict[str, str], cwd: str | None) -> str:
    """Run once under strace and list every connect() that is not to the loopback."""
    strace = shutil.which("strace")
    if strace is None:
        return "not verified (no strace)"
    with tempfile.NamedTemporaryFile(suffix=".strace") as log:
        subprocess.run(
            [strace, "-f", "-e", "trace=connect", "-o", log.name, *cmd],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        calls = [ln for ln in Path(log.name).read_text().splitlines() if "connect(" in ln]
    kinds: Counter[str] = Counter()
    other: list[str] = []
    for call in calls:
        if "AF_UNIX" in call:
            kinds["AF_UNIX"] += 1
        elif 'inet_addr("127.0.0.1")' in call or 'inet_pton(AF_INET6, "::1"' in call:
            kinds["loopback"] += 1
        else:
            other.append(call.strip())
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    if other:
        return f"NOT loopback-only: {len(other)} other connect() calls, e.g. {other[0][:160]}"
    return f"loopback only (strace: {len(calls)} connect() calls: {summary})"


# --------------------------------------------------------------------------------- phases


def run_phase(
    phase: str,
    variants: list[Variant],
    repeat: int,
    url: str,
    log: Path | None,
    count_requests: bool,
    latencies: dict[str, list[float]],
) -> None:
    active = [v for v in variants if phase in v.phases]
    for i in range(repeat):
        shift = i % len(active)
        for variant in active[shift:] + active[:shift]:
            with contextlib.suppress(httpx.HTTPError):
                latencies.setdefault(phase, []).append(read_gauges(url)[1])
            offset = log_offset(log)
            out = RUNS / f"{phase}-{variant.key}-{i + 1}.json"
            run = timed(variant.cmd, variant.env, variant.cwd, out)
            run.phase = phase
            if count_requests:
                run.requests = requests_since(log, offset)
            (parse_piqc if variant.tool == "piqc-advisor" else parse_doctor)(run)
            variant.runs.append(run)
            print(
                f"  {phase:<5} {variant.key:<17} run {i + 1}: {run.seconds:7.2f} s  "
                f"cpu {run.cpu_seconds:5.2f} s  "
                f"rss {run.max_rss_kib / 1024:5.0f} MiB  rc {run.returncode}  "
                f"{','.join(run.findings) or '-'}",
                file=sys.stderr,
            )


def wait_for(predicate: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


# -------------------------------------------------------------------------------- report


def fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.3g}"
    if x is None:
        return "-"
    return str(x)


def render(
    info: dict[str, str],
    variants: list[Variant],
    phases: list[str],
    latencies: dict[str, list[float]],
    startup: dict[str, float],
    notes: list[str],
) -> str:
    out = ["# piqc-advisor probe vs vllm-doctor diagnose: same real vLLM server", ""]
    out += [f"- {k}: {v}" for k, v in info.items()]
    out += ["", "## Commands", ""]
    for v in variants:
        out.append(f"- **{v.key}** ({', '.join(v.phases)}): `{' '.join(v.cmd)}`")
    out += ["", "## Wall time per diagnosis (whole process, seconds)", ""]
    out.append(
        "| phase | variant | best | median | runs | CPU s (median) | peak RSS MiB | rc "
        "| requests to the server per run |"
    )
    out.append("|---|---|---:|---:|---|---:|---:|---|---|")
    for phase in phases:
        for v in variants:
            runs = v.phase_runs(phase)
            if not runs:
                continue
            secs = [r.seconds for r in runs]
            reqs = runs[0].requests
            req = ", ".join(f"{n} x {k}" for k, n in reqs.items()) if reqs else "-"
            out.append(
                f"| {phase} | {v.key} | {min(secs):.2f} | {statistics.median(secs):.2f} | "
                f"{', '.join(f'{s:.2f}' for s in secs)} | "
                f"{statistics.median(r.cpu_seconds for r in runs):.2f} | "
                f"{max(r.max_rss_kib for r in runs) / 1024:.0f} | "
                f"{','.join(sorted({str(r.returncode) for r in runs}))} | {req} |"
            )
    out.append("")
    by_key = {v.key: v for v in variants}
    piqc = by_key["piqc-snapshot"]
    for phase in phases:
        p_runs = piqc.phase_runs(phase)
        if not p_runs:
            continue
        p_best = min(r.seconds for r in p_runs)
        p_med = statistics.median(r.seconds for r in p_runs)
        p_cpu = statistics.median(r.cpu_seconds for r in p_runs)
        for key in ("doctor-scrape", "doctor-prometheus"):
            d_runs = by_key[key].phase_runs(phase) if key in by_key else []
            if not d_runs:
                continue
            d_best = min(r.seconds for r in d_runs)
            d_med = statistics.median(r.seconds for r in d_runs)
            d_cpu = statistics.median(r.cpu_seconds for r in d_runs)
            out.append(
                f"- **{phase}: {key} / piqc-snapshot** = {d_best:.2f} / {p_best:.2f} s = "
                f"**{d_best / p_best:.2f}x** on best wall time, {d_med / p_med:.2f}x on median "
                f"wall time, {d_cpu / p_cpu:.2f}x on median CPU time"
            )
    for phase, values in latencies.items():
        if values:
            out.append(
                f"- one /metrics read by the bench itself before each run, {phase}: median "
                f"{statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
            )
    out.append(
        "- process start-up alone (`--version`, best of 5): "
        + ", ".join(f"{k} {s:.2f} s" for k, s in startup.items())
    )
    out += ["", "## What each reported (runs in which a rule fired / runs)", ""]
    header = "| condition |" + "".join(f" {v.key} |" for v in variants)
    for phase in phases:
        out += [f"### {phase}", "", header, "|---|" + "---|" * len(variants)]
        for concept, piqc_rules, doctor_rules in CONCEPTS:
            cells = []
            for v in variants:
                rules = piqc_rules if v.tool == "piqc-advisor" else doctor_rules
                runs = v.phase_runs(phase)
                if not runs:
                    cells.append(" ")
                    continue
                if not rules:
                    cells.append("(no rule)" if concept else "")
                    continue
                parts = [f"{r}: {sum(r in x.findings for x in runs)}/{len(runs)}" for r in rules]
                cells.append("<br>".join(parts))
            out.append(f"| {concept} | " + " | ".join(cells) + " |")
        out.append("")
        for v in variants:
            runs = v.phase_runs(phase)
            if not runs:
                continue
            last = runs[-1]
            vals = ", ".join(f"{k} {fmt(x)}" for k, x in last.values.items() if k != "notices")
            out.append(f"- {v.key}, last run: {vals}")
            for rule, message in last.messages.items():
                out.append(f"  - `{rule}`: {message}")
            if last.returncode not in (0, 1) and last.error:
                out.append(f"  - stderr: {last.error[-300:]}")
        out.append("")
    out += ["## Notes", ""]
    out += [f"- {n}" for n in notes]
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- main


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="a running vLLM server's base URL (nothing is started)")
    parser.add_argument("--port", type=int, default=18851, help="port of the started server")
    parser.add_argument(
        "--server-args",
        default="--max-num-seqs 4 --num-gpu-blocks-override 6",
        help="extra `vllm serve` arguments of the started server",
    )
    parser.add_argument("--max-num-seqs", type=int, default=4, help="passed to piqc; 0: not")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant, idle and after")
    parser.add_argument("--load-repeat", type=int, default=3, help="runs per variant under load")
    parser.add_argument("--phases", default="idle,load,after")
    parser.add_argument("--load-workers", type=int, default=8, help="requests in flight")
    parser.add_argument("--load-tokens", type=int, default=400)
    parser.add_argument("--window", type=float, default=2.0, help="piqc window variant, s")
    parser.add_argument("--window-samples", type=int, default=3)
    parser.add_argument("--no-prometheus", action="store_true")
    parser.add_argument("--prom-port", type=int, default=19851)
    parser.add_argument("--prom-since", default="1m")
    parser.add_argument("--piqc", default=str(Path(sys.prefix) / "bin" / "piqc-advisor"))
    parser.add_argument("--doctor", default=str(WORK / "doctor-venv" / "bin" / "vllm-doctor"))
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    if not Path(args.doctor).exists():
        venv = WORK / "doctor-venv"
        print(
            f"vllm-doctor not found at {args.doctor}; install it with:\n"
            f"  python3 -m venv {venv} && {venv}/bin/pip install vllm-doctor",
            file=sys.stderr,
        )
        return 2
    for path in (WORK, RUNS, DOCTOR_HOME):
        path.mkdir(parents=True, exist_ok=True)
    for old in RUNS.glob("*.json"):
        old.unlink()
    signal.signal(signal.SIGTERM, _terminate)

    server: Server | None = None
    if args.url:
        url = args.url.rstrip("/")
        log: Path | None = None
    else:
        server = Server(WORK / f"vllm-{args.port}", args.port, args.server_args.split())
        url, log = server.url, server.log
    use_prom = not args.no_prometheus and shutil.which("prometheus") is not None
    prom = (
        Prometheus(WORK / f"prometheus-{args.prom_port}", args.prom_port, url.split("//", 1)[1])
        if use_prom
        else None
    )

    piqc_env = clean_env()
    doctor_env = clean_env({"HOME": str(DOCTOR_HOME)})
    dcwd = str(DOCTOR_HOME)
    seqs = ["--max-num-seqs", str(args.max_num_seqs)] if args.max_num_seqs else []
    all_phases = ("idle", "load", "after")
    snapshot = ["--samples", "1", "--window", "0s"]
    window = f"--samples {args.window_samples} --window {args.window:g}s"
    json_v = ["-o", "json", "-v"]
    variants = [
        Variant(
            "piqc-snapshot",
            "piqc-advisor",
            "snapshot",
            [args.piqc, "probe", url, *snapshot, "--format", "json", *seqs],
            piqc_env,
            None,
            all_phases,
        ),
        Variant(
            "piqc-window",
            "piqc-advisor",
            "window",
            [args.piqc, "probe", url, *window.split(), "--format", "json", *seqs],
            piqc_env,
            None,
            all_phases,
        ),
        Variant(
            "doctor-scrape",
            "vllm-doctor",
            "scrape",
            [args.doctor, "diagnose", f"{url}/metrics", *json_v],
            doctor_env,
            dcwd,
            all_phases,
        ),
    ]
    if prom is not None:
        variants.append(
            Variant(
                "doctor-prometheus",
                "vllm-doctor",
                "prometheus",
                [args.doctor, "diagnose", prom.url, "--since", args.prom_since, *json_v],
                doctor_env,
                dcwd,
                ("load", "after"),
            )
        )

    info = machine()
    info["git"] = git_state()
    info["piqc-advisor"] = version_of([args.piqc, "--version"], piqc_env, None)
    info["vllm-doctor"] = version_of([args.doctor, "--version"], doctor_env, dcwd)
    notes: list[str] = []
    latencies: dict[str, list[float]] = {}
    startup: dict[str, float] = {}
    load: Load | None = None
    try:
        if server is not None:
            print(f"starting vLLM on {url} ({args.server_args}) ...", file=sys.stderr)
            server.start(timeout=400)
            info["server"] = (
                f"vLLM tiny-llama on {url}, `{args.server_args}`, healthy after "
                f"{server.startup_s:.0f} s"
            )
        else:
            info["server"] = f"{url} (already running)"
        try:
            version = httpx.get(f"{url}/version", timeout=10, trust_env=False).json()
            info["server"] += f", vLLM {version.get('version')}"
        except (httpx.HTTPError, ValueError):
            pass
        startup["piqc-advisor"] = best_of([args.piqc, "--version"], piqc_env, None, 5)
        startup["vllm-doctor"] = best_of([args.doctor, "--version"], doctor_env, dcwd, 5)
        for v in variants:
            if v.key in ("piqc-snapshot", "doctor-scrape"):
                notes.append(f"{v.key} network: " + network_check(v.cmd, v.env, v.cwd))
        base_only = [args.doctor, "diagnose", url, "-o", "json"]
        wrong = subprocess.run(
            base_only, env=doctor_env, cwd=dcwd, capture_output=True, text=True, check=False
        )
        first = (wrong.stderr.strip().splitlines() or ["?"])[0]
        notes.append(
            f"`vllm-doctor diagnose {url}` (the server's base URL, as piqc takes it): rc "
            f"{wrong.returncode}, `{first[:220]}` -- it needs the /metrics URL, otherwise it "
            "takes the URL for a Prometheus server"
        )

        if "idle" in phases:
            print("phase idle", file=sys.stderr)
            run_phase("idle", variants, args.repeat, url, log, log is not None, latencies)
        if "load" in phases or "after" in phases:
            if prom is not None:
                prom.start()
                v = next(v for v in variants if v.key == "doctor-prometheus")
                notes.append(f"{v.key} network: " + network_check(v.cmd, v.env, v.cwd))
            before = read_gauges(url)[0].get("vllm:num_preemptions_total", 0.0)
            load = Load(url, args.model, args.load_workers, args.load_tokens)
            load.start()
            waited = wait_for(
                lambda: read_gauges(url)[0].get("vllm:num_preemptions_total", 0.0) > before,
                300,
                "a preemption under the load",
            )
            notes.append(
                f"the load's first preemption was seen {waited:.0f} s after it started "
                f"({before:g} preemptions before it); the load phase's timed runs began then"
            )
            if "load" in phases:
                print("phase load", file=sys.stderr)
                run_phase("load", variants, args.load_repeat, url, log, False, latencies)
            load.stop()
            notes.append(
                f"load: {load.bursts} bursts of {args.load_workers} concurrent completions x "
                f"{args.load_tokens} tokens, statuses {dict(load.statuses)}, "
                f"{load.completion_tokens} completion tokens"
            )

            def drained() -> bool:
                g = read_gauges(url)[0]
                busy = g.get("vllm:num_requests_running", 1) + g.get("vllm:num_requests_waiting", 1)
                return busy == 0

            wait_for(drained, 120, "the server to drain")
            time.sleep(args.window + 1)  # the windowed piqc run sees no tail of the load
            if "after" in phases:
                print("phase after", file=sys.stderr)
                run_phase("after", variants, args.repeat, url, log, False, latencies)
    finally:
        if load is not None and load.is_alive():
            load.stopped.set()
        if prom is not None:
            prom.stop()
        if server is not None:
            print("stopping vLLM ...", file=sys.stderr)
            server.stop()

    doctor_notices = {
        n
        for v in variants
        if v.tool == "vllm-doctor"
        for r in v.runs
        for n in r.values.get("notices") or []
    }
    notes += [f"vllm-doctor notice: {n}" for n in sorted(doctor_notices)]
    if METRICS_BODY:
        notes.append(
            f"/metrics body: up to {METRICS_BODY['bytes']:,} bytes, {METRICS_BODY['lines']:,} lines"
        )
    shown = [p for p in all_phases if p in phases]
    report = render(info, variants, shown, latencies, startup, notes)
    print(report)
    (WORK / "doctor-results.md").write_text(report)
    (WORK / "doctor-results.json").write_text(
        json.dumps(
            {
                "machine": info,
                "startup_s": startup,
                "metrics_read_s": latencies,
                "metrics_body": METRICS_BODY,
                "variants": [
                    {
                        "key": v.key,
                        "tool": v.tool,
                        "mode": v.mode,
                        "cmd": v.cmd,
                        "runs": [asdict(r) for r in v.runs],
                    }
                    for v in variants
                ],
                "notes": notes,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
