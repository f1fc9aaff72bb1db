"""``obliviate backup`` and ``obliviate restore``: copying the database out and back.

SQLite: the online backup API (a consistent copy while the server runs), written beside the
target and renamed into place once fsynced, in rollback-journal mode so the copy is one file.
Restoring copies it back through the same API under an exclusive lock, which also proves that
no other process has the database open. PostgreSQL: ``pg_dump -Fc`` and ``pg_restore --clean``
in one transaction.

Each backup holds where the forget log stood when it began (the ``deployment`` row
``backup_forget_offset``): written and committed in the live database just before the copy
starts, so the copy holds it. Every entry before that offset was appended after its deletion
committed, hence before the copy began, and is already in the copy; a restore replays only
what follows. Entries appended between the row's commit and the copy's snapshot are replayed
although the copy has them: a replay is idempotent.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from sqlalchemy import Engine, delete, insert, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from obliviate.storage import tables as t
from obliviate.storage.engine import make_engine, normalise_url, sqlite_path, writer_lock
from obliviate.storage.forget_log import LogPosition

MARK = "backup_forget_offset"
_PG_TIMEOUT_S = 3600
_IN_USE_GRACE_S = 5.0


class BackupError(Exception):
    """A backup or restore could not be done; the message says why and what to do."""


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the forget-log position recorded in a backup ------------------------------------------


def _mark_fact(position: LogPosition) -> str:
    return orjson.dumps({"log_id": position.log_id, "offset": position.offset}).decode()


def _parse_mark(fact: str) -> LogPosition:
    try:
        raw = orjson.loads(fact)
        return LogPosition(log_id=str(raw["log_id"]), offset=int(raw["offset"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise BackupError("the backup's forget-log position is unreadable") from None


def write_mark(engine: Engine, position: LogPosition, *, now: int) -> None:
    """Record ``position`` in the database (replacing an earlier one), committed."""
    lock = writer_lock(engine)
    with lock if lock is not None else contextlib.nullcontext(), engine.begin() as conn:
        conn.execute(delete(t.deployment).where(t.deployment.c.name == MARK))
        conn.execute(
            insert(t.deployment).values(name=MARK, fact=_mark_fact(position), created_at=now)
        )


# --- dispatch ------------------------------------------------------------------------------


def _backend(database_url: str) -> tuple[Path | None, URL]:
    url = make_url(normalise_url(database_url))
    path = sqlite_path(str(url))
    if path is None and url.get_backend_name() != "postgresql":
        raise BackupError("backup and restore need a SQLite file or a PostgreSQL database")
    return path, url


def backup_database(database_url: str, target: Path, *, position: LogPosition, now: int) -> None:
    """Copy the live database to ``target`` (replaced atomically if it exists), recording
    ``position``, which must have been read from the forget log before this call."""
    path, url = _backend(database_url)
    if path is not None:
        if not path.exists():
            raise BackupError(f"no database at {path}")
        if target.resolve() in {Path(f"{path.resolve()}{s}") for s in ("", "-wal", "-shm")}:
            raise BackupError("the backup would replace the database itself")
    engine = make_engine(database_url)
    try:
        write_mark(engine, position, now=now)
    except IntegrityError:
        raise BackupError("another backup began at the same moment: take this one again") from None
    except DBAPIError as exc:
        raise BackupError(
            f"could not record the forget-log position in the database ({exc.orig}): is it "
            "reachable, and at the latest schema (obliviate migrate)?"
        ) from None
    finally:
        engine.dispose()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{target.name}.{secrets.token_hex(6)}.partial"
    # Created here first so the copy has the mode of a file holding person data.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if path is not None:
            _sqlite_backup(path, partial)
        else:
            _pg_dump(url, partial)
        _fsync_path(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_path(target.parent)


def peek_mark(database_url: str, source: Path) -> LogPosition | None:
    """The forget-log position recorded in a backup file, read without restoring it (None
    when the file was not made by ``obliviate backup``). Checks that it is a backup of this
    backend's kind."""
    path, url = _backend(database_url)
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    fact = _sqlite_peek(source) if path is not None else _pg_peek(url, source)
    return None if fact is None else _parse_mark(fact)


def restore_database(database_url: str, source: Path) -> None:
    """Replace the database with the backup. Refused while any other process has it open."""
    path, url = _backend(database_url)
    if path is not None:
        _sqlite_restore(source, path)
    else:
        _pg_restore(url, source)


# --- SQLite --------------------------------------------------------------------------------


