"""The PostgreSQL table: the Gainsight user rows on PostgreSQL, against the storage ceiling.

Two ``obliviate serve --demo --no-worker`` processes and two ``obliviate worker`` processes
share a freshly created database. The rows run with 64 connections, 32 to each server, and
their ratio is over a single psycopg connection running ``INSERT ... ON CONFLICT`` in
autocommit, one statement per commit, on the same PostgreSQL server (the storage ceiling).
The database is dropped and created again at the start and dropped at the end.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg

from erasure_timing import read_passes
from gainsight_requests import user_create, user_get, user_hard_delete, user_soft_delete
from harness import fill_pools
from insider import insider_upsert, upsert_check
from insider_rows import BULK_CONNECTIONS, BULK_USERS
from loadgen import LoadResult, RequestSource, ResponseHook, run_load
from pg_history import HEAVY_EVENTS, HEAVY_PEOPLE, purge_figures, write_heavy_people
from plan import Plan
from postgres_db import (
    CEILING_KEYS,
    CEILING_ROW,
    CEILING_TABLE,
    database_name,
    drop_database,
    recreate_database,
    storage_ceiling,
    wait_jobs,
)
from report import BodyCheck, Row
from servers import HOST, Server, obliviate_env, start_serve, start_worker
from sources import creating, creating_many, cycling, once_each

SERVERS = 2
WORKERS = 2
CONNECTIONS_PER_SERVER = 32
CONNECTIONS = SERVERS * CONNECTIONS_PER_SERVER
READY_TIMEOUT_S = 60.0
SECRET_ENV = "OBLIVIATE_SECRET_KEY"
PG_BULK_ROW = f"pg insider upsert {BULK_USERS} users"


def _env(url: str, data_dir: Path) -> dict[str, str]:
    """Every process shares one secret key (set here, so none writes a key file of its own)."""
    return obliviate_env(url, data_dir, {SECRET_ENV: secrets.token_hex(32)})


def _merge(results: Sequence[LoadResult]) -> LoadResult:
    """One result for runs that went side by side: requests add up, over the longest run."""
    merged = LoadResult(
        requests=sum(r.requests for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        errors=sum(r.errors for r in results),
        elapsed=max((r.elapsed for r in results), default=0.0),
        exhausted=any(r.exhausted for r in results),
    )
    for r in results:
        merged.latencies_ns.extend(r.latencies_ns)
        for status, count in r.status_counts.items():
            merged.status_counts[status] = merged.status_counts.get(status, 0) + count
    return merged


def _shared_once_each(
    ids: list[str], hosts: list[str], make: Callable[[str, str], bytes]
) -> list[RequestSource]:
    """One source per host, drawing from one pool: each id is sent once, to whichever server's
    connection asks first (so neither server runs out while the other has ids left)."""
    built = [[make(host, i) for host in hosts] for i in ids]
    it = iter(built)

    def source_for(index: int) -> RequestSource:
        def source() -> bytes | None:
            requests = next(it, None)
            return None if requests is None else requests[index]

        return source

    return [source_for(k) for k in range(len(hosts))]


class _Cluster:
    """The servers under load; every scenario runs on all of them at once."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.hosts = [f"{HOST}:{s.port}" for s in servers]

    async def load(
        self,
        sources: list[RequestSource],
        duration: float | None,
        *,
        connections: int = CONNECTIONS_PER_SERVER,
        on_response: ResponseHook | None = None,
    ) -> LoadResult:
        runs = [
            run_load(
                HOST,
                server.port,
                source,
                connections=connections,
                duration=duration,
                on_response=on_response,
            )
            for server, source in zip(self.servers, sources, strict=True)
        ]
        return _merge(await asyncio.gather(*runs))

    async def preload(self, ids: list[str], make: Callable[[str, str], bytes]) -> float:
        """Send one request per id, split across the servers; the rate. All must be 2xx."""
        result = await self.load(_shared_once_each(ids, self.hosts, make), None)
        if result.errors or result.non_2xx or result.requests != len(ids):
            raise RuntimeError(
                f"preload failed: {result.requests} of {len(ids)} sent, statuses "
                f"{result.status_counts}, {result.errors} connection errors"
            )
        return result.rps

    def check_alive(self, others: list[Server]) -> None:
        for proc in [*self.servers, *others]:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} died during the run:\n{proc.log_tail()}")


