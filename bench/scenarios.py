"""The benchmark: start both servers, preload users and devices, run every scenario, report."""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

import before as old
import goals
import history
import postgres as pg
import scale
from erasure_timing import read_passes
from insider import (
    exact_body_check,
    insider_identity_delete,
    insider_profile,
    insider_upsert,
    profile_check,
    upsert_accepted,
    upsert_check,
)
from loadgen import LoadResult, RequestSource, ResponseHook, build_request, run_load
from report import (
    BodyCheck,
    Row,
    before_name,
    before_ratios,
    environment,
    print_table,
    write_json,
)
from servers import (
    DB_FILE,
    HOST,
    Server,
    sqlite_env,
    start_bare,
    start_obliviate,
    start_serve,
    start_worker,
)
from sources import chunks, constant, creating, creating_many, cycling, once_each

CONNECTIONS = 64
API_KEY_HEADER = {"X-APTRINSIC-API-KEY": "demo-gainsight-key"}
# The delete rows remove far more than the mass-deletion guard's hourly share of the tenant's
# profiles (SPEC §2.7), so they confirm the burst, as a bulk clean-up would.
DELETE_HEADERS = API_KEY_HEADER | {"X-Obliviate-Confirm-Mass-Delete": "yes"}
BASIC_AUTH_HEADER = {
    "Authorization": "Basic " + base64.b64encode(b"demo-app-key:demo-master-secret").decode()
}
DEVICE_TAGS = ["bench", "plan_pro", "region_eu"]
# The bulk upsert row: users per request, and fewer connections than the other rows, since
# each request carries ~320 KB and keeps the single SQLite writer busy on its own.
BULK_USERS = 1000
BULK_CONNECTIONS = 2
# Insider preload: users in the pool the profile row reads; users per upsert when topping up
# a pool; rounds of resending upserts that failed (an upsert may be sent again safely).
INSIDER_PROFILE_USERS = 2000
INSIDER_PRELOAD_BULK = 100
INSIDER_PRELOAD_RETRIES = 3
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
    # Issue 6, goal 3: people with a long history (and as many with none) hard-deleted.
    history_people: int = 50
    events_per_person: int = 100_000
    # Issue 6, goal 4: profiles stored for the small and the large stage, events per profile
    # (0 profiles: the section is skipped).
    scale_small: int = 10_000
    scale_large: int = 1_000_000
    scale_events_per_profile: int = 20
    # Issue 6, goal 5 (None: skipped).
    postgres_url: str | None = None
    # --before: the git revision whose code the "(before REV)" rows run (None: no such rows).
    before_rev: str | None = None


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


