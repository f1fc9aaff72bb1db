"""Bulk data written straight into the server's SQLite file (much faster than over HTTP).

Rows are shaped exactly as the server writes them (see src/obliviate/storage/tables.py). Ids
are small integers, far below the time-based ids the server makes, so they never clash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

EVENT_PROPS = '{"plan":"pro","seats":5}'
EVENT_CONTEXT = '{"source":"bench"}'
CHUNK = 200_000


def connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=60, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=60000")
    # The loader's own transactions: durability does not matter for data the run makes.
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def finish(conn: sqlite3.Connection) -> None:
    """Fold the loader's write-ahead log into the database before the server writes again:
    otherwise the server's next commit pays for checkpointing all of it."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def tenant_id(db_path: Path, name: str = "demo") -> str:
    conn = connect(db_path)
    try:
        row = conn.execute("SELECT tenant_id FROM tenants WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    if row is None:
        raise RuntimeError(f"tenant {name!r} not found in {db_path}")
    return str(row[0])


def _in_chunks(conn: sqlite3.Connection, sql: str, rows: Iterator[tuple[object, ...]]) -> None:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
            batch.clear()
    if batch:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")


def add_people(
    db_path: Path,
    tenant: str,
    *,
    prefix: str,
    first_id: int,
    count: int,
    now_ms: int,
) -> list[str]:
    """``count`` active profiles with a uuid identifier ``{prefix}-{n:08d}``; their uuids."""
    uuids = [f"{prefix}-{n:08d}" for n in range(count)]
    conn = connect(db_path)
    try:
        attrs = '{"email":"bench@example.com","firstName":"Ada","propertyKeys":["AP-BENCH-1"]}'
        _in_chunks(
            conn,
            "INSERT INTO profiles (tenant_id, profile_id, state, attributes, created_at, "
            "updated_at) VALUES (?, ?, 'active', ?, ?, ?)",
            ((tenant, first_id + n, attrs, now_ms, now_ms) for n in range(count)),
        )
        _in_chunks(
            conn,
            "INSERT INTO identifiers (tenant_id, id_type, value, profile_id, created_at) "
            "VALUES (?, 'uuid', ?, ?, ?)",
            ((tenant, uuids[n], first_id + n, now_ms) for n in range(count)),
        )
    finally:
        finish(conn)
    return uuids


def add_events(
    db_path: Path,
    tenant: str,
    *,
    profile_ids: Iterator[int] | range,
    per_profile: int,
    first_event_id: int,
    now_ms: int,
) -> int:
    """``per_profile`` events for each profile id; returns the number of rows written."""
    conn = connect(db_path)
    written = 0

    def rows() -> Iterator[tuple[object, ...]]:
        nonlocal written
        event_id = first_event_id
        for pid in profile_ids:
            for k in range(per_profile):
                yield (tenant, event_id, pid, "bench_event", now_ms - k, EVENT_PROPS, EVENT_CONTEXT)
                event_id += 1
                written += 1

    try:
        _in_chunks(
            conn,
            "INSERT INTO events (tenant_id, event_id, profile_id, name, occurred_at, "
            "properties, context) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
    finally:
        finish(conn)
    return written


def profile_id_of(db_path: Path, tenant: str, uuid: str) -> int:
    conn = connect(db_path)
    try:
        row = conn.execute(
            "SELECT profile_id FROM identifiers WHERE tenant_id = ? AND id_type = 'uuid' "
            "AND value = ?",
            (tenant, uuid),
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        raise RuntimeError(f"no profile for {uuid}")
    return int(row[0])
