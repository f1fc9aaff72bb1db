"""What every SQLite section measures with: load a server, record a row, preload the ids a
delete scenario consumes, and wait for the purges a scenario queued."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from loadgen import LoadResult, RequestSource, ResponseHook, run_load
from plan import Plan
from report import BodyCheck, Measured, Row
from servers import HOST, Server
from sources import chunks, once_each
from wrk_driver import WrkDriver, wrk_seconds

CONNECTIONS = 64
# Delete pools: a first batch per pool measures the create rate, then each pool is topped up
# to PRELOAD_FACTOR x create rate x duration, so a delete scenario should not run out of ids.
PRELOAD_FIRST_BATCH = 500
PRELOAD_FACTOR = 2.5
# The pools the (wrk) delete rows consume: wrk leaves the server more of the machine's cores
# than the Python generator does, so its deletes may outrun the creates by more.
WRK_PRELOAD_FACTOR = 4.0
# Before the EngageLab rows, wait (up to this long) for the purges the Gainsight hard deletes
# queued, so they do not compete for the database with the next scenarios.
SETTLE_TIMEOUT_S = 120.0

# Sends one request per id of the pools it is given; the rate at which they were answered.
PoolSender = Callable[[list[list[str]]], Awaitable[float]]


def wrk_name(scenario: str) -> str:
    return f"{scenario} (wrk)"


def wrk_note(plan: Plan) -> str:
    return (
        f"(wrk) rows: the same requests sent by `wrk -t1 -c{CONNECTIONS} "
        f"-d{wrk_seconds(plan.duration)}s --latency` (one C thread, a generated Lua script); "
        "ratio to the bare ASGI row measured with wrk; non-2xx = wrk's count of statuses "
        "above 399; p50/p99 from wrk's histogram, which adds coordinated-omission samples; "
        "bodies are not checked"
    )


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def fill_pools(
    plan: Plan,
    what: str,
    prefixes: list[str],
    send: PoolSender,
    *,
    top_up: PoolSender | None = None,
    indent: str = "",
    say: Callable[[str], None] = say,
    factor: float = PRELOAD_FACTOR,
    first_batch: int | None = None,
) -> list[list[str]]:
    """Create the ids the delete scenarios consume, one pool per prefix. Without a fixed
    --preload, a first batch measures the create rate and the pools are topped up (with
    ``top_up`` when given, else ``send``) to ``factor`` x that rate x the duration
    (deletes cost about what creates do). ``first_batch`` (for a slow server) sets that
    first batch and sizes the pools from the rate even with --preload."""
    started = time.perf_counter()
    first = plan.preload if plan.preload is not None else PRELOAD_FIRST_BATCH
    sized = plan.preload is None or first_batch is not None
    first = first if first_batch is None else first_batch

    def ids(lo: int, hi: int) -> list[list[str]]:
        return [[f"{p}-{i:08d}" for i in range(lo, hi)] for p in prefixes]

    pools = ids(0, first)
    say(f"{indent}preloading {what} over HTTP: {len(prefixes) * first} ...")
    rate = await send(pools)
    if sized:
        target = max(first, math.ceil(factor * rate * plan.duration))
        more = ids(first, target)
        if target > first:
            say(f"  {rate:.0f} {what}/s; topping up with {len(prefixes) * (target - first)} ...")
            await (top_up or send)(more)
        pools = [a + b for a, b in zip(pools, more, strict=True)]
    total = sum(len(pool) for pool in pools)
    say(f"  {total} {what} in {time.perf_counter() - started:.1f} s")
    return pools


class Failures:
    """Collects the requests whose answer was not 2xx, or whose body ``accept`` refused."""

    def __init__(self, accept: Callable[[bytes], bool] | None) -> None:
        self.accept = accept
        self.requests: list[bytes] = []
        self.statuses: dict[int, int] = {}

    def hook(self, request: bytes, status: int, body: bytes) -> None:
        if 200 <= status < 300 and (self.accept is None or self.accept(body)):
            return
        self.requests.append(request)
        self.statuses[status] = self.statuses.get(status, 0) + 1


def active_jobs(db_path: Path) -> int:
    """Deletion jobs still queued or running, read straight from the server's SQLite file."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute(
            "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
        ).fetchone()
        return int(row[0])
    finally:
        conn.close()