class Bench:
    def __init__(
        self,
        plan: Plan,
        bare: Server,
        obliviate: Server,
        db_path: Path,
        *,
        starlette: Server,
        no_group_commit: Server,
        before: Server | None = None,
        before_db: Path | None = None,
    ) -> None:
        self.plan = plan
        self.bare = bare
        self.obliviate = obliviate
        self.db_path = db_path
        self.starlette = starlette
        self.no_group_commit = no_group_commit
        # --before: the server running the old code, and its database.
        self.before = before
        self.before_db = before_db
        self.bare_host = f"{HOST}:{bare.port}"
        self.obl_host = f"{HOST}:{obliviate.port}"
        self.rows: list[Row] = []
        self.preloaded = 0
        self.preloaded_devices = 0
        self.preloaded_insider: dict[str, int] = {}
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
        result: LoadResult,
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
    ) -> list[list[str]]:
        """Create the ids the delete scenarios consume, one pool per prefix. Without a fixed
        --preload, a first batch measures the create rate and the pools are topped up to
        PRELOAD_FACTOR x that rate x the duration (deletes cost about what creates do).
        With ``bulk``, the top-up sends ``bulk_size`` ids per request."""
        plan = self.plan
        started = time.perf_counter()
        first = plan.preload if plan.preload is not None else PRELOAD_FIRST_BATCH

        def ids(lo: int, hi: int) -> list[list[str]]:
            return [[f"{p}-{i:08d}" for i in range(lo, hi)] for p in prefixes]

        pools = ids(0, first)
        say(f"preloading {what} over HTTP: {len(prefixes) * first} ...")
        rate = await self.preload(
            [make(i) for pool in pools for i in pool], accept=accept, retries=retries, server=server
        )
        if plan.preload is None:
            target = max(first, math.ceil(PRELOAD_FACTOR * rate * plan.duration))
            more = ids(first, target)
            if target > first:
                say(
                    f"  {rate:.0f} {what}/s; topping up with {len(prefixes) * (target - first)} ..."
                )
                if bulk is None:
                    requests = [make(i) for pool in more for i in pool]
                else:
                    requests = [bulk(c) for pool in more for c in chunks(pool, bulk_size)]
                await self.preload(requests, accept=accept, retries=retries, server=server)
            pools = [a + b for a, b in zip(pools, more, strict=True)]
        total = sum(len(pool) for pool in pools)
        say(f"  {total} {what} in {time.perf_counter() - started:.1f} s")
        return pools

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

    async def run(self) -> list[Row]:
        plan = self.plan
        rng = random.Random(plan.seed)
        host = self.obl_host
        # Insider first: its upserts slow down as the tenant's identifiers grow in number.
        iddel_ids, profile_ids = await self.fill_insider_pools()
        soft_ids, hard_ids = await self.fill_pools(
            "users", ["bench-soft", "bench-hard"], lambda i: user_create(host, i)
        )
        (device_ids,) = await self.fill_pools(
            "devices", ["bench-dev"], lambda i: device_set(host, i)
        )
        # The same soft delete on a server with group commit off (one commit per request):
        # the "before" of issue 6, measured in the same run.
        nogc_host = f"{HOST}:{self.no_group_commit.port}"
        (nogc_ids,) = await self.fill_pools(
            "users (group commit off)",
            ["bench-nogc"],
            lambda i: user_create(nogc_host, i),
            server=self.no_group_commit,
        )
        if self.before is not None:
            await self.preload_before(soft_ids + hard_ids)
        rng.shuffle(nogc_ids)
        nogc_soft = [
            build_request("DELETE", f"/v1/users/{i}", nogc_host, headers=DELETE_HEADERS)
            for i in nogc_ids
        ]
        star_host = f"{HOST}:{self.starlette.port}"
        star_get = build_request("GET", "/item", star_host)
        star_post = build_request("POST", "/item", star_host, body=user_body("bench-x"))
        self.preloaded, self.preloaded_devices = len(soft_ids), len(device_ids)

        key, basic, confirm = API_KEY_HEADER, BASIC_AUTH_HEADER, DELETE_HEADERS
        # Device deletes count against their own mass-deletion allowance, like the others.
        basic_confirm = BASIC_AUTH_HEADER | {"X-Obliviate-Confirm-Mass-Delete": "yes"}
        bare_get = build_request("GET", "/item", self.bare_host)
        bare_post = build_request("POST", "/item", self.bare_host, body=user_body("bench-x"))
        get_ids = soft_ids + hard_ids
        rng.shuffle(get_ids)
        rng.shuffle(soft_ids)
        rng.shuffle(hard_ids)

        def user_requests(h: str) -> tuple[list[bytes], list[bytes], list[bytes]]:
            """The get, soft delete and hard delete requests to the server at ``h``."""
            return (
                [build_request("GET", f"/v1/users/{i}", h, headers=key) for i in get_ids],
                [build_request("DELETE", f"/v1/users/{i}", h, headers=confirm) for i in soft_ids],
                [
                    build_request("DELETE", f"/v1/users/{i}?hardDelete=true", h, headers=confirm)
                    for i in hard_ids
                ],
            )

        gets, soft, hard = user_requests(self.obl_host)
        # --before: the same requests (same ids, same order) to the old code's server.
        old_gets, old_soft, old_hard = (
            ([], [], []) if self.before is None else user_requests(f"{HOST}:{self.before.port}")
        )
        device_gets = [
            build_request("GET", f"/v4/devices/{i}", host, headers=basic) for i in device_ids
        ]
        rng.shuffle(device_gets)
        rng.shuffle(device_ids)
        device_deletes = [
            build_request("DELETE", f"/v4/devices/{i}", host, headers=basic_confirm)
            for i in device_ids
        ]
        profiles = [insider_profile(host, i) for i in profile_ids]
        rng.shuffle(profiles)
        rng.shuffle(iddel_ids)
        identity_deletes = [insider_identity_delete(host, i) for i in iddel_ids]

        if plan.warmup > 0:
            say(f"warming up ({plan.warmup:g} s per scenario) ...")
            await self.load(self.bare, constant(bare_get), plan.warmup)
            await self.load(self.bare, constant(bare_post), plan.warmup)
            await self.load(self.starlette, constant(star_get), plan.warmup)
            await self.load(self.obliviate, cycling(gets), plan.warmup)
            if self.before is not None:
                await self.load(self.before, cycling(old_gets), plan.warmup)
            await self.load(self.obliviate, cycling(device_gets), plan.warmup)
            await self.load(self.obliviate, cycling(profiles), plan.warmup)

        d = plan.duration
        say(f"measuring ({d:g} s per scenario, {CONNECTIONS} connections) ...")
        self.record(
            "bare ASGI GET", "GET /item", None, await self.load(self.bare, constant(bare_get), d)
        )
        self.record(
            "bare ASGI POST", "POST /item", None, await self.load(self.bare, constant(bare_post), d)
        )
        self.record(
            "bare Starlette GET",
            "GET /item",
            "bare ASGI GET",
            await self.load(self.starlette, constant(star_get), d),
        )
        self.record(
            "bare Starlette POST",
            "POST /item",
            "bare ASGI POST",
            await self.load(self.starlette, constant(star_post), d),
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
        if self.before is not None:
            self.record(
                before_name("gainsight get user", plan.before_rev),
                "GET /v1/users/{id}",
                "bare ASGI GET",
                await self.load(self.before, cycling(old_gets), d),
                note=(
                    f"(before {plan.before_rev}) rows: the same requests, each right after its "
                    f"current row, to a second `serve --demo` running {plan.before_rev} (a git "
                    "worktree on PYTHONPATH) on its own fresh SQLite database, preloaded with "
                    "the same Gainsight users"
                ),
            )
        self.record(
            "gainsight soft delete",
            "DELETE /v1/users/{id}",
            "bare ASGI POST",
            await self.load(self.obliviate, once_each(soft), d),
        )
        if self.before is not None:
            self.record(
                before_name("gainsight soft delete", plan.before_rev),
                "DELETE /v1/users/{id}",
                "bare ASGI POST",
                await self.load(self.before, once_each(old_soft), d),
            )
        self.record(
            "gainsight soft delete, group commit off",
            "DELETE /v1/users/{id}",
            "bare ASGI POST",
            await self.load(self.no_group_commit, once_each(nogc_soft), d),
            note="a second server, OBLIVIATE_GROUP_COMMIT=false: one transaction and fsync each",
        )
        self.record(
            "gainsight hard delete",
            "DELETE /v1/users/{id}?hardDelete=true",
            "bare ASGI POST",
            await self.load(self.obliviate, once_each(hard), d),
        )
        await self.settle()
        if self.before is not None:
            # After the current server's purges have settled, so they do not weigh on it; its
            # own in-process worker runs its purges meanwhile, as the current one did.
            self.record(
                before_name("gainsight hard delete", plan.before_rev),
                "DELETE /v1/users/{id}?hardDelete=true",
                "bare ASGI POST",
                await self.load(self.before, once_each(old_hard), d),
            )
            await self.settle(db_path=self.before_db)
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
        await self.settle()
        await self.insider_rows(profiles, identity_deletes)
        return self.rows

    async def preload_before(self, ids: list[str]) -> None:
        """The old code's server gets the same Gainsight users as the main one (not the
        Insider users or devices, which its rows do not read)."""
        assert self.before is not None
        started = time.perf_counter()
        old_host = f"{HOST}:{self.before.port}"
        say(f"preloading users (before {self.plan.before_rev}), the same {len(ids)} ...")
        await self.preload([user_create(old_host, i) for i in ids], server=self.before)
        say(f"  {len(ids)} users in {time.perf_counter() - started:.1f} s")

    async def fill_insider_pools(self) -> tuple[list[str], list[str]]:
        """Users (uuid + email, attributes, one event) for the identity delete row, sized like
        the other delete pools, and INSIDER_PROFILE_USERS more for the profile row. The top-ups
        go INSIDER_PRELOAD_BULK users per upsert."""
        host = self.obl_host

        def bulk(uuids: list[str]) -> bytes:
            return insider_upsert(host, uuids)

        (iddel_ids,) = await self.fill_pools(
            "insider users",
            ["bench-ins-iddel"],
            lambda i: insider_upsert(host, [i]),
            bulk=bulk,
            bulk_size=INSIDER_PRELOAD_BULK,
            accept=upsert_accepted,
            retries=INSIDER_PRELOAD_RETRIES,
        )
        started = time.perf_counter()
        profile_ids = [f"bench-ins-prof-{i:08d}" for i in range(INSIDER_PROFILE_USERS)]
        say(f"preloading insider users for the profile row: {len(profile_ids)} ...")
        await self.preload(
            [bulk(c) for c in chunks(profile_ids, INSIDER_PRELOAD_BULK)],
            accept=upsert_accepted,
            retries=INSIDER_PRELOAD_RETRIES,
        )
        say(f"  {len(profile_ids)} insider users in {time.perf_counter() - started:.1f} s")
        self.preloaded_insider = {
            "identity_delete_pool": len(iddel_ids),
            "profile_pool": len(profile_ids),
        }
        return iddel_ids, profile_ids

    async def insider_rows(self, profiles: list[bytes], identity_deletes: list[bytes]) -> None:
        host, d = self.obl_host, self.plan.duration
        check, hook = upsert_check(1)
        self.record(
            "insider upsert 1 user",
            "POST /api/user/v1/upsert",
            "bare ASGI POST",
            await self.load(
                self.obliviate,
                creating(lambda i: insider_upsert(host, [i]), "bench-ins-new"),
                d,
                on_response=hook,
            ),
            check=check,
        )
        check, hook = upsert_check(BULK_USERS)
        size = len(
            insider_upsert(host, [f"bench-ins-bulk-00000000-{j:04d}" for j in range(BULK_USERS)])
        )
        result = await self.load(
            self.obliviate,
            creating_many(lambda ids: insider_upsert(host, ids), "bench-ins-bulk", BULK_USERS),
            d,
            connections=BULK_CONNECTIONS,
            on_response=hook,
        )
        self.record(
            f"insider upsert {BULK_USERS} users",
            "POST /api/user/v1/upsert",
            "bare ASGI POST",
            result,
            connections=BULK_CONNECTIONS,
            check=check,
            note=(
                f"{BULK_CONNECTIONS} connections (not {CONNECTIONS}), {BULK_USERS} users and "
                f"~{size / 1000:.0f} KB per request; {result.requests} requests in "
                f"{result.elapsed:.1f} s, so p50/p99 rest on few samples; requests in flight "
                "at the deadline finish and count"
            ),
        )
        check, hook = profile_check()
        self.record(
            "insider profile",
            "POST /api/user/v1/profile",
            "bare ASGI POST",
            await self.load(self.obliviate, cycling(profiles), d, on_response=hook),
            check=check,
        )
        check, hook = exact_body_check(b"{}")
        self.record(
            "insider identity delete",
            "DELETE /api/user/v1/identity",
            "bare ASGI POST",
            await self.load(self.obliviate, once_each(identity_deletes), d, on_response=hook),
            check=check,
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description=(
            "Throughput and latency of Obliviate's Gainsight, EngageLab and Insider surfaces "
            "against bare ASGI, deletion cost against history, scale, and PostgreSQL."
        ),
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per scenario (10)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 s per scenario, smaller preloads and history; no scale or PostgreSQL section",
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
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        help="profiles in the large scale stage (1,000,000; 0 skips the section)",
    )
    parser.add_argument(
        "--postgres-url",
        default=None,
        help=f"PostgreSQL for the PostgreSQL section (default {pg.DEFAULT_URL})",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL section")
    parser.add_argument(
        "--before",
        metavar="REV",
        default=None,
        help=(
            "also run the Gainsight get, soft and hard delete rows on a server running git "
            "revision REV (a temporary worktree), in the same run"
        ),
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    duration = args.duration if args.duration is not None else (1.0 if args.quick else 10.0)
    if duration <= 0:
        raise SystemExit("--duration must be positive")
    if args.preload is not None and args.preload < 1:
        raise SystemExit("--preload must be at least 1")
    scale = args.scale if args.scale is not None else (0 if args.quick else 1_000_000)
    postgres = None if args.quick or args.no_postgres else (args.postgres_url or pg.DEFAULT_URL)
    return Plan(
        duration=duration,
        warmup=min(1.0, duration / 4),
        preload=args.preload,
        seed=args.seed,
        history_people=5 if args.quick else 50,
        scale_large=scale,
        postgres_url=postgres,
        before_rev=args.before,
    )


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


async def history_section(plan: Plan, workdir: Path, facts: dict[str, float]) -> list[Row]:
    """Goal 3: hard deletes of people with a long history against people with none, on a
    server of its own with no worker (so the requests are measured alone), then the purge of
    what they queued by one `obliviate worker` process, timed from its start until the last
    job has completed: each completes only after its erasure pass, which that worker times."""
    people, per = plan.history_people, plan.events_per_person
    folder = workdir / "history"
    server = start_obliviate(folder, name="obliviate-history", extra_args=("--no-worker",))
    rows: list[Row] = []
    try:
        server.wait_ready("/healthz")
        db = folder / DB_FILE
        say(f"history: {people} people with {per:,} events each and {people} with none ...")
        # One more of each: the first pair warms the server up and is not counted.
        heavy, light, written = history.prepare(db, people + 1, per)
        host = f"{HOST}:{server.port}"
        requests = history.alternating_deletes(host, heavy, light, DELETE_HEADERS)
        result = await run_load(HOST, server.port, once_each(requests), connections=1)
        heavy_result, light_result = history.split(result)
        light_row = Row.from_result(
            "hard delete, person with no events",
            "DELETE /v1/users/{id}?hardDelete=true",
            light_result,
            plan.duration,
            None,
            connections=1,
            note=(
                f"{people} requests on one connection, alternating with the row below, on a "
                "server with no worker; the purges run after (see the goals)"
            ),
        )
        heavy_row = Row.from_result(
            f"hard delete, person with {per:,} events",
            "DELETE /v1/users/{id}?hardDelete=true",
            heavy_result,
            plan.duration,
            light_row,
            connections=1,
            note=f"{people} requests; {per:,} event rows written for each beforehand",
        )
        rows += [light_row, heavy_row]
        for row in rows:
            say(f"  {row.progress_line()}")
        erasure_log = folder / "erasure-passes.txt"
        worker = start_worker(sqlite_env(folder), folder, erasure_log=erasure_log)
        try:
            worker.wait_worker()
            started = int(time.time() * 1000)
            deadline = time.monotonic() + 900
            while active_jobs(db) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if worker.process.poll() is not None:
                raise RuntimeError(f"the history worker died:\n{worker.log_tail()}")
        finally:
            worker.stop()
        purged, seconds = history.purge_figures(db, people + 1, since_ms=started)
        if purged != written:
            raise RuntimeError(f"the purges removed {purged} event rows of {written}")
        # Purge + erasure: the jobs end only after their erasure pass.
        facts["purge_event_rows"] = purged
        facts["purge_seconds"] = seconds
        facts["purge_rows_per_s"] = purged / seconds if seconds > 0 else 0.0
        passes = read_passes([erasure_log])
        facts["erasure_passes"] = passes.done
        facts["erasure_busy_passes"] = passes.busy
        facts["erasure_seconds"] = passes.seconds
        facts["erasure_ms_mean"] = passes.mean_ms
        facts["erasure_ms_max"] = passes.max_ms
        say(
            f"  purge + erasure: {purged:,} event rows in {seconds:.2f} s by one worker process; "
            f"{passes.done} erasure passes took {passes.seconds:.2f} s of it"
        )
    finally:
        server.stop()
    return rows


async def scale_section(plan: Plan, workdir: Path, facts: dict[str, float]) -> list[Row]:
    """Goal 4: get and soft delete with ``scale_small`` profiles stored, then again with
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
            reads = [f"/v1/users/{u}" for u in rng.sample(uuids, min(len(uuids), 50_000))]
            gets = [build_request("GET", r, host, headers=API_KEY_HEADER) for r in reads]
            victims = rng.sample(uuids, min(len(uuids) // 2, 40_000))
            deleted.update(victims)
            deletes = [
                build_request("DELETE", f"/v1/users/{u}", host, headers=DELETE_HEADERS)
                for u in victims
            ]
            small = next((r for r in rows if r.scenario.startswith("scale get")), None)
            with scale.RssSampler(server.process.pid) as rss:
                get = await run_load(
                    HOST,
                    server.port,
                    cycling(gets),
                    connections=CONNECTIONS,
                    duration=plan.duration,
                )
                delete = await run_load(
                    HOST,
                    server.port,
                    once_each(deletes),
                    connections=CONNECTIONS,
                    duration=plan.duration,
                )
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
        uuids = scale.grow(db, have=0, want=plan.scale_small, events_per_profile=per, say=say)
        await stage(uuids, f"{plan.scale_small:,} profiles")
        say(f"scale: growing to {plan.scale_large:,} profiles ...")
        uuids += scale.grow(
            db, have=plan.scale_small, want=plan.scale_large, events_per_profile=per, say=say
        )
        await stage(uuids, f"{plan.scale_large:,} profiles")
        facts["scale_rss_mb_peak"] = max(v for k, v in facts.items() if k.startswith("scale_rss"))
    finally:
        server.stop()
    return rows


def start_before(
    tree: old.Worktree, workdir: Path, env_facts: dict[str, str]
) -> tuple[Server, Path]:
    """The old code's `serve --demo` on a fresh database in ``workdir/before``, once its
    environment is shown to import the worktree's obliviate; the server and its database."""
    folder = workdir / "before"
    folder.mkdir(parents=True, exist_ok=True)
    env = old.old_code_env(sqlite_env(folder), tree)
    found = old.check_import(env, folder, tree)
    say(f"before {tree.rev} ({tree.commit[:12]}): obliviate from {found}")
    env_facts.update(
        {
            "rev": tree.rev,
            "commit": tree.commit,
            "worktree": str(tree.path),
            "obliviate": str(found),
        }
    )
    return start_serve("obliviate-before", env, folder), folder / DB_FILE


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    workdir = Path(tempfile.mkdtemp(prefix="obliviate-bench-"))
    servers: list[Server] = []
    extra: list[Row] = []
    tree: old.Worktree | None = None
    before_facts: dict[str, str] = {}
    try:
        if plan.before_rev is not None:
            say(f"checking out {plan.before_rev} into a git worktree ...")
            tree = old.add_worktree(plan.before_rev)
        say(f"temp dir {workdir}; starting servers ...")
        bare = start_bare(workdir)
        servers.append(bare)
        starlette = start_bare(workdir, "bare_starlette:app", "bare-starlette")
        servers.append(starlette)
        obliviate = start_obliviate(workdir)
        servers.append(obliviate)
        nogc = start_obliviate(
            workdir / "nogc", name="obliviate-nogc", extra_env={"OBLIVIATE_GROUP_COMMIT": "false"}
        )
        servers.append(nogc)
        before_server, before_db = None, None
        if tree is not None:
            before_server, before_db = start_before(tree, workdir, before_facts)
            servers.append(before_server)
        for server in (bare, starlette):
            server.wait_ready("/")
        for server in (obliviate, nogc, *([before_server] if before_server else [])):
            server.wait_ready("/healthz")
        bench = Bench(
            plan,
            bare,
            obliviate,
            workdir / DB_FILE,
            starlette=starlette,
            no_group_commit=nogc,
            before=before_server,
            before_db=before_db,
        )
        with _runner() as runner:
            rows = runner.run(bench.run())
        for server in servers:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
        for server in reversed(servers):
            server.stop()
        servers.clear()
        if plan.history_people > 0:
            with _runner() as runner:
                extra += runner.run(history_section(plan, workdir, bench.facts))
        if plan.scale_large > 0:
            with _runner() as runner:
                extra += runner.run(scale_section(plan, workdir, bench.facts))
        if plan.postgres_url is not None:
            try:
                with _runner() as runner:
                    extra += runner.run(
                        pg.postgres_rows(plan, plan.postgres_url, workdir, say, bench.facts)
                    )
            except pg.PostgresUnavailable as exc:
                say(f"skipping the PostgreSQL section: {exc}")
    finally:
        for server in reversed(servers):
            server.stop()
        if tree is not None:
            tree.remove()
        if not args.keep_db:
            shutil.rmtree(workdir, ignore_errors=True)
    env = environment(
        connections=CONNECTIONS,
        duration=plan.duration,
        preload=bench.preloaded,
        preload_devices=bench.preloaded_devices,
        preload_insider=bench.preloaded_insider,
        before=before_facts or None,
    )
    rows = rows + extra
    results = goals.evaluate(rows, bench.facts, plan)
    print_table(env, rows)
    goals.print_goals(results)
    write_json(
        args.json,
        env,
        rows,
        facts=bench.facts,
        goals=[g.as_dict() for g in results],
        before=None if plan.before_rev is None else before_ratios(rows, plan.before_rev),
    )
    print(f"\nJSON written to {args.json}", file=sys.stderr)
    return 0 if all(row.valid for row in rows) else 1
