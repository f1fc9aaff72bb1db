"""Physical erasure: after a purge, make sure no database file still holds the person's bytes.

Every value of a person is sealed under a key that the purge destroyed first
(storage/sealing.py), so what a dead row, a free page or a WAL frame may still hold is
ciphertext and keyed hashes. What must go physically is the key itself:

- SQLite: ``secure_delete`` zeroes freed content (storage/engine.py); a ``TRUNCATE``
  checkpoint then copies the WAL into the main file and truncates the WAL to zero bytes, so no
  frame from before the purge survives. It needs a moment with no reader in the middle of a
  transaction; when another connection holds one, the pass reports busy and is retried.
- PostgreSQL: a plain ``VACUUM`` marks dead tuples free but leaves their bytes in the page
  (measured: a deleted row that was last on its page was still readable after it), and index
  pages keep deleted keys. ``VACUUM FULL`` of the key table writes a new file with only the
  live rows and unlinks the old one. The table holds one short row per person, so the rewrite
  (and the lock it takes) stays short; one pass covers every purge before it. The pass is
  busy, and retried, while an open transaction could still see a destroyed key (the rewrite
  must copy such a row) or holds the table.
"""

from __future__ import annotations

import re

import psycopg
from sqlalchemy import Engine

from obliviate.services.queue_port import ErasureBusy
from obliviate.storage.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    is_postgres,
    sqlite_path,
    writer_lock,
)


class Eraser:
    """Runs erasure passes on one database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def erase(self) -> None:
        if sqlite_path(str(self._engine.url)) is not None:
            self.truncate_wal()
        elif is_postgres(self._engine):
            self._rewrite_key_table()

    def truncate_wal(self) -> None:
        """SQLite: empty the WAL into the main file (nothing elsewhere)."""
        if sqlite_path(str(self._engine.url)) is None:
            return
        # Under the process's writer lock: the checkpoint waits for no writer of ours.
        lock = writer_lock(self._engine)
        if lock is not None:
            lock.acquire()
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                # Briefly: the pass holds this process's writer lock, so it must not sit in
                # SQLite's busy handler behind readers; busy now is tried again later.
                cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
                try:
                    busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                    cursor.close()
            finally:
                raw.close()
        finally:
            if lock is not None:
                lock.release()
        if busy:
            raise ErasureBusy("a reader held the WAL")

    def _rewrite_key_table(self) -> None:
        notices: list[str] = []

        def note(diagnostic: psycopg.errors.Diagnostic) -> None:
            notices.append(diagnostic.message_detail or "")

        raw = self._engine.raw_connection()
        try:
            dbapi = raw.driver_connection
            assert isinstance(dbapi, psycopg.Connection)
            # VACUUM runs outside a transaction; the pooled connection is given back as it
            # was (in transaction mode, without the handler), for the next unit of work.
            raw.rollback()
            dbapi.autocommit = True
            dbapi.add_notice_handler(note)
            try:
                with dbapi.cursor() as cursor:
                    # Never queue the service behind the rewrite's exclusive lock for long: a
                    # transaction holding the table makes the pass busy, to be tried again.
                    cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
                    try:
                        cursor.execute("VACUUM (FULL, VERBOSE) erasure_keys")
                    finally:
                        cursor.execute("RESET lock_timeout")
            except psycopg.errors.LockNotAvailable as exc:
                raise ErasureBusy("another transaction held the key table") from exc
            finally:
                dbapi.remove_notice_handler(note)
                dbapi.autocommit = False
        finally:
            raw.close()
        # A row deleted after the oldest snapshot still open is copied into the new file, as
        # that snapshot may still read it: the key would survive. Measured: one transaction
        # left open across a purge kept every key it could see. So the pass counts only when
        # none was kept.
        kept = sum(int(m.group(1)) for n in notices if (m := _NOT_REMOVABLE.search(n)))
        if kept:
            raise ErasureBusy(f"{kept} deleted keys are still visible to an open transaction")


LOCK_TIMEOUT_MS = 2000
CHECKPOINT_WAIT_MS = 250
_NOT_REMOVABLE = re.compile(r"(\d+) dead row versions cannot be removed yet")