async def postgres_rows(
    plan: Plan,
    url: str,
    workdir: Path,
    say: Callable[[str], None],
    facts: dict[str, float] | None = None,
) -> list[Row]:
    """The PostgreSQL table: the ceiling row first, then the four Gainsight user rows (on two
    servers and two workers) with their ratio to it. ``url`` names a database the run owns
    (its name must contain "bench"): it is dropped and created again, and dropped at the end.
    Raises PostgresUnavailable when the PostgreSQL server cannot be reached."""
    name = database_name(url)
    folder = workdir / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    say(f"PostgreSQL: recreating database {name} ...")
    recreate_database(url)
    procs: list[Server] = []
    try:
        say(
            f"PostgreSQL: storage ceiling, one connection, {plan.duration:g} s "
            f"(after {plan.warmup:g} s warm-up) ..."
        )
        ceiling_result = await asyncio.to_thread(storage_ceiling, url, plan.duration, plan.warmup)
        ceiling = Row.from_result(
            CEILING_ROW,
            f"INSERT INTO {CEILING_TABLE} (k, v) ... ON CONFLICT (k) DO UPDATE",
            ceiling_result,
            plan.duration,
            None,
            connections=1,
            note=(
                "one psycopg connection in autocommit, one statement (and commit) at a time, "
                f"keys cycling over {CEILING_KEYS:,}; requests/s is statements/s, and the pg "
                "rows' ratio is over it"
            ),
        )
        say(f"  {ceiling.progress_line()}")

        say(f"PostgreSQL: starting {SERVERS} servers (--no-worker) and {WORKERS} workers ...")
        env = _env(url, folder / "data")
        # The first server migrates and creates the demo tenant; the rest start after it.
        first = start_serve("pg-server-0", env, folder, "--no-worker")
        procs.append(first)
        first.wait_ready("/healthz")
        servers = [first]
        for i in range(1, SERVERS):
            server = start_serve(f"pg-server-{i}", env, folder, "--no-worker")
            procs.append(server)
            servers.append(server)
        workers = []
        # Each worker times its erasure passes (erasure_timing.py) into a file of its own.
        erasure_logs = [folder / f"pg-worker-{i}-erasure-passes.txt" for i in range(WORKERS)]
        for i in range(WORKERS):
            worker = start_worker(env, folder, f"pg-worker-{i}", erasure_log=erasure_logs[i])
            procs.append(worker)
            workers.append(worker)
        for server in servers[1:]:
            server.wait_ready("/healthz")
        for worker in workers:
            worker.wait_worker(READY_TIMEOUT_S)
        cluster = _Cluster(servers)
        hosts = cluster.hosts

        async def create(pools: list[list[str]]) -> float:
            return await cluster.preload([i for pool in pools for i in pool], user_create)

        # Users for the two delete rows, one pool each, sized as on SQLite.
        soft_ids, hard_ids = await fill_pools(
            plan, "users", ["pg-soft", "pg-hard"], create, indent="  ", say=say
        )

        rng = random.Random(plan.seed)
        get_ids = soft_ids + hard_ids
        rng.shuffle(get_ids)
        rng.shuffle(soft_ids)
        rng.shuffle(hard_ids)
        # Each server cycles through every user, starting at its own offset.
        gets: list[RequestSource] = []
        for k, host in enumerate(hosts):
            offset = k * len(get_ids) // len(hosts)
            order = get_ids[offset:] + get_ids[:offset]
            gets.append(cycling([user_get(host, i) for i in order]))

        def creating_on(k: int, host: str) -> RequestSource:
            return creating(lambda i: user_create(host, i), f"pg-new-{k}")

        if plan.warmup > 0:
            say(f"  warming up ({plan.warmup:g} s) ...")
            await cluster.load(gets, plan.warmup)

        d = plan.duration
        say(
            f"PostgreSQL: measuring ({d:g} s per scenario, {CONNECTIONS} connections, "
            f"{CONNECTIONS_PER_SERVER} per server) ..."
        )
        rows = [ceiling]

        def record(
            scenario: str,
            request: str,
            result: LoadResult,
            note: str | None,
            *,
            connections: int = CONNECTIONS,
            check: BodyCheck | None = None,
        ) -> None:
            row = Row.from_result(
                scenario,
                request,
                result,
                d,
                ceiling,
                connections=connections,
                note=note,
                check=check,
            )
            rows.append(row)
            say(f"  {row.progress_line()}")

        record(
            "pg gainsight create user",
            "POST /v1/users",
            await cluster.load([creating_on(k, h) for k, h in enumerate(hosts)], d),
            (
                f"pg rows: {SERVERS} `serve --demo --no-worker` processes and {WORKERS} "
                f"`worker` processes on one PostgreSQL database, {CONNECTIONS_PER_SERVER} "
                "connections to each server; ratio = requests/s over the ceiling row"
            ),
        )
        record("pg gainsight get user", "GET /v1/users/{id}", await cluster.load(gets, d), None)
        record(
            "pg gainsight soft delete",
            "DELETE /v1/users/{id}",
            await cluster.load(_shared_once_each(soft_ids, hosts, user_soft_delete), d),
            None,
        )
        record(
            "pg gainsight hard delete",
            "DELETE /v1/users/{id}?hardDelete=true",
            await cluster.load(_shared_once_each(hard_ids, hosts, user_hard_delete), d),
            None,
        )
        check, hook = upsert_check(BULK_USERS)

        def bulk_on(k: int, host: str) -> RequestSource:
            return creating_many(lambda ids: insider_upsert(host, ids), f"pg-bulk-{k}", BULK_USERS)

        bulk = [bulk_on(k, h) for k, h in enumerate(hosts)]
        record(
            PG_BULK_ROW,
            "POST /api/user/v1/upsert",
            await cluster.load(bulk, d, connections=BULK_CONNECTIONS, on_response=hook),
            (
                f"{BULK_CONNECTIONS} connections to each server, {BULK_USERS} new users (uuid, "
                "email, one event) per request; the figure is users/s"
            ),
            connections=BULK_CONNECTIONS * SERVERS,
            check=check,
        )
        cluster.check_alive(workers)
        # The purge rate on PostgreSQL: people with a long history, hard-deleted once the
        # queue is empty, purged by the two workers.
        left = await wait_jobs(url, 600)
        if left:
            say(f"  {left} purge jobs still queued or running; skipping the purge rate")
            return rows
        say(f"PostgreSQL: purge of {HEAVY_PEOPLE} people with {HEAVY_EVENTS:,} events each ...")
        heavy, written = await asyncio.to_thread(write_heavy_people, url, env[SECRET_ENV].encode())
        # The passes of these purges only (the queue was empty): from the deletes on.
        heavy_from_ms = int(time.time() * 1000)
        deletes = [user_hard_delete(hosts[0], uuid) for uuid in heavy]
        result = await run_load(HOST, servers[0].port, once_each(deletes), connections=1)
        if result.non_2xx or result.errors:
            raise RuntimeError(f"heavy hard deletes failed: {result.status_counts}")
        if await wait_jobs(url, 900):
            raise RuntimeError("the heavy purges did not finish within 900 s")
        purged, seconds = purge_figures(url)
        if purged != written:
            raise RuntimeError(f"the purges removed {purged} event rows of {written}")
        rate = purged / seconds if seconds > 0 else 0.0
        passes = read_passes(erasure_logs, since_ms=heavy_from_ms)
        say(
            f"  purge + erasure: {purged:,} event rows in {seconds:.2f} s ({rate:,.0f} rows/s); "
            f"{passes.done} erasure passes took {passes.seconds:.2f} s (both workers)"
        )
        if facts is not None:
            facts["pg_purge_event_rows"] = purged
            facts["pg_purge_seconds"] = seconds
            facts["pg_purge_rows_per_s"] = rate
            facts["pg_erasure_passes"] = passes.done
            facts["pg_erasure_busy_passes"] = passes.busy
            facts["pg_erasure_seconds"] = passes.seconds
            facts["pg_erasure_ms_mean"] = passes.mean_ms
            facts["pg_erasure_ms_max"] = passes.max_ms
        return rows
    finally:
        for proc in reversed(procs):
            proc.stop()
        try:
            drop_database(url)
        except psycopg.Error as exc:
            say(f"PostgreSQL: could not drop database {name}: {exc}")
