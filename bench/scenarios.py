"""The benchmark: start both servers, preload users and devices, run every scenario, report."""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import math
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from loadgen import LoadResult, RequestSource, build_request, run_load
from report import Row, environment, print_table, write_json
from servers import DB_FILE, HOST, Server, start_bare, start_obliviate

CONNECTIONS = 64
API_KEY_HEADER = {"X-APTRINSIC-API-KEY": "demo-gainsight-key"}
BASIC_AUTH_HEADER = {
    "Authorization": "Basic " + base64.b64encode(b"demo-app-key:demo-master-secret").decode()
}
DEVICE_TAGS = ["bench", "plan_pro", "region_eu"]
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
# Delete pools: a first batch per pool measures the create rate, then each pool is topped up
# to PRELOAD_FACTOR x create rate x duration, so a delete scenario should not run out of ids.
PRELOAD_FIRST_BATCH = 500
PRELOAD_FACTOR = 2.5
# Before the EngageLab rows, wait (up to this long) for the purges the Gainsight hard deletes
# queued, so they do not compete for the database with the next scenarios.
SETTLE_TIMEOUT_S = 120.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    duration: float
    warmup: float
    preload: int | None  # ids per delete scenario; None = sized from the create rate
    seed: int


def user_body(identify_id: str) -> bytes:
    return orjson.dumps(
        {
            "identifyId": identify_id,
            "propertyKeys": ["AP-BENCH-1"],
            "email": f"{identify_id}@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "signUpDate": 1_700_000_000_000,
            "customAttributes": {"plan": "pro", "seats": 5},
        }
    )


def device_body(registration_id: str) -> bytes:
    """EngageLab set-device body: three tags added and an alias unique to the device."""
    alias = registration_id.replace("-", "_")
    return orjson.dumps({"tags": {"add": DEVICE_TAGS}, "alias": alias})


def device_set(host: str, registration_id: str) -> bytes:
    return build_request(
        "POST",
        f"/v4/devices/{registration_id}",
        host,
        headers=BASIC_AUTH_HEADER,
        body=device_body(registration_id),
    )


def user_create(host: str, identify_id: str) -> bytes:
    return build_request(
        "POST", "/v1/users", host, headers=API_KEY_HEADER, body=user_body(identify_id)
    )


def constant(request: bytes) -> RequestSource:
    return lambda: request


def cycling(requests: list[bytes]) -> RequestSource:
    it = itertools.cycle(requests)
    return lambda: next(it)


def once_each(requests: list[bytes]) -> RequestSource:
    it: Iterator[bytes] = iter(requests)
    return lambda: next(it, None)


def creating(make: Callable[[str], bytes], prefix: str) -> RequestSource:
    """A new, unique id per request: ``make(f"{prefix}-00000000")``, ``...-00000001``, ..."""
    counter = itertools.count()
    return lambda: make(f"{prefix}-{next(counter):08d}")


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


