"""The PostgreSQL table: the Gainsight user rows on PostgreSQL, against the storage ceiling.

Two ``obliviate serve --demo --no-worker`` processes and two ``obliviate worker`` processes
share a freshly created database. The rows run with 64 connections, 32 to each server, and
their ratio is over a single psycopg connection running ``INSERT ... ON CONFLICT`` in
autocommit, one statement per commit, on the same PostgreSQL server (the storage ceiling).
The database is dropped and created again at the start and dropped at the end.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from erasure_timing import read_passes
from loadgen import LoadResult, RequestSource, build_request, run_load
from report import Row
from sealed import UUID, Sealer
from servers import HOST, Server, obliviate_env, start_serve, start_worker
from sources import creating, cycling, once_each

if TYPE_CHECKING:
    from scenarios import Plan

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/obliviate_bench"
SERVERS = 2
WORKERS = 2
CONNECTIONS_PER_SERVER = 32
CONNECTIONS = SERVERS * CONNECTIONS_PER_SERVER
# The database is dropped WITH (FORCE) at the start and at the end: only names with this in
# them are accepted, so a mistyped URL cannot take a real database (or `test`) with it.
NAME_GUARD = "bench"
READY_TIMEOUT_S = 60.0
CEILING_ROW = "pg INSERT ... ON CONFLICT loop"
CEILING_TABLE = "bench_ceiling"
# Keys cycle over this many, so after the first round every statement takes the conflict
# (update) path, on a table that stays small.
CEILING_KEYS = 1000
CEILING_SQL = (
    f"INSERT INTO {CEILING_TABLE} (k, v) VALUES (%s, %s) "
    "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
)
ACTIVE_JOBS_SQL = "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server cannot be reached (the caller may skip the table)."""


def database_name(url: str) -> str:
    """The database ``url`` names; refused unless the name contains NAME_GUARD."""
    name = conninfo_to_dict(url).get("dbname")
    if not isinstance(name, str) or NAME_GUARD not in name:
        raise ValueError(
            f"refusing PostgreSQL URL {url!r}: the benchmark drops and recreates its database, "
            f"so the database name must contain {NAME_GUARD!r}"
        )
    return name


def _maintenance_conninfo(url: str) -> str:
    return make_conninfo(url, dbname="postgres")