def _sqlite_backup(live: Path, target: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(live, timeout=30)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        # All pages in one step: one read transaction on the source, so one snapshot.
        src.backup(dst)
        # One self-contained file: no -wal beside the copy to lose or forget.
        dst.execute("PRAGMA journal_mode=DELETE")


def _sqlite_readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _sqlite_peek(source: Path) -> str | None:
    try:
        with contextlib.closing(_sqlite_readonly(source)) as conn:
            if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{source} is a damaged SQLite database")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if t.deployment.name not in tables:
                raise BackupError(f"{source} is not an Obliviate database")
            row = conn.execute("SELECT fact FROM deployment WHERE name = ?", (MARK,)).fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite backup ({exc})") from None
    return None if row is None else str(row[0])


@contextlib.contextmanager
def _sole_connection(live: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the live database that no other may share until it closes.

    Leaving WAL mode needs every other connection closed, and the exclusive locking mode then
    keeps the lock taken by ``BEGIN EXCLUSIVE`` past the transaction: a server or worker
    still running, even idle, is refused here, and none can start while the restore runs."""
    live.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(live, timeout=0, isolation_level=None)
    try:
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            mode = None
        if mode != ("delete",):
            raise BackupError(
                f"the database {live} is in use: stop every obliviate process (server, worker) "
                "before restoring"
            )
        conn.execute("PRAGMA synchronous=FULL")
        yield conn
    finally:
        conn.close()


def _sqlite_restore(source: Path, live: Path) -> None:
    if live.exists() and source.resolve() == live.resolve():
        raise BackupError("the backup is the database itself")
    _sqlite_peek(source)
    with _sole_connection(live) as conn:
        with contextlib.closing(_sqlite_readonly(source)) as src:
            src.backup(conn)
        # The copy brings its own header; the server turns WAL on again when it opens it.
        conn.execute("PRAGMA journal_mode=DELETE")
        # Nothing else has the file open and it is out of WAL mode: a -wal or -shm left now
        # is stale (a crashed process's), and must not be applied over the restored pages.
        for suffix in ("-wal", "-shm"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
    _fsync_path(live)
    _fsync_path(live.parent)


# --- PostgreSQL ----------------------------------------------------------------------------


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq URL of a SQLAlchemy one, and the environment for its password (kept off the
    command line, where any user could read it in the process list)."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    tool = shutil.which(args[0])
    if tool is None:
        raise BackupError(f"{args[0]} not found: install the PostgreSQL client tools")
    done = subprocess.run(
        [tool, *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=_PG_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        # pg_dump and pg_restore name objects and connection problems, never row values.
        raise BackupError(f"{what} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _pg_dump(url: URL, target: Path) -> None:
    dsn, env = _libpq(url)
    _run(["pg_dump", "--format=custom", f"--file={target}", f"--dbname={dsn}"], env, "pg_dump")


def _pg_peek(url: URL, source: Path) -> str | None:
    _dsn, env = _libpq(url)
    script = _run(
        ["pg_restore", "--data-only", f"--table={t.deployment.name}", "--file=-", str(source)],
        env,
        "reading the backup",
    )
    lines = iter(script.splitlines())
    for line in lines:
        if line.startswith(f"COPY public.{t.deployment.name} ("):
            columns = [c.strip() for c in line.split("(", 1)[1].split(")", 1)[0].split(",")]
            break
    else:
        raise BackupError(f"{source} is not a backup of an Obliviate database")
    for line in lines:
        if line == "\\.":
            break
        values = dict(zip(columns, line.split("\t"), strict=True))
        if values.get("name") == MARK:
            # COPY's text format escapes with backslashes; the position never holds one.
            if "\\" in values["fact"]:
                raise BackupError("the backup's forget-log position is unreadable")
            return values["fact"]
    return None


_OTHER_CLIENTS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


def _other_clients(url: URL) -> int:
    """Other sessions on the database. A process that just stopped may still show for a
    moment (its backends end after it hangs up): looked at again until a deadline."""
    engine = make_engine(str(url))
    try:
        deadline = time.monotonic() + _IN_USE_GRACE_S
        with engine.connect() as conn:
            while True:
                others = int(conn.execute(_OTHER_CLIENTS).scalar_one())
                conn.rollback()
                if not others or time.monotonic() >= deadline:
                    return others
                time.sleep(0.1)
    finally:
        engine.dispose()


def _pg_restore(url: URL, source: Path) -> None:
    others = _other_clients(url)
    if others:
        raise BackupError(
            f"the database is in use by {others} other connections: stop every obliviate "
            "process (server, worker) before restoring"
        )
    dsn, env = _libpq(url)
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            # All or nothing: a failed restore leaves the database as it was.
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={dsn}",
            str(source),
        ],
        env,
        "pg_restore",
    )
