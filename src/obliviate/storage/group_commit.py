"""Group commit: concurrent writers share one transaction and one commit.

With ``synchronous=FULL`` every COMMIT waits for an fsync of the WAL, and SQLite takes one writer
at a time, so one request per commit caps a server at the disk's fsync rate. Here one thread per
database file takes every unit of work waiting in its queue, runs each in its own savepoint of
one transaction (an error undoes only that caller's writes), commits once, and only then answers
each caller. No caller is answered before the COMMIT that holds its writes has returned, so an
acknowledged write survives a crash or power loss exactly as with one commit per request.

The batch forms by itself: while one COMMIT is on the disk, the next requests queue up. Nothing
waits on a timer, so a lone request is not slowed down.

On PostgreSQL the same holds, with one difference: another process's group may hold a lock a
unit here needs while waiting for one this group holds, a deadlock that one request per
transaction would not have had. The database breaks it by failing one statement; that unit's
savepoint is undone (its locks go with it), the rest of the group commits, and the unit runs
again alone in a transaction of its own, where it cannot take part in such a cycle.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from obliviate.domain.forgetting import ForgetEntry
from obliviate.services.ports import ForgetLog
from obliviate.storage.engine import WRITE_FLAG, writer_lock
from obliviate.storage.savepoints import savepoint
from obliviate.storage.sealing import Vault
from obliviate.storage.uow import SharedTransactionUnitOfWork

T = TypeVar("T")
Work = Callable[[SharedTransactionUnitOfWork], Any]

log = logging.getLogger(__name__)

# A bound on one transaction: enough to amortise the fsync many times over, small enough that
# the first caller in a group is not kept waiting on hundreds of others.
MAX_GROUP = 256
# Runs of a unit alone after its group broke a lock cycle with it, before its caller gets the
# error (each alone run is a transaction of one unit, as without group commit).
ALONE_ATTEMPTS = 3
# PostgreSQL's SQLSTATEs for a statement failed to break a lock cycle or a serialisation
# conflict: the unit did nothing wrong and may simply run again.
_TRANSIENT = frozenset({"40P01", "40001", "55P03"})


def _transient(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in _TRANSIENT


@dataclass
class _Pending:
    tenant_id: str
    work: Work
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass(eq=False)
class _Outcome:
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    result: Any = None
    error: BaseException | None = None


class GroupCommitter:
    def __init__(
        self,
        engine: Engine,
        *,
        vault: Vault,
        max_group: int = MAX_GROUP,
        key_id: str | None = None,
        forget_log: ForgetLog | None = None,
        wake_worker: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        # Called after a COMMIT that enqueued a job, so an in-process worker starts at once.
        self._wake_worker = wake_worker
        self._vault = vault
        # The group's acknowledged deletions are appended here while its COMMIT is on the
        # disk: the two fsyncs overlap instead of doubling every caller's wait.
        self._forget_log = forget_log
        self._log_writer: ThreadPoolExecutor | None = None
        # The deployment key's id, recorded beside each suppression (see SqlUnitOfWorkFactory).
        self._key_id = key_id
        self._lock = writer_lock(engine)
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_guard = threading.Lock()
        # Groups committed and units of work in them (the tests read them).
        self.groups = 0
        self.units = 0

    async def submit(self, tenant_id: str, work: Callable[[SharedTransactionUnitOfWork], T]) -> T:
        """Run ``work`` in the next group; return its result once that group is on disk."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(tenant_id, work, loop, future))
        return await future

    def close(self) -> None:
        """Finish the groups already queued, then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join()
        self._thread = None
        if self._log_writer is not None:
            self._log_writer.shutdown(wait=True)
            self._log_writer = None

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_guard:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="obliviate-group-commit", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
            self._settle_group(group)
            if stop:
                return

    def _settle_group(self, group: list[_Pending]) -> None:
        outcomes = self._commit_group(group)
        again = [o for o in outcomes if o.error is not None and _transient(o.error)]
        self._answer([o for o in outcomes if o not in again])
        for outcome in again:
            item = next(i for i in group if i.future is outcome.future)
            for _ in range(ALONE_ATTEMPTS):
                (outcome,) = self._commit_group([item])
                if outcome.error is None or not _transient(outcome.error):
                    break
            self._answer([outcome])

    def _commit_group(self, group: list[_Pending]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        forgotten: list[ForgetEntry] = []
        enqueued = 0
        try:
            if self._lock is not None:
                self._lock.acquire()
            try:
                with self._engine.connect() as conn:
                    conn.info[WRITE_FLAG] = True
                    conn.begin()
                    for item in group:
                        uow = SharedTransactionUnitOfWork(
                            conn, item.tenant_id, vault=self._vault, key_id=self._key_id
                        )
                        try:
                            with savepoint(conn):
                                result = item.work(uow)
                        except Exception as exc:
                            outcomes.append(_Outcome(item.future, item.loop, error=exc))
                        else:
                            outcomes.append(_Outcome(item.future, item.loop, result=result))
                            forgotten.extend(uow.take_forgotten())
                            enqueued += uow.take_enqueued()
                    logged = self._log(forgotten)
                    try:
                        conn.commit()
                    finally:
                        # Written even when the COMMIT failed: the log may name a deletion
                        # that did not happen (a restore then makes it), never miss one.
                        if logged is not None:
                            logged.result()
            finally:
                if self._lock is not None:
                    self._lock.release()
        except Exception as exc:
            # The transaction as a whole failed (disk full, I/O error, a savepoint that could
            # not be undone): nothing of the group is on disk, so every caller gets the error.
            log.exception("group commit of %d units failed", len(group))
            return [_Outcome(item.future, item.loop, error=exc) for item in group]
        self.groups += 1
        self.units += len(group)
        if enqueued and self._wake_worker is not None:
            self._wake_worker()
        return outcomes

    def _log(self, entries: list[ForgetEntry]) -> Future[None] | None:
        if not entries or self._forget_log is None:
            return None
        if self._log_writer is None:
            # Only the committer thread gets here: no race to make it.
            self._log_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forget-log")
        return self._log_writer.submit(self._forget_log.append, entries)

    @staticmethod
    def _answer(outcomes: list[_Outcome]) -> None:
        # One wake-up per event loop for the whole group, not one per caller.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome.loop, []).append(outcome)
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:
                # The loop closed (server shutting down): its callers are gone.
                log.warning("group commit answered %d callers of a closed loop", len(settled))


def _settle(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        if outcome.future.done():
            continue  # the caller gave up (client disconnected); its writes stand
        if outcome.error is not None:
            outcome.future.set_exception(outcome.error)
        else:
            outcome.future.set_result(outcome.result)
