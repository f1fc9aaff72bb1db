"""Goal 4 of issue 6: rates hold as the store grows, and the server's memory stays bounded.

On a server of its own, the same get and soft-delete rows run twice: with ``small`` profiles
stored, then after the store has grown to ``large`` profiles and ``events`` events (written
straight into the database). The server's resident memory is sampled throughout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import bulk

SCALE_FIRST_ID = 2_000_000_000
SCALE_FIRST_EVENT_ID = 2_000_000_000


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler:
    """The largest resident set of a process, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_mb = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            await asyncio.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.peak_mb = max(self.peak_mb, rss_mb(self.pid))


def grow(
    db_path: Path, *, have: int, want: int, events_per_profile: int, say: Callable[[str], None]
) -> list[str]:
    """Add profiles ``have`` .. ``want - 1`` (uuids ``bench-scale-NNNNNNNN``), each with
    ``events_per_profile`` events; returns the new uuids."""
    tenant = bulk.tenant_id(db_path)
    now = int(time.time() * 1000)
    started = time.perf_counter()
    step = 100_000
    uuids: list[str] = []
    for lo in range(have, want, step):
        hi = min(want, lo + step)
        uuids += bulk.add_people(
            db_path,
            tenant,
            prefix=f"bench-scale-{lo:08d}",
            first_id=SCALE_FIRST_ID + lo,
            count=hi - lo,
            now_ms=now,
        )
        bulk.add_events(
            db_path,
            tenant,
            profile_ids=range(SCALE_FIRST_ID + lo, SCALE_FIRST_ID + hi),
            per_profile=events_per_profile,
            first_event_id=SCALE_FIRST_EVENT_ID + lo * events_per_profile,
            now_ms=now,
        )
        took = time.perf_counter() - started
        say(f"  {hi:,} profiles, {hi * events_per_profile:,} events ({took:.0f} s)")
    return uuids
