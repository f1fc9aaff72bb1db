"""With real processes: after a person is deleted on any surface and their erasure is ``done``, no
byte of them is left in the database files, and their encryption key is gone.

A victim and a control person are planted through each of the four surfaces (tests/system/
markers.py), every value they hold marked with random text no one else has, plus one more
native victim deleted by a batch. Each victim is deleted through its own surface's call. Once
``/metrics`` shows no erasure pending, the raw files are scanned: the SQLite file, ``-wal`` and
``-shm`` (while the server runs and after a clean stop), or on PostgreSQL every heap, TOAST and
index file of the schema, read with ``pg_read_binary_file`` after a CHECKPOINT.

The victims' keys are told apart without knowing how keys map to people: ``erasure_keys`` is
read before the deletions (A) and after them (C), so A - C are the keys that went with them.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
import urllib.request
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Protocol

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg.rows import TupleRow
from sqlalchemy.engine import make_url

from tests.support.databases import fresh_postgres
from tests.support.servers import SYSTEM_KEY, Server, create_tenant, wait_for
from tests.system.byte_scan import (
    Needle,
    describe,
    found,
    key_needles,
    marker_needles,
    scan,
    sqlite_files,
)
from tests.system.markers import (
    Api,
    Credentials,
    Deletion,
    Person,
    Role,
    Surface,
    delete,
    is_gone,
    plant_everyone,
    values_missing_from_reads,
)

pytestmark = pytest.mark.system

PENDING = "obliviate_erasure_pending"
LAG = "obliviate_erasure_lag_seconds"
DONE_WITHIN_S = 30.0
TERMINAL = frozenset({"completed", "partial", "failed", "cancelled"})


class Store(Protocol):
    """What the scan needs of a backend: the wrapped keys it holds and its files' bytes."""

    def wrapped_keys(self) -> set[bytes]: ...
    def files(self) -> dict[str, bytes]: ...


def _as_bytes(value: object) -> bytes:
    # A BLOB or bytea comes back as bytes (memoryview from some drivers); a key kept as text
    # (base64, say) is on disk as its UTF-8 bytes.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    assert isinstance(value, str), f"erasure_keys.wrapped holds {type(value).__name__}"
    return value.encode()


class SqliteStore:
    def __init__(self, db: Path) -> None:
        self.db = db

    def wrapped_keys(self) -> set[bytes]:
        # Read-only and closed at once: the test must not hold a connection that could keep
        # the server's WAL from being truncated, nor checkpoint on its own when it closes.
        uri = f"file:{self.db}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            rows = conn.execute("SELECT wrapped FROM erasure_keys").fetchall()
        return {_as_bytes(row[0]) for row in rows}

    def files(self) -> dict[str, bytes]:
        return sqlite_files(self.db)


# Every table of the schema, its TOAST table, and every index of both. Only main forks: the
# free space and visibility maps hold no tuple data. Each person's rows stay far under the
# ~2 kB at which PostgreSQL compresses a value, so a plaintext marker would be there as is.
_RELATIONS = """
WITH tables AS (
    SELECT c.oid, c.relname::text AS name, c.reltoastrelid
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
), heaps AS (
    SELECT oid, name FROM tables
    UNION ALL
    SELECT reltoastrelid, 'TOAST of ' || name FROM tables WHERE reltoastrelid <> 0
)
SELECT oid, name FROM heaps
UNION ALL
SELECT i.indexrelid, 'index ' || ic.relname::text || ' of ' || h.name
FROM pg_index i JOIN heaps h ON h.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
"""
# Read in pieces: one bytea is at most 1 GB, the size of a whole segment file. A multiple of
# the page size, so no tuple is cut in two between pieces.
_CHUNK = 64 * 1024 * 1024


