"""Split a scan's inputs into shards of files and scan them in forked processes on all cores.

Each shard is a contiguous run of the planned inputs, so concatenating the shards gives the
input order back. A shard is read in its own process; the processes then swap the objects
other files may refer to (services, autoscalers, config maps, ...), finish their own
workloads, and send them to the first process, which merges them. Nothing is lost or
reordered: the merge sorts as a one-process scan does, and a test holds the two equal.

Workers are forked (see piqc_advisor/forked.py) only where it is worth it: with two or more
usable cores and inputs big enough. Any failure of a worker falls back to scanning
everything in one process.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from piqc_advisor import forked
from piqc_advisor.collectors.inputs import InputFile, PendingFile, Planned
from piqc_advisor.forked import WORKERS_ENV, worker_count

__all__ = ["MIN_SHARD_BYTES", "WORKERS_ENV", "run_shards", "split", "worker_count"]

State = TypeVar("State")
Shared = TypeVar("Shared")
Result = TypeVar("Result")

# Below this many bytes of input per process, forking and swapping objects costs more than
# it saves (measured: 1,000 typical manifest files are about 3 MB).
MIN_SHARD_BYTES = 512 * 1024
_PER_FILE_BYTES = 512  # opening and walking a file costs about as much as reading 512 bytes


def _weight(item: Planned) -> int:
    if isinstance(item, PendingFile):
        return item.size + _PER_FILE_BYTES
    if isinstance(item, InputFile):
        return len(item.text) + _PER_FILE_BYTES
    return 0


def split(items: Sequence[Planned], workers: int) -> list[list[Planned]]:
    """Contiguous shards of about equal bytes; one shard when the input is small."""
    weights = [_weight(item) for item in items]
    total = sum(weights)
    count = max(1, min(workers, total // MIN_SHARD_BYTES if MIN_SHARD_BYTES else workers))
    if count == 1:
        return [list(items)]
    shards: list[list[Planned]] = [[] for _ in range(count)]
    done = 0
    for item, weight in zip(items, weights, strict=True):
        # A file goes to the shard its middle byte falls in.
        index = min(count - 1, (2 * done + weight) * count // (2 * total)) if total else 0
        shards[index].append(item)
        done += weight
    return [shard for shard in shards if shard]


def run_shards(
    shards: Sequence[Sequence[Planned]],
    read: Callable[[Sequence[Planned]], State],
    shared: Callable[[State], list[Shared]],
    finish: Callable[[State, Sequence[Sequence[Shared] | None]], Result],
) -> list[Result] | None:
    """Each shard's result in shard order, the first computed here; None when not sharded.

    `finish` gets the shared objects of every shard in shard order, its own place holding
    None. None is returned too when a worker fails, and the caller scans alone.
    """
    if len(shards) < 2:
        return None
    children: list[tuple[int, Connection]] = []
    try:
        for shard in shards[1:]:

            def work(conn: Connection, shard: Sequence[Planned] = shard) -> None:
                state = read(shard)
                conn.send(("ok", _pack(shared(state))))
                others = [None if part is None else pickle.loads(part) for part in conn.recv()]
                conn.send(("ok", finish(state, others)))

            children.append(forked.start(work))
        state = read(shards[0])
        # Shared objects travel as pickled bytes, each side pickling its own at the same
        # time, instead of one side waiting while the other pickles.
        packed: list[bytes] = [_pack(shared(state))]
        for _, conn in children:
            packed.append(forked.expect(conn.recv()))
        for position, (_, conn) in enumerate(children, start=1):
            conn.send([None if i == position else part for i, part in enumerate(packed)])
        results = [finish(state, [None, *(pickle.loads(part) for part in packed[1:])])]
        for _, conn in children:
            results.append(forked.expect(conn.recv()))
        return results
    except (forked.WorkerFailed, EOFError, OSError):
        return None
    finally:
        for pid, conn in children:
            conn.close()
            forked.reap(pid)


def _pack(objects: list[Any]) -> bytes:
    return pickle.dumps(objects, protocol=pickle.HIGHEST_PROTOCOL)
