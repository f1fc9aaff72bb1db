"""The SQL unit of work: one connection, one transaction, repositories bound to one tenant."""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cached_property
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine

from obliviate.domain.forgetting import ForgetEntry
from obliviate.storage import savepoints
from obliviate.storage.engine import WRITE_FLAG, writer_lock
from obliviate.storage.repositories.accounts import SqlAccounts
from obliviate.storage.repositories.devices import SqlDevices
from obliviate.storage.repositories.events import SqlEvents
from obliviate.storage.repositories.exports import SqlExports
from obliviate.storage.repositories.guard import SqlGuard
from obliviate.storage.repositories.idempotency import SqlIdempotency
from obliviate.storage.repositories.jobs import SqlJobs, SqlJobViews
from obliviate.storage.repositories.person_rows import SqlPersonRows
from obliviate.storage.repositories.profiles import SqlProfiles
from obliviate.storage.repositories.receipts import SqlReceipts
from obliviate.storage.repositories.suppressions import SqlSuppressions
from obliviate.storage.sealing import Keyring, Vault


class _Repositories:
    """The repositories of a unit of work, all on one connection and bound to one tenant.

    Each is made the first time it is asked for: a read by key uses one or two of the eleven,
    and making all of them was a few percent of such a request."""

    _forgotten: list[ForgetEntry]
    tenant_id: str
    _conn_bound: Connection
    _key_id_bound: str | None
    _vault_bound: Vault

    def forget(self, entry: ForgetEntry) -> None:
        self._forgotten.append(entry)

    def take_forgotten(self) -> list[ForgetEntry]:
        taken, self._forgotten = self._forgotten, []
        return taken

    def pending_forgotten(self) -> tuple[ForgetEntry, ...]:
        return tuple(self._forgotten)

    def take_enqueued(self) -> int:
        # A unit of work that never asked for its jobs enqueued none.
        jobs = self.__dict__.get("jobs")
        return 0 if jobs is None else int(jobs.take_enqueued())

    def _bind(self, conn: Connection, tenant_id: str, key_id: str | None, vault: Vault) -> None:
        self._forgotten = []
        self.tenant_id = tenant_id
        self._conn_bound = conn
        self._key_id_bound = key_id
        self._vault_bound = vault
        for name in _LAZY:
            self.__dict__.pop(name, None)

    @cached_property
    def _keys(self) -> Keyring:
        return Keyring(self._conn_bound, self.tenant_id, self._vault_bound)

    @cached_property
    def profiles(self) -> SqlProfiles:
        return SqlProfiles(self._conn_bound, self.tenant_id, self._keys)

    @cached_property
    def accounts(self) -> SqlAccounts:
        return SqlAccounts(self._conn_bound, self.tenant_id)

    @cached_property
    def events(self) -> SqlEvents:
        return SqlEvents(self._conn_bound, self.tenant_id, self._keys)

    @cached_property
    def devices(self) -> SqlDevices:
        return SqlDevices(self._conn_bound, self.tenant_id, self._keys)

    @cached_property
    def person_rows(self) -> SqlPersonRows:
        return SqlPersonRows(self._conn_bound, self.tenant_id)

    @cached_property
    def jobs(self) -> SqlJobs:
        return SqlJobs(self._conn_bound, self.tenant_id)

    @cached_property
    def receipts(self) -> SqlReceipts:
        return SqlReceipts(self._conn_bound, self.tenant_id)

    @cached_property
    def suppressions(self) -> SqlSuppressions:
        return SqlSuppressions(self._conn_bound, self.tenant_id, key_id=self._key_id_bound)

    @cached_property
    def idempotency(self) -> SqlIdempotency:
        return SqlIdempotency(self._conn_bound, self.tenant_id)

    @cached_property
    def guard(self) -> SqlGuard:
        return SqlGuard(self._conn_bound, self.tenant_id)

    @cached_property
    def job_views(self) -> SqlJobViews:
        return SqlJobViews(self._conn_bound, self.tenant_id)

    @cached_property
    def exports(self) -> SqlExports:
        return SqlExports(self._conn_bound, self.tenant_id, self._keys)


_LAZY = tuple(
    name for name, value in vars(_Repositories).items() if isinstance(value, cached_property)
)


class SqlUnitOfWork(_Repositories):
    def __init__(
        self,
        engine: Engine,
        tenant_id: str,
        *,
        vault: Vault,
        write: bool = True,
        key_id: str | None = None,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._tenant_id = tenant_id
        self._key_id = key_id
        self._write = write
        self._conn: Connection | None = None
        self._lock = writer_lock(engine) if write else None

    def __enter__(self) -> SqlUnitOfWork:
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._open()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        return self

    def _open(self) -> None:
        conn = self._engine.connect()
        conn.info[WRITE_FLAG] = self._write
        conn.begin()
        self._conn = conn
        self._bind(conn, self._tenant_id, self._key_id, self._vault)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        try:
            if conn is not None:
                try:
                    if conn.in_transaction():
                        conn.rollback()
                finally:
                    conn.info[WRITE_FLAG] = True
                    conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested transaction: an error inside undoes only what it did."""
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        return savepoints.savepoint(self._conn)

    def commit(self) -> None:
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        self._conn.commit()


class OnConnection(_Repositories):
    """Repositories on a connection that someone else opened and will close."""

    def __init__(
        self, conn: Connection, tenant_id: str, *, vault: Vault, key_id: str | None = None
    ) -> None:
        self._conn = conn
        self._bind(conn, tenant_id, key_id, vault)

    def savepoint(self) -> AbstractContextManager[Any]:
        return savepoints.savepoint(self._conn)


class SharedTransactionUnitOfWork(OnConnection):
    """One caller's share of a group commit: its work runs in a savepoint of a transaction that
    the group committer opened and will commit. ``commit`` only marks the work as done; the
    caller is answered after the whole group's COMMIT."""

    def __enter__(self) -> SharedTransactionUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def commit(self) -> None:
        return None


class SqlUnitOfWorkFactory:
    """Units of work on one engine. ``key_id`` names the deployment key that the hashes given
    to the repositories are made with (recorded beside each suppression)."""

    def __init__(self, engine: Engine, *, vault: Vault, key_id: str | None = None) -> None:
        self.engine = engine
        self.vault = vault
        self.key_id = key_id

    def __call__(self, tenant_id: str, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine, tenant_id, vault=self.vault, write=write, key_id=self.key_id
        )