class PostgresStore:
    def __init__(self, url: str) -> None:
        self.conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )

    def _connect(self) -> psycopg.Connection[TupleRow]:
        return psycopg.connect(self.conninfo, autocommit=True)

    def check_superuser(self) -> None:
        with self._connect() as conn:
            row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            superuser = row.fetchone()
        assert superuser == (True,), "CHECKPOINT and pg_read_binary_file need a superuser"

    def wrapped_keys(self) -> set[bytes]:
        with self._connect() as conn:
            rows = conn.execute("SELECT wrapped FROM erasure_keys").fetchall()
        return {_as_bytes(row[0]) for row in rows}

    def files(self) -> dict[str, bytes]:
        with self._connect() as conn:
            # Pages changed in shared buffers reach the files only at a checkpoint.
            conn.execute("CHECKPOINT")
            relations = conn.execute(_RELATIONS).fetchall()
            return {f"{name} ({oid})": self._relation(conn, int(oid)) for oid, name in relations}

    @staticmethod
    def _relation(conn: psycopg.Connection[TupleRow], oid: int) -> bytes:
        """The main fork of one relation: every segment file (``<path>``, ``<path>.1``, ...),
        each read to its end."""
        row = conn.execute("SELECT pg_relation_filepath(%s::oid)", (oid,)).fetchone()
        assert row is not None, oid
        assert isinstance(row[0], str), oid
        pieces: list[bytes] = []
        for segment in count():
            path = row[0] if segment == 0 else f"{row[0]}.{segment}"
            for offset in count(0, _CHUNK):
                piece = conn.execute(
                    "SELECT pg_read_binary_file(%s, %s::bigint, %s::bigint, true)",
                    (path, offset, _CHUNK),
                ).fetchone()
                data = None if piece is None else piece[0]
                if data is None:  # no such file: the previous segment was the last
                    assert segment > 0, f"no file {path} for relation {oid}"
                    return b"".join(pieces)
                pieces.append(_as_bytes(data))
                if len(pieces[-1]) < _CHUNK:
                    break
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class Erased:
    """What the scans look for once the victims' erasure is done."""

    people: tuple[Person, ...]
    victim_keys: frozenset[bytes]
    control_keys: frozenset[bytes]

    def of(self, role: Role) -> list[Person]:
        return [p for p in self.people if p.role is role]


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "OBLIVIATE_DATABASE_URL": url,
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_DATA_DIR": str(tmp_path / "data"),
        # Erase as soon as each purge is done, and purge at once, so the test waits on the
        # work itself rather than on a delay.
        "OBLIVIATE_ERASURE_DELAY": "0",
        "OBLIVIATE_PURGE_INTERVAL": "0.2",
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        # Five of nine people deleted in a minute is a burst the guard would refuse.
        "OBLIVIATE_MASS_DELETE_FLOOR": "1000000",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }


def _erasure_gauges(server: Server) -> dict[str, float]:
    """The erasure gauges of ``/metrics`` (summed over labels, if any); absent ones left out."""
    with urllib.request.urlopen(server.base + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    gauges: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (PENDING, LAG):
                gauges[sample.name] = gauges.get(sample.name, 0.0) + sample.value
    return gauges


def _assert_done(erasure: object, after_ms: int, what: str) -> None:
    assert isinstance(erasure, dict), f"{what}: no erasure record: {erasure!r}"
    assert erasure.get("state") == "done", f"{what}: {erasure}"
    at = erasure.get("at")
    now = int(time.time() * 1000)
    assert isinstance(at, int), f"{what}: erasure at {at!r}"
    assert after_ms <= at <= now, f"{what}: erasure at {at!r}"


def _lines(items: Iterable[str]) -> str:
    return "\n  ".join(sorted(items))


def _unseen(files: Mapping[str, bytes], needles: list[Needle]) -> set[str]:
    return {n.what for n in needles} - found(files, needles)


def _assert_scan(files: Mapping[str, bytes], erased: Erased, when: str) -> None:
    assert files, f"{when}: no database file to scan"
    victims, controls = erased.of(Role.VICTIM), erased.of(Role.CONTROL)
    # (a) Nothing a victim sent is in any file, in any encoding tried.
    leaked = scan(files, marker_needles(victims))
    assert not leaked, f"{when}: a deleted person's values are in the files:\n{describe(leaked)}"
    # (b) Nor are their keys: with the key, sealed copies elsewhere (a WAL archive, a
    # backup) could be opened.
    kept = scan(files, key_needles("victim", erased.victim_keys))
    assert not kept, f"{when}: a deleted person's key is in the files:\n{describe(kept)}"
    # (c) The control that keeps this test able to fail: every key still held IS found, so
    # the scan reads the files the data lives in and would see a key left behind. (Were it
    # reading the wrong files, (a), (b) and (d) would pass for nothing.)
    missing = _unseen(files, key_needles("control", erased.control_keys))
    assert not missing, f"{when}: the scan misses keys still held:\n  {_lines(missing)}"
    # (d) A live person's values are sealed at rest too: their plaintext is nowhere either.
    # Only (c) shows this is not passing for want of looking.
    plain = scan(files, marker_needles(controls))
    assert not plain, f"{when}: a live person's values are in plaintext:\n{describe(plain)}"


def _plant_and_check_sealed(api: Api, store: Store) -> tuple[list[Person], set[bytes]]:
    """Everyone planted and read back whole, nobody's plaintext in the files, and every key
    visible to the scan: the people and the keys held before any deletion (A)."""
    people = plant_everyone(api)
    # The 404s later mean deletion, not values that never went in.
    unread = [m for p in people for m in values_missing_from_reads(api, p)]
    assert not unread, f"planted values that no read answers:\n  {_lines(unread)}"
    before = store.files()
    plain = scan(before, marker_needles(people))
    assert not plain, f"values are in plaintext at rest:\n{describe(plain)}"
    keys = store.wrapped_keys()
    profiles = [p for p in people if p.uuid is not None]
    assert len(keys) >= len(profiles), f"{len(keys)} keys for {len(profiles)} profiles"
    # What (b) will look for after the deletions is seen here, before them.
    unseen = _unseen(before, key_needles("any", keys))
    assert not unseen, f"keys the scan cannot see before the deletions:\n  {_lines(unseen)}"
    return people, keys


def _delete_and_wait(server: Server, api: Api, victims: list[Person]) -> dict[Deletion, str]:
    """Each victim deleted through its own surface, until no erasure is pending, every victim
    reads as gone everywhere and the batch has ended; the native job ids."""
    job_ids = {p.deletion: job for p in victims if (job := delete(api, p)) is not None}
    gauges = _erasure_gauges(server)
    assert PENDING in gauges, f"/metrics lacks the erasure gauges: {gauges}"
    assert LAG in gauges, f"/metrics lacks the erasure gauges: {gauges}"
    batch = f"/api/v1/deletions/{job_ids[Deletion.NATIVE_BATCH]}"

    def settled() -> bool:
        # The batch is not a purge: the gauge may reach 0 (its purges erased) a moment before
        # the batch comes back to close itself.
        return (
            _erasure_gauges(server).get(PENDING) == 0
            and all(is_gone(api, p) for p in victims)
            and api.ok(Surface.NATIVE, "GET", batch)["state"] in TERMINAL
        )

    wait_for(settled, "every erasure done, every victim gone, the batch ended", DONE_WITHIN_S)
    assert _erasure_gauges(server)[LAG] >= 0
    return job_ids


def _assert_erasure_recorded(
    api: Api, victims: list[Person], job_ids: dict[Deletion, str], asked_at: int
) -> None:
    """Every deletion's receipt records its erasure done, and so does the status of each job
    a native deletion answered with (the purge of DELETE ?mode=hard, and the batch)."""
    receipts = api.ok(Surface.NATIVE, "GET", "/api/v1/receipts?since=0&limit=1000")["receipts"]
    assert len(receipts) >= len(victims), receipts
    assert job_ids[Deletion.NATIVE_HARD] in {r["job_id"] for r in receipts}, receipts
    for listed in receipts:
        receipt = api.ok(Surface.NATIVE, "GET", f"/api/v1/receipts/{listed['receipt_id']}")
        _assert_done(receipt.get("erasure"), asked_at, f"receipt {listed['receipt_id']}")
    for deletion, job_id in job_ids.items():
        job = api.ok(Surface.NATIVE, "GET", f"/api/v1/deletions/{job_id}")
        assert job["state"] == "completed", (deletion, job)
        _assert_done(job.get("erasure"), asked_at, f"job {job_id} of {deletion.value}")


def _plant_delete_and_wait(server: Server, env: dict[str, str], store: Store) -> Erased:
    creds = Credentials.from_cli(create_tenant(env, f"scan{secrets.token_hex(4)}"))
    api = Api(server, creds)
    people, keys_before = _plant_and_check_sealed(api, store)  # A
    victims = [p for p in people if p.role is Role.VICTIM]
    controls = [p for p in people if p.role is Role.CONTROL]

    asked_at = int(time.time() * 1000)
    job_ids = _delete_and_wait(server, api, victims)
    _assert_erasure_recorded(api, victims, job_ids, asked_at)

    keys_after = store.wrapped_keys()  # C
    assert keys_after <= keys_before, "keys held now that were not held before the deletions"
    victim_keys = keys_before - keys_after
    # A key per profile at least (a device of no profile may have one too).
    assert len(victim_keys) >= len([p for p in victims if p.uuid is not None]), victim_keys
    assert len(keys_after) >= len([p for p in controls if p.uuid is not None]), keys_after

    # The controls are untouched: every value they hold still reads back exactly as sent.
    changed = [m for p in controls for m in values_missing_from_reads(api, p)]
    assert not changed, f"a control person's values no longer read back:\n  {_lines(changed)}"
    return Erased(tuple(people), frozenset(victim_keys), frozenset(keys_after))


def test_no_byte_of_a_person_deleted_on_any_surface_is_left_in_the_sqlite_files(
    tmp_path: Path,
) -> None:
    db = tmp_path / "db" / "obliviate.db"
    env = _env(f"sqlite:///{db}", tmp_path)
    store = SqliteStore(db)
    server = Server(env, tmp_path / "server.log")
    try:
        erased = _plant_delete_and_wait(server, env, store)
        _assert_scan(store.files(), erased, "while the server runs")
    finally:
        server.stop()
    # A clean stop may checkpoint the WAL into the main file: what it moves must be clean too.
    _assert_scan(store.files(), erased, "after a clean stop")


@pytest.mark.postgres
def test_no_byte_of_a_person_deleted_on_any_surface_is_left_in_the_postgres_files(
    tmp_path: Path, postgres_url: str
) -> None:
    # A database of its own: the scan reads every relation, and holds only this test's people.
    with fresh_postgres(postgres_url) as url:
        store = PostgresStore(url)
        store.check_superuser()
        env = _env(url, tmp_path)
        server = Server(env, tmp_path / "server.log")
        try:
            erased = _plant_delete_and_wait(server, env, store)
            _assert_scan(store.files(), erased, "after a CHECKPOINT")
        finally:
            server.stop()