class Bench:
    def __init__(self, plan: Plan, bare: Server, obliviate: Server, db_path: Path) -> None:
        self.plan = plan
        self.bare = bare
        self.obliviate = obliviate
        self.db_path = db_path
        self.bare_host = f"{HOST}:{bare.port}"
        self.obl_host = f"{HOST}:{obliviate.port}"
        self.rows: list[Row] = []
        self.preloaded = 0
        self.preloaded_devices = 0

    async def load(
        self, server: Server, source: RequestSource, duration: float | None
    ) -> LoadResult:
        return await run_load(HOST, server.port, source, connections=CONNECTIONS, duration=duration)

    def record(self, name: str, request: str, baseline: str | None, result: LoadResult) -> Row:
        base = next((r for r in self.rows if r.scenario == baseline), None)
        row = Row.from_result(name, request, result, self.plan.duration, base)
        self.rows.append(row)
        say(f"  {row.progress_line()}")
        return row

    async def preload(self, requests: list[bytes]) -> float:
        result = await self.load(self.obliviate, once_each(requests), None)
        if result.non_2xx or result.errors or result.requests != len(requests):
            raise RuntimeError(
                f"preload failed: {result.requests} sent, statuses {result.status_counts}, "
                f"{result.errors} connection errors"
            )
        return result.rps

    async def fill_pools(
        self, what: str, prefixes: list[str], make: Callable[[str], bytes]
    ) -> list[list[str]]:
        """Create the ids the delete scenarios consume, one pool per prefix. Without a fixed
        --preload, a first batch measures the create rate and the pools are topped up to
        PRELOAD_FACTOR x that rate x the duration (deletes cost about what creates do)."""
        plan = self.plan
        started = time.perf_counter()
        first = plan.preload if plan.preload is not None else PRELOAD_FIRST_BATCH

        def ids(lo: int, hi: int) -> list[list[str]]:
            return [[f"{p}-{i:08d}" for i in range(lo, hi)] for p in prefixes]

        pools = ids(0, first)
        say(f"preloading {what} over HTTP: {len(prefixes) * first} ...")
        rate = await self.preload([make(i) for pool in pools for i in pool])
        if plan.preload is None:
            target = max(first, math.ceil(PRELOAD_FACTOR * rate * plan.duration))
            more = ids(first, target)
            if target > first:
                say(
                    f"  {rate:.0f} {what}/s; topping up with {len(prefixes) * (target - first)} ..."
                )
                await self.preload([make(i) for pool in more for i in pool])
            pools = [a + b for a, b in zip(pools, more, strict=True)]
        total = sum(len(pool) for pool in pools)
        say(f"  {total} {what} in {time.perf_counter() - started:.1f} s")
        return pools

    async def settle(self) -> None:
        """Wait until the worker has run every queued purge (bounded by SETTLE_TIMEOUT_S)."""
        started = time.perf_counter()
        left = active_jobs(self.db_path)
        while left and time.perf_counter() - started < SETTLE_TIMEOUT_S:
            await asyncio.sleep(0.2)
            left = active_jobs(self.db_path)
        waited = time.perf_counter() - started
        if left:
            say(f"  {left} purge jobs still pending after {waited:.1f} s; measuring anyway")
        elif waited >= 0.2:
            say(f"  waited {waited:.1f} s for the queued purges to finish")

    async def run(self) -> list[Row]:
        plan = self.plan
        rng = random.Random(plan.seed)
        host = self.obl_host
        soft_ids, hard_ids = await self.fill_pools(
            "users", ["bench-soft", "bench-hard"], lambda i: user_create(host, i)
        )
        (device_ids,) = await self.fill_pools(
            "devices", ["bench-dev"], lambda i: device_set(host, i)
        )
        self.preloaded, self.preloaded_devices = len(soft_ids), len(device_ids)

        key, basic = API_KEY_HEADER, BASIC_AUTH_HEADER
        bare_get = build_request("GET", "/item", self.bare_host)
        bare_post = build_request("POST", "/item", self.bare_host, body=user_body("bench-x"))
        get_ids = soft_ids + hard_ids
        rng.shuffle(get_ids)
        gets = [build_request("GET", f"/v1/users/{i}", self.obl_host, headers=key) for i in get_ids]
        rng.shuffle(soft_ids)
        rng.shuffle(hard_ids)
        soft = [
            build_request("DELETE", f"/v1/users/{i}", self.obl_host, headers=key) for i in soft_ids
        ]
        hard = [
            build_request("DELETE", f"/v1/users/{i}?hardDelete=true", self.obl_host, headers=key)
            for i in hard_ids
        ]
        device_gets = [
            build_request("GET", f"/v4/devices/{i}", host, headers=basic) for i in device_ids
        ]
        rng.shuffle(device_gets)
        rng.shuffle(device_ids)
        device_deletes = [
            build_request("DELETE", f"/v4/devices/{i}", host, headers=basic) for i in device_ids
        ]

        if plan.warmup > 0:
            say(f"warming up ({plan.warmup:g} s per scenario) ...")
            await self.load(self.bare, constant(bare_get), plan.warmup)
            await self.load(self.bare, constant(bare_post), plan.warmup)
            await self.load(self.obliviate, cycling(gets), plan.warmup)
            await self.load(self.obliviate, cycling(device_gets), plan.warmup)

        d = plan.duration
        say(f"measuring ({d:g} s per scenario, {CONNECTIONS} connections) ...")
        self.record(
            "bare ASGI GET", "GET /item", None, await self.load(self.bare, constant(bare_get), d)
        )
        self.record(
            "bare ASGI POST", "POST /item", None, await self.load(self.bare, constant(bare_post), d)
        )
        self.record(
            "gainsight create user",
            "POST /v1/users",
            "bare ASGI POST",
            await self.load(
                self.obliviate, creating(lambda i: user_create(host, i), "bench-new"), d
            ),
        )
        self.record(
            "gainsight get user",
            "GET /v1/users/{id}",
            "bare ASGI GET",
            await self.load(self.obliviate, cycling(gets), d),
        )
        self.record(
            "gainsight soft delete",
            "DELETE /v1/users/{id}",
            "bare ASGI POST",
            await self.load(self.obliviate, once_each(soft), d),
        )
        self.record(
            "gainsight hard delete",
            "DELETE /v1/users/{id}?hardDelete=true",
            "bare ASGI POST",
            await self.load(self.obliviate, once_each(hard), d),
        )
        await self.settle()
        self.record(
            "engagelab device set",
            "POST /v4/devices/{rid}",
            "bare ASGI POST",
            await self.load(
                self.obliviate, creating(lambda i: device_set(host, i), "bench-devnew"), d
            ),
        )
        self.record(
            "engagelab device get",
            "GET /v4/devices/{rid}",
            "bare ASGI GET",
            await self.load(self.obliviate, cycling(device_gets), d),
        )
        self.record(
            "engagelab device delete",
            "DELETE /v4/devices/{rid}",
            "bare ASGI POST",
            await self.load(self.obliviate, once_each(device_deletes), d),
        )
        return self.rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description=(
            "Throughput and latency of Obliviate's Gainsight and EngageLab surfaces "
            "against bare ASGI."
        ),
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per scenario (10)")
    parser.add_argument(
        "--quick", action="store_true", help="2 s per scenario and fewer preloaded users"
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=None,
        help=(
            "users (or devices) preloaded for EACH delete scenario "
            "(default: sized from the create rate)"
        ),
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-db", action="store_true", help="keep the temp directory")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"JSON output ({RESULTS})")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    duration = args.duration if args.duration is not None else (2.0 if args.quick else 10.0)
    if duration <= 0:
        raise SystemExit("--duration must be positive")
    if args.preload is not None and args.preload < 1:
        raise SystemExit("--preload must be at least 1")
    return Plan(
        duration=duration, warmup=min(1.0, duration / 4), preload=args.preload, seed=args.seed
    )


def _run_loop(bench: Bench) -> list[Row]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(bench.run())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(bench.run())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    workdir = Path(tempfile.mkdtemp(prefix="obliviate-bench-"))
    servers: list[Server] = []
    try:
        say(f"temp dir {workdir}; starting servers ...")
        bare = start_bare(workdir)
        servers.append(bare)
        obliviate = start_obliviate(workdir)
        servers.append(obliviate)
        bare.wait_ready("/")
        obliviate.wait_ready("/healthz")
        bench = Bench(plan, bare, obliviate, workdir / DB_FILE)
        rows = _run_loop(bench)
        for server in servers:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
    finally:
        for server in reversed(servers):
            server.stop()
        if not args.keep_db:
            shutil.rmtree(workdir, ignore_errors=True)
    env = environment(
        connections=CONNECTIONS,
        duration=plan.duration,
        preload=bench.preloaded,
        preload_devices=bench.preloaded_devices,
    )
    print_table(env, rows)
    write_json(args.json, env, rows)
    print(f"\nJSON written to {args.json}", file=sys.stderr)
    return 0 if all(row.valid for row in rows) else 1