def _recreate_database(url: str) -> None:
    name = sql.Identifier(database_name(url))
    try:
        conn = psycopg.connect(_maintenance_conninfo(url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(f"cannot connect to PostgreSQL for {url!r}: {exc}") from exc
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _drop_database(url: str) -> None:
    name = sql.Identifier(database_name(url))
    with psycopg.connect(_maintenance_conninfo(url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


SECRET_ENV = "OBLIVIATE_SECRET_KEY"


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


def _ceiling(url: str, duration: float, warmup: float) -> LoadResult:
    """``INSERT ... ON CONFLICT`` back to back on one autocommit connection (one statement per
    commit) for ``duration`` seconds, after ``warmup`` seconds not counted."""
    result = LoadResult()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {CEILING_TABLE} (k bigint PRIMARY KEY, v bigint NOT NULL)")
        cur = conn.cursor()
        clock = time.perf_counter_ns
        i = 0
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            cur.execute(CEILING_SQL, (i % CEILING_KEYS, i))
            i += 1
        latencies = result.latencies_ns
        started = time.perf_counter()
        end = started + duration
        while time.perf_counter() < end:
            t0 = clock()
            cur.execute(CEILING_SQL, (i % CEILING_KEYS, i))
            latencies.append(clock() - t0)
            i += 1
        result.elapsed = time.perf_counter() - started
    result.requests = len(result.latencies_ns)
    return result


def _active_jobs(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(ACTIVE_JOBS_SQL).fetchone()
    return 0 if row is None else int(row[0])


class _Cluster:
    """The servers under load; every scenario runs on all of them at once."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.hosts = [f"{HOST}:{s.port}" for s in servers]

    async def load(self, sources: list[RequestSource], duration: float | None) -> LoadResult:
        runs = [
            run_load(
                HOST, server.port, source, connections=CONNECTIONS_PER_SERVER, duration=duration
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


HEAVY_PEOPLE = 5
HEAVY_EVENTS = 100_000
HEAVY_FIRST_ID = 1_000_000_000


def _write_heavy_people(url: str, secret: bytes) -> tuple[list[str], int]:
    """HEAVY_PEOPLE people with HEAVY_EVENTS events each, written with COPY, each with a key
    of their own and their values sealed under it, as the server writes them (sealed.py);
    their uuids."""
    # Imported here, not at the top: scenarios imports this module.
    from bulk import ATTRIBUTES, EVENT_BODY

    uuids = [f"pg-heavy-{n:04d}" for n in range(HEAVY_PEOPLE)]
    now = int(time.time() * 1000)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT tenant_id FROM tenants WHERE name = 'demo'").fetchone()
        assert row is not None
        tenant = str(row[0])
        seal = Sealer(url, secret, tenant)
        email_hash = seal.email_hash(ATTRIBUTES)
        ids = [HEAVY_FIRST_ID + n for n in range(HEAVY_PEOPLE)]
        wrapped = [seal.new_key(pid) for pid in ids]
        people = [seal.person(pid, w) for pid, w in zip(ids, wrapped, strict=True)]
        cur = conn.cursor()
        with cur.copy(
            "COPY erasure_keys (tenant_id, key_id, holder_id, wrapped, created_at) FROM STDIN"
        ) as copy:
            for pid, w in zip(ids, wrapped, strict=True):
                copy.write_row((tenant, pid, pid, w, now))
        with cur.copy(
            "COPY profiles (tenant_id, profile_id, state, attributes, created_at, updated_at, "
            "email_hash) FROM STDIN"
        ) as copy:
            for pid, person in zip(ids, people, strict=True):
                copy.write_row(
                    (tenant, pid, "active", person.seal_json(ATTRIBUTES), now, now, email_hash)
                )
        with cur.copy(
            "COPY identifiers (tenant_id, id_type, value_hash, sealed_value, profile_id, "
            "created_at) FROM STDIN"
        ) as copy:
            for pid, person, uuid in zip(ids, people, uuids, strict=True):
                copy.write_row(
                    (tenant, UUID, seal.lookup_hash(UUID, uuid), person.seal_text(uuid), pid, now)
                )
        with cur.copy(
            "COPY events (tenant_id, event_id, profile_id, name, occurred_at, sealed_body) "
            "FROM STDIN"
        ) as copy:
            event_id = HEAVY_FIRST_ID
            for pid, person in zip(ids, people, strict=True):
                for k in range(HEAVY_EVENTS):
                    copy.write_row(
                        (tenant, event_id, pid, "bench_event", now - k, person.seal(EVENT_BODY))
                    )
                    event_id += 1
    return uuids, HEAVY_PEOPLE * HEAVY_EVENTS


def _purge_figures(url: str) -> tuple[int, float]:
    """Event rows the heavy people's purges removed, and seconds from the first of those jobs
    being queued to the last finishing (from the jobs' own timestamps): purge and erasure
    pass, as a job completes only once its pass has run (each must say ``erasure`` done)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT created_at, finished_at, (result->'counts'->>'events')::bigint, state, "
            "result->'erasure'->>'state' FROM jobs "
            "WHERE kind = 'purge_profile' AND (payload->>'subject_id')::bigint "
            "BETWEEN %s AND %s",
            (HEAVY_FIRST_ID, HEAVY_FIRST_ID + HEAVY_PEOPLE - 1),
        ).fetchall()
    if len(rows) != HEAVY_PEOPLE or any(r[1] is None for r in rows):
        raise RuntimeError(f"{len(rows)} heavy purge jobs found on PostgreSQL, not all finished")
    unerased = sum(1 for r in rows if r[3] != "completed" or r[4] != "done")
    if unerased:
        raise RuntimeError(f"{unerased} heavy purge jobs ended without a completed erasure")
    purged = sum(int(r[2] or 0) for r in rows)
    return purged, (max(r[1] for r in rows) - min(r[0] for r in rows)) / 1000


async def _wait_jobs(url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    left = _active_jobs(url)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        left = _active_jobs(url)
    return left


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
    # Imported here, not at the top: scenarios imports this module.
    from scenarios import (
        API_KEY_HEADER,
        DELETE_HEADERS,
        PRELOAD_FACTOR,
        PRELOAD_FIRST_BATCH,
        user_create,
    )

    name = database_name(url)
    folder = workdir / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    say(f"PostgreSQL: recreating database {name} ...")
    _recreate_database(url)
    procs: list[Server] = []
    try:
        say(
            f"PostgreSQL: storage ceiling, one connection, {plan.duration:g} s "
            f"(after {plan.warmup:g} s warm-up) ..."
        )
        ceiling_result = await asyncio.to_thread(_ceiling, url, plan.duration, plan.warmup)
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

        def create(host: str, identify_id: str) -> bytes:
            return user_create(host, identify_id)

        # Users for the two delete rows, one pool each: a first batch measures the create
        # rate; the pools are then topped up to PRELOAD_FACTOR x that rate x the duration.
        started = time.perf_counter()
        first_batch = plan.preload if plan.preload is not None else PRELOAD_FIRST_BATCH
        prefixes = ["pg-soft", "pg-hard"]

        def ids(lo: int, hi: int) -> list[list[str]]:
            return [[f"{p}-{i:08d}" for i in range(lo, hi)] for p in prefixes]

        pools = ids(0, first_batch)
        say(f"  preloading users over HTTP: {len(prefixes) * first_batch} ...")
        rate = await cluster.preload([i for pool in pools for i in pool], create)
        if plan.preload is None:
            target = max(first_batch, math.ceil(PRELOAD_FACTOR * rate * plan.duration))
            more = ids(first_batch, target)
            if target > first_batch:
                say(
                    f"  {rate:.0f} users/s; topping up with "
                    f"{len(prefixes) * (target - first_batch)} ..."
                )
                await cluster.preload([i for pool in more for i in pool], create)
            pools = [a + b for a, b in zip(pools, more, strict=True)]
        soft_ids, hard_ids = pools
        say(f"  {len(soft_ids) + len(hard_ids)} users in {time.perf_counter() - started:.1f} s")

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
            gets.append(
                cycling(
                    [
                        build_request("GET", f"/v1/users/{i}", host, headers=API_KEY_HEADER)
                        for i in order
                    ]
                )
            )

        def soft(host: str, i: str) -> bytes:
            return build_request("DELETE", f"/v1/users/{i}", host, headers=DELETE_HEADERS)

        def hard(host: str, i: str) -> bytes:
            return build_request(
                "DELETE", f"/v1/users/{i}?hardDelete=true", host, headers=DELETE_HEADERS
            )

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

        def record(scenario: str, request: str, result: LoadResult, note: str | None) -> None:
            row = Row.from_result(
                scenario, request, result, d, ceiling, connections=CONNECTIONS, note=note
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
            await cluster.load(_shared_once_each(soft_ids, hosts, soft), d),
            None,
        )
        record(
            "pg gainsight hard delete",
            "DELETE /v1/users/{id}?hardDelete=true",
            await cluster.load(_shared_once_each(hard_ids, hosts, hard), d),
            None,
        )
        cluster.check_alive(workers)
        # The purge rate on PostgreSQL: people with a long history, hard-deleted once the
        # queue is empty, purged by the two workers.
        left = await _wait_jobs(url, 600)
        if left:
            say(f"  {left} purge jobs still queued or running; skipping the purge rate")
            return rows
        say(f"PostgreSQL: purge of {HEAVY_PEOPLE} people with {HEAVY_EVENTS:,} events each ...")
        heavy, written = await asyncio.to_thread(_write_heavy_people, url, env[SECRET_ENV].encode())
        # The passes of these purges only (the queue was empty): from the deletes on.
        heavy_from_ms = int(time.time() * 1000)
        deletes = [hard(hosts[0], uuid) for uuid in heavy]
        result = await run_load(HOST, servers[0].port, once_each(deletes), connections=1)
        if result.non_2xx or result.errors:
            raise RuntimeError(f"heavy hard deletes failed: {result.status_counts}")
        if await _wait_jobs(url, 900):
            raise RuntimeError("the heavy purges did not finish within 900 s")
        purged, seconds = _purge_figures(url)
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
            _drop_database(url)
        except psycopg.Error as exc:
            say(f"PostgreSQL: could not drop database {name}: {exc}")