class Harness:
    """The rows of one run so far, and the Obliviate server (with its SQLite file) that
    preloads and settle waits go to unless told otherwise."""

    def __init__(
        self, plan: Plan, obliviate: Server, db_path: Path, wrk: WrkDriver | None = None
    ) -> None:
        self.plan = plan
        self.obliviate = obliviate
        self.db_path = db_path
        # The second load driver (None: wrk is not installed, its rows are skipped).
        self.wrk = wrk
        self.rows: list[Row] = []
        self.facts: dict[str, float] = {}

    async def load(
        self,
        server: Server,
        source: RequestSource,
        duration: float | None,
        *,
        connections: int = CONNECTIONS,
        on_response: ResponseHook | None = None,
    ) -> LoadResult:
        return await run_load(
            HOST,
            server.port,
            source,
            connections=connections,
            duration=duration,
            on_response=on_response,
        )

    def record(
        self,
        name: str,
        request: str,
        baseline: str | None,
        result: Measured,
        *,
        connections: int = CONNECTIONS,
        check: BodyCheck | None = None,
        note: str | None = None,
    ) -> Row:
        base = next((r for r in self.rows if r.scenario == baseline), None)
        row = Row.from_result(
            name,
            request,
            result,
            self.plan.duration,
            base,
            connections=connections,
            check=check,
            note=note,
        )
        self.rows.append(row)
        say(f"  {row.progress_line()}")
        return row

    async def measure(
        self,
        name: str,
        request: str,
        baseline: str | None,
        server: Server,
        source: RequestSource,
        *,
        checked: tuple[BodyCheck, ResponseHook] | None = None,
        note: str | None = None,
    ) -> Row:
        """Run one scenario for the planned duration and record its row; ``checked`` is the
        check the answers' bodies must pass and the hook that feeds it."""
        check, hook = checked if checked is not None else (None, None)
        result = await self.load(server, source, self.plan.duration, on_response=hook)
        return self.record(name, request, baseline, result, check=check, note=note)

    async def measure_wrk(
        self,
        name: str,
        request: str,
        baseline: str | None,
        server: Server,
        requests: list[bytes],
        *,
        once: bool = False,
        note: str | None = None,
    ) -> Row | None:
        """The row ``wrk_name(name)``: ``requests`` sent by wrk for the planned duration, in
        a cycle or (``once``) each at most once; its ratio is to ``wrk_name(baseline)``.
        Nothing without wrk."""
        if self.wrk is None:
            return None
        result = await self.wrk.run(
            HOST,
            server.port,
            requests,
            duration=self.plan.duration,
            connections=CONNECTIONS,
            once=once,
        )
        return self.record(
            wrk_name(name),
            request,
            None if baseline is None else wrk_name(baseline),
            result,
            note=note,
        )

    async def preload(
        self,
        requests: list[bytes],
        *,
        accept: Callable[[bytes], bool] | None = None,
        retries: int = 0,
        server: Server | None = None,
    ) -> float:
        """Send each request once; the rate of that first round. A request fails with a
        non-2xx status or a 2xx body ``accept`` refuses. With ``retries``, failed requests
        are sent again up to that many more rounds (for requests that may be repeated)."""
        pending, rate = requests, 0.0
        for attempt in range(retries + 1):
            failures = Failures(accept)
            result = await self.load(
                server or self.obliviate, once_each(pending), None, on_response=failures.hook
            )
            rate = result.rps if attempt == 0 else rate
            if result.errors or result.requests != len(pending):
                raise RuntimeError(
                    f"preload failed: {result.requests} of {len(pending)} sent, statuses "
                    f"{result.status_counts}, {result.errors} connection errors"
                )
            failed = failures.requests
            if not failed:
                return rate
            what = (
                f"{len(failed)} of {len(pending)} preload requests failed "
                f"(statuses {failures.statuses})"
            )
            if attempt == retries:
                raise RuntimeError(f"preload failed: {what}")
            say(f"  {what}; sending them again")
            pending = failed
        return rate

    async def fill_pools(
        self,
        what: str,
        prefixes: list[str],
        make: Callable[[str], bytes],
        *,
        bulk: Callable[[list[str]], bytes] | None = None,
        bulk_size: int = 1,
        accept: Callable[[bytes], bool] | None = None,
        retries: int = 0,
        server: Server | None = None,
        factor: float = PRELOAD_FACTOR,
        first_batch: int | None = None,
    ) -> list[list[str]]:
        """The module's ``fill_pools`` with one request per id made by ``make``; with
        ``bulk``, the top-up sends ``bulk_size`` ids per request."""

        def sender(build: Callable[[list[str]], list[bytes]]) -> PoolSender:
            async def send(pools: list[list[str]]) -> float:
                requests = [r for pool in pools for r in build(pool)]
                return await self.preload(requests, accept=accept, retries=retries, server=server)

            return send

        one_each = sender(lambda pool: [make(i) for i in pool])
        top_up = (
            None
            if bulk is None
            else sender(lambda pool: [bulk(c) for c in chunks(pool, bulk_size)])
        )
        return await fill_pools(
            self.plan,
            what,
            prefixes,
            one_each,
            top_up=top_up,
            factor=factor,
            first_batch=first_batch,
        )

    async def settle(self, timeout: float = SETTLE_TIMEOUT_S, db_path: Path | None = None) -> None:
        """Wait until the worker has run every queued purge (bounded by ``timeout``), on the
        main server's database or on ``db_path``."""
        db = db_path or self.db_path
        started = time.perf_counter()
        left = active_jobs(db)
        while left and time.perf_counter() - started < timeout:
            await asyncio.sleep(0.2)
            left = active_jobs(db)
        waited = time.perf_counter() - started
        if left:
            say(f"  {left} purge jobs still pending after {waited:.1f} s; measuring anyway")
        elif waited >= 0.2:
            say(f"  waited {waited:.1f} s for the queued purges to finish")
