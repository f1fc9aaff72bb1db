"""Bulk data written straight into the server's SQLite file (much faster than over HTTP).

Rows are shaped exactly as the server writes them (see src/obliviate/storage/tables.py): each
person gets a key of their own in ``erasure_keys``, and their attributes, identifier values and
event bodies are sealed under it, identifiers found by keyed hash, with the server's own code
(sealed.py). Ids are small integers, far below the time-based ids the server makes, so they
never clash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson

from sealed import UUID, Sealer, sqlite_secret

EVENT_PROPS = {"plan": "pro", "seats": 5}
EVENT_CONTEXT = {"source": "bench"}
# What an event's ``sealed_body`` holds: the JSON array [properties, context].
EVENT_BODY = orjson.dumps([EVENT_PROPS, EVENT_CONTEXT])
ATTRIBUTES: dict[str, object] = {
    "email": "bench@example.com",
    "firstName": "Ada",
    "propertyKeys": ["AP-BENCH-1"],
}
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


def sealer(db_path: Path, tenant: str) -> Sealer:
    return Sealer(f"sqlite:///{db_path}", sqlite_secret(db_path), tenant)


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
    """``count`` active profiles with a uuid identifier ``{prefix}-{n:08d}``, each with a key
    of its own; their uuids."""
    uuids = [f"{prefix}-{n:08d}" for n in range(count)]
    seal = sealer(db_path, tenant)
    email_hash = seal.email_hash(ATTRIBUTES)
    keys: list[tuple[object, ...]] = []
    profiles: list[tuple[object, ...]] = []
    identifiers: list[tuple[object, ...]] = []
    for n, uuid in enumerate(uuids):
        pid = first_id + n
        wrapped = seal.new_key(pid)
        person = seal.person(pid, wrapped)
        keys.append((tenant, pid, pid, wrapped, now_ms))
        profiles.append((tenant, pid, person.seal_json(ATTRIBUTES), now_ms, now_ms, email_hash))
        identifiers.append(
            (tenant, UUID, seal.lookup_hash(UUID, uuid), person.seal_text(uuid), pid, now_ms)
        )
    conn = connect(db_path)
    try:
        _in_chunks(
            conn,
            "INSERT INTO erasure_keys (tenant_id, key_id, holder_id, wrapped, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            iter(keys),
        )
        _in_chunks(
            conn,
            "INSERT INTO profiles (tenant_id, profile_id, state, attributes, created_at, "
            "updated_at, email_hash) VALUES (?, ?, 'active', ?, ?, ?, ?)",
            iter(profiles),
        )
        _in_chunks(
            conn,
            "INSERT INTO identifiers (tenant_id, id_type, value_hash, sealed_value, "
            "profile_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            iter(identifiers),
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
    """``per_profile`` events for each profile id, sealed under its person's key (which
    ``add_people`` made); returns the number of rows written."""
    seal = sealer(db_path, tenant)
    conn = connect(db_path)
    written = 0

    def rows() -> Iterator[tuple[object, ...]]:
        nonlocal written
        event_id = first_event_id
        for pid in profile_ids:
            # Read between the loader's transactions (each batch is built before its BEGIN).
            key = conn.execute(
                "SELECT wrapped FROM erasure_keys WHERE tenant_id = ? AND key_id = ?",
                (tenant, pid),
            ).fetchone()
            if key is None:
                raise RuntimeError(f"profile {pid} has no key")
            person = seal.person(pid, bytes(key[0]))
            for k in range(per_profile):
                yield (tenant, event_id, pid, "bench_event", now_ms - k, person.seal(EVENT_BODY))
                event_id += 1
                written += 1

    try:
        _in_chunks(
            conn,
            "INSERT INTO events (tenant_id, event_id, profile_id, name, occurred_at, "
            "sealed_body) VALUES (?, ?, ?, ?, ?, ?)",
            rows(),
        )
    finally:
        finish(conn)
    return written


def profile_id_of(db_path: Path, tenant: str, uuid: str) -> int:
    conn = connect(db_path)
    try:
        row = conn.execute(
            "SELECT profile_id FROM identifiers WHERE tenant_id = ? AND id_type = ? "
            "AND value_hash = ?",
            (tenant, UUID, sealer(db_path, tenant).lookup_hash(UUID, uuid)),
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        raise RuntimeError(f"no profile for {uuid}")
    return int(row[0])
