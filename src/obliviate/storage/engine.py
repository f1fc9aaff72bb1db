"""Engines for SQLite (WAL, fsync on every commit) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from obliviate.storage.prepared import execute_sql

WRITE_FLAG = "obliviate_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": 30},
            # orjson reads and writes the JSON columns (profile attributes on every read and
            # every write) in about a third of the time of the json module: a tenth of a
            # soft delete's time in the group committer. Every value stored came in through
            # orjson (request bodies, bulk files), and what json.dumps wrote before reads back.
            json_serializer=_json_text,
            json_deserializer=orjson.loads,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


# One writer at a time per SQLite file and process: handing the write lock over in-process is
# immediate, where SQLite's busy handler polls with sleeps of up to 100 ms (long tail latency).
_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


def writer_lock(engine: Engine) -> threading.Lock | None:
    path = sqlite_path(str(engine.url))
    if path is None:
        return None
    key = str(path.resolve())
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(key, threading.Lock())


def _enter_wal(cursor: Any) -> None:
    """``journal_mode=WAL``. On a new file, connections opening it at once race to switch it,
    and the losers get SQLITE_BUSY at once, without the busy handler: try again, briefly."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN can be IMMEDIATE for writers.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        _enter_wal(cursor)
        # FULL: a commit is on disk (WAL fsync) before it returns, so a 2xx survives power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Freed content is overwritten with zeros, in the main file and in the WAL frames
        # that carry it, instead of lingering in free pages: asked for, never left to how
        # the library happens to be built.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the lock up front: a deferred transaction that upgrades later can fail
        # with SQLITE_BUSY without waiting, which busy_timeout does not cover.
        # On the DBAPI cursor: through exec_driver_sql this BEGIN cost about a tenth of a GET.
        write = conn.info.get(WRITE_FLAG, True)
        execute_sql(conn, "BEGIN IMMEDIATE" if write else "BEGIN")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextlib.contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose transactions are plain reads (no write lock taken on SQLite)."""
    with engine.connect() as conn:
        conn.info[WRITE_FLAG] = False
        try:
            yield conn
        finally:
            conn.info[WRITE_FLAG] = True
