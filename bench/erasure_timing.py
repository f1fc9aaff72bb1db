"""`obliviate worker` with each erasure pass timed, and the reading of those times.

A purge job ends only after an erasure pass (src/obliviate/storage/erasure.py: a WAL
truncation on SQLite, a rewrite of the key table on PostgreSQL). The finished job keeps only
``erasure.at``, not when its last rows went, so the pass's own time cannot be read back from
the jobs table. Run as a script (``python -P erasure_timing.py``, the environment of
``obliviate worker`` plus ERASURE_LOG_ENV naming a file), this module is that worker with
``Eraser.erase`` wrapped: each call appends ``<start, epoch ms> <duration, ns> <busy 0|1>``
to the file, and is otherwise unchanged. The purge figures the bench reports stay those of the
jobs table; this only splits out the passes' share.

obliviate is imported at run time (importlib), so this module, which the bench imports for
``read_passes``, does not tie the bench's type check to src.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ERASURE_LOG_ENV = "OBLIVIATE_BENCH_ERASURE_LOG"


@dataclass(frozen=True)
class Passes:
    """The erasure passes one or more workers ran (``busy``: attempts that had to wait)."""

    done: int
    busy: int
    # Time in every attempt, busy ones included.
    seconds: float
    mean_ms: float
    max_ms: float


def read_passes(paths: list[Path], *, since_ms: int = 0) -> Passes:
    """The passes in ``paths`` that started at or after ``since_ms`` (epoch ms)."""
    done: list[float] = []
    busy: list[float] = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            started, elapsed, was_busy = line.split()
            if int(started) < since_ms:
                continue
            (busy if was_busy == "1" else done).append(int(elapsed) / 1e6)
    return Passes(
        done=len(done),
        busy=len(busy),
        seconds=(sum(done) + sum(busy)) / 1000,
        mean_ms=sum(done) / len(done) if done else 0.0,
        max_ms=max(done, default=0.0),
    )


def main() -> None:
    log = Path(os.environ[ERASURE_LOG_ENV])
    erasure = importlib.import_module("obliviate.storage.erasure")
    cli = importlib.import_module("obliviate.cli")
    original = erasure.Eraser.erase
    busy_error: type[Exception] = erasure.ErasureBusy

    def timed(self: Any) -> None:
        started_ms = time.time_ns() // 1_000_000
        t0 = time.perf_counter_ns()
        busy = False
        try:
            original(self)
        except busy_error:
            busy = True
            raise
        finally:
            elapsed = time.perf_counter_ns() - t0
            with log.open("a") as out:
                out.write(f"{started_ms} {elapsed} {int(busy)}\n")

    erasure.Eraser.erase = timed
    cli.main(["worker"], prog_name="obliviate")


if __name__ == "__main__":
    main()
