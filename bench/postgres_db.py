"""The PostgreSQL database the benchmark owns: made afresh for a run and dropped after it, the
storage ceiling measured on it, and its deletion jobs waited for."""

from __future__ import annotations

import asyncio
import time

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from loadgen import LoadResult

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/obliviate_bench"
# The database is dropped WITH (FORCE) at the start and at the end: only names with this in
# them are accepted, so a mistyped URL cannot take a real database (or `test`) with it.
NAME_GUARD = "bench"
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


def recreate_database(url: str) -> None:
    name = sql.Identifier(database_name(url))
    try:
        conn = psycopg.connect(_maintenance_conninfo(url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(f"cannot connect to PostgreSQL for {url!r}: {exc}") from exc
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(url: str) -> None:
    name = sql.Identifier(database_name(url))
    with psycopg.connect(_maintenance_conninfo(url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def storage_ceiling(url: str, duration: float, warmup: float) -> LoadResult:
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


async def wait_jobs(url: str, timeout: float) -> int:
    """Wait (up to ``timeout`` seconds) until no job is queued or running; how many still are."""
    deadline = time.monotonic() + timeout
    left = _active_jobs(url)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        left = _active_jobs(url)
    return left
