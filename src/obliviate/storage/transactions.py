"""How a request's units of work reach the database, one implementation per backend strategy.

``ThreadedTransactions`` runs each unit of work in a worker thread in a transaction of its
own (PostgreSQL, and SQLite with group commit turned off apart from its reads).
``SqliteTransactions`` adds reads by key on the event loop, and
``SqliteGroupCommitTransactions`` and ``PostgresGroupCommitTransactions`` writes that share
one COMMIT. Every one wakes the worker after a commit that enqueued a job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from anyio import to_thread
from sqlalchemy import text

from obliviate.domain.forgetting import ForgetEntry
from obliviate.services.ports import ForgetLog, UnitOfWork
from obliviate.services.queue_port import ErasureBusy
from obliviate.storage.engine import read_connection
from obliviate.storage.erasure import Eraser
from obliviate.storage.group_commit import GroupCommitter
from obliviate.storage.point_reads import PointReads
from obliviate.storage.uow import SqlUnitOfWorkFactory

T = TypeVar("T")

WakeWorker = Callable[[], None]
# Below the engine's pool (10 connections and 10 more), which writes and the worker share.
READ_THREADS = 8


def _no_worker() -> None:
    return None


class ThreadedTransactions:
    def __init__(
        self,
        uow_factory: SqlUnitOfWorkFactory,
        *,
        forget_log: ForgetLog | None = None,
        wake_worker: WakeWorker = _no_worker,
    ) -> None:
        self._uow_factory = uow_factory
        self._forget_log = forget_log
        self._wake_worker = wake_worker
        self._open()

    def _open(self) -> None:
        """What a strategy keeps for the process's life, made once its options are set."""
        # Reads that may scan run in a few threads of their own. With anyio's forty, more
        # threads than pooled connections queued for one inside the pool, every one of them
        # taking the GIL in turn to find it still busy: an Insider profile read with events
        # answered 208 a second that way.
        self._readers = ThreadPoolExecutor(
            max_workers=READ_THREADS, thread_name_prefix="obliviate-read"
        )

    async def write(self, tenant_id: str, work: Callable[[UnitOfWork], T]) -> T:
        def run() -> T:
            with self._uow_factory(tenant_id, write=True) as uow:
                result = work(uow)
                uow.commit()
                self._append_forgotten(uow.take_forgotten())
                enqueued = uow.take_enqueued()
            if enqueued:
                self._wake_worker()
            return result

        return await to_thread.run_sync(run)

    def _append_forgotten(self, entries: list[ForgetEntry]) -> None:
        # After the commit, before the answer: every entry stands for a deletion on disk, and
        # every acknowledged deletion has its entry. A crash in between leaves out of the log
        # only a deletion nobody was told of.
        if entries and self._forget_log is not None:
            self._forget_log.append(entries)

    async def read(
        self,
        tenant_id: str,
        work: Callable[[UnitOfWork], T],
        *,
        # The port's keyword: a hint that only the SQLite transactions act on.
        point: bool = False,  # noqa: ARG002
    ) -> T:
        return await self._threaded_read(tenant_id, work)

    async def _threaded_read(self, tenant_id: str, work: Callable[[UnitOfWork], T]) -> T:
        def run() -> T:
            with self._uow_factory(tenant_id, write=False) as uow:
                return work(uow)

        # A read abandoned by its caller (client gone) finishes in its thread unanswered.
        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    def ping(self) -> None:
        with read_connection(self._uow_factory.engine) as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self._readers.shutdown(wait=True)
        if self._forget_log is not None:
            self._forget_log.close()


class SqliteTransactions(ThreadedTransactions):
    """Reads by key run on the event loop: on SQLite a WAL reader never waits for a lock and
    there is no network, so such a read takes tens of microseconds, less than handing it to a
    thread and back. Anything that may scan still runs in a thread."""

    def _open(self) -> None:
        super()._open()
        factory = self._uow_factory
        self._point_reads = PointReads(factory.engine, vault=factory.vault)

    async def read(
        self, tenant_id: str, work: Callable[[UnitOfWork], T], *, point: bool = False
    ) -> T:
        if point:
            with self._point_reads(tenant_id) as uow:
                return work(uow)
        return await self._threaded_read(tenant_id, work)

    def close(self) -> None:
        self._point_reads.close()
        super().close()
        # Nothing of the WAL outlives the process: a clean stop leaves it empty (unless a
        # reader of another process holds it; the next erasure pass empties it then).
        with contextlib.suppress(ErasureBusy):
            Eraser(self._uow_factory.engine).truncate_wal()


class _GroupCommitWrites(ThreadedTransactions):
    """Writes go through one group-commit thread (see ``GroupCommitter``), which appends the
    group's forget-log entries with its COMMIT and wakes the worker after it."""

    def _open(self) -> None:
        super()._open()
        factory = self._uow_factory
        self._committer = GroupCommitter(
            factory.engine,
            vault=factory.vault,
            key_id=factory.key_id,
            forget_log=self._forget_log,
            wake_worker=self._wake_worker,
        )

    async def write(self, tenant_id: str, work: Callable[[UnitOfWork], T]) -> T:
        return await self._committer.submit(tenant_id, work)

    def close(self) -> None:
        # The queued groups are committed, and their forget-log entries written, before the
        # log is closed.
        self._committer.close()
        super().close()


class SqliteGroupCommitTransactions(_GroupCommitWrites, SqliteTransactions):
    """SQLite's reads by key on the event loop, and writes that share one COMMIT and fsync."""


class PostgresGroupCommitTransactions(_GroupCommitWrites):
    """Reads in threads, each in a transaction of its own; writes that share one COMMIT: one
    round trip and one WAL flush for the group instead of one per request."""
