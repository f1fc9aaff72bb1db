"""Goal 4: rates hold as the store grows, and the server's memory stays bounded.

On a server of its own, the same get and soft-delete rows run twice: with ``small`` profiles
stored, then after the store has grown to ``large`` profiles and ``events`` events (written
straight into the database). The server's resident memory is sampled throughout.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path

import bulk
from gainsight_requests import user_get, user_soft_delete
from harness import CONNECTIONS, say
from loadgen import run_load
from plan import Plan
from report import Row
from servers import DB_FILE, HOST, start_obliviate
from sources import cycling, once_each

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


async def scale_section(plan: Plan, workdir: Path, facts: dict[str, float]) -> list[Row]:
    """Get and soft delete with ``scale_small`` profiles stored, then again with
    ``scale_large`` (and 20 events each), on a server of its own; its peak RSS."""
    server = start_obliviate(workdir / "scale", name="obliviate-scale")
    rows: list[Row] = []
    try:
        server.wait_ready("/healthz")
        db = workdir / "scale" / DB_FILE
        host = f"{HOST}:{server.port}"
        rng = random.Random(plan.seed)
        per = plan.scale_events_per_profile

        deleted: set[str] = set()

        async def stage(stored: list[str], label: str) -> None:
            # Only people no earlier stage deleted, so every answer should be a 200.
            uuids = [u for u in stored if u not in deleted]
            gets = [user_get(host, u) for u in rng.sample(uuids, min(len(uuids), 50_000))]
            victims = rng.sample(uuids, min(len(uuids) // 2, 40_000))
            deleted.update(victims)
            deletes = [user_soft_delete(host, u) for u in victims]
            small = next((r for r in rows if r.scenario.startswith("scale get")), None)
            with RssSampler(server.process.pid) as rss:
                get, delete = [
                    await run_load(
                        HOST, server.port, source, connections=CONNECTIONS, duration=plan.duration
                    )
                    for source in (cycling(gets), once_each(deletes))
                ]
            small_del = next((r for r in rows if r.scenario.startswith("scale soft delete")), None)
            for name, result, base in (
                (f"scale get user, {label}", get, small),
                (f"scale soft delete, {label}", delete, small_del),
            ):
                row = Row.from_result(
                    name,
                    "GET /v1/users/{id}" if "get" in name else "DELETE /v1/users/{id}",
                    result,
                    plan.duration,
                    base,
                    connections=CONNECTIONS,
                    note=f"server peak RSS {rss.peak_mb:.0f} MB during this stage",
                )
                rows.append(row)
                say(f"  {row.progress_line()}")
            facts[f"scale_rss_mb_{label.split()[0]}"] = rss.peak_mb

        say(f"scale: {plan.scale_small:,} profiles with {per} events each ...")
        uuids = grow(db, have=0, want=plan.scale_small, events_per_profile=per, say=say)
        await stage(uuids, f"{plan.scale_small:,} profiles")
        say(f"scale: growing to {plan.scale_large:,} profiles ...")
        uuids += grow(
            db, have=plan.scale_small, want=plan.scale_large, events_per_profile=per, say=say
        )
        await stage(uuids, f"{plan.scale_large:,} profiles")
        facts["scale_rss_mb_peak"] = max(v for k, v in facts.items() if k.startswith("scale_rss"))
    finally:
        server.stop()
    return rows
