"""Forked worker processes: how many, how to start one, and how to read its answer.

Forking keeps the start-up free (the package and the data are already in memory, so nothing
is pickled on the way out) and is only used where it is safe: on Linux. A worker that fails
sends its traceback instead of a result; callers then do the work in one process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

WORKERS_ENV = "PIQC_WORKERS"
MAX_WORKERS = 8


class WorkerFailed(Exception):
    """A worker sent an error instead of its part."""


def worker_count(requested: int | None = None) -> int:
    """How many processes may work: `requested`, else PIQC_WORKERS, else the usable cores."""
    if requested is None:
        from_env = os.environ.get(WORKERS_ENV, "").strip()
        if from_env.isdigit() and int(from_env) > 0:
            requested = int(from_env)
    if requested is None:
        try:
            requested = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            requested = os.cpu_count() or 1
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    return max(1, min(requested, MAX_WORKERS))


def start(work: Callable[[Connection], None]) -> tuple[int, Connection]:
    """Fork a worker that runs `work` on its end of a pipe; (its pid, our end)."""
    ours, theirs = Pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        ours.close()
        code = 0
        try:
            work(theirs)
        except BaseException:
            code = 1
            with contextlib.suppress(BaseException):
                theirs.send(("error", traceback.format_exc()))
        finally:
            # Leave without running the parent's exit handlers or flushing its buffers.
            os._exit(code)
    theirs.close()
    return pid, ours


def expect(message: Any) -> Any:
    """The payload of an ("ok", payload) message; WorkerFailed for anything else."""
    kind, payload = message
    if kind != "ok":
        raise WorkerFailed(payload)
    return payload


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
