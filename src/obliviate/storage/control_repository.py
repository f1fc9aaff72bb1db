"""SQL for the deletion engine's own records: suppressions, idempotency keys, guard counters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.domain.deletion import JobState
from obliviate.domain.devices import DeviceState
from obliviate.domain.guard import DeletionKind
from obliviate.domain.profiles import ProfileState
from obliviate.storage import tables as t
from obliviate.storage.ids import plain
from obliviate.storage.prepared import Prepared
from obliviate.storage.savepoints import savepoint

# Checked on every create and every deletion: built once (see repositories.py).
_SUPPRESSED = Prepared(
    select(t.suppressions.c.created_at).where(
        t.suppressions.c.tenant_id == bindparam("tenant"),
        t.suppressions.c.id_type == bindparam("id_type"),
        t.suppressions.c.value_hash == bindparam("value_hash"),
    )
)
# The guard runs on every deletion: its statements are built once too.
_tally = t.deletion_tally
# Minute 0 (1970) never falls inside a window. Its row, one per tenant and kind with no
# deletions, exists to be locked: every admission locks it first, so two concurrent requests
# queue even when their deletions fall in different minutes (each minute's own row would not
# be a common lock) or the current minute has no row yet.
_LOCK_MINUTE = 0
_OF_KIND = (_tally.c.tenant_id == bindparam("tenant")) & (_tally.c.kind == bindparam("of_kind"))
_LOCK_TALLY = Prepared(
    select(_tally.c.deletions)
    .where(_OF_KIND, _tally.c.minute == bindparam("at_minute"))
    .with_for_update()
)
_TALLY_SINCE = Prepared(
    select(func.sum(_tally.c.deletions)).where(_OF_KIND, _tally.c.minute >= bindparam("since"))
)
_BUMP_TALLY = Prepared(
    update(_tally)
    .where(_OF_KIND, _tally.c.minute == bindparam("at_minute"))
    .values(deletions=_tally.c.deletions + bindparam("count"))
)
_INSERT_TALLY = Prepared(insert(_tally))
# Minutes that left every window; the lock row (minute 0) stays.
_PRUNE_TALLY = Prepared(
    delete(_tally).where(
        _OF_KIND, _tally.c.minute > bindparam("lock_minute"), _tally.c.minute < bindparam("before")
    )
)
_KEEP_MS = 2 * 3_600_000
_LIVE_PROFILES_BEFORE = Prepared(
    select(func.count())
    .select_from(t.profiles)
    .where(
        t.profiles.c.tenant_id == bindparam("tenant"),
        t.profiles.c.state == bindparam("live"),
        t.profiles.c.created_at < bindparam("before"),
    )
)
_LIVE_DEVICES_BEFORE = Prepared(
    select(func.count())
    .select_from(t.devices)
    .where(
        t.devices.c.tenant_id == bindparam("tenant"),
        t.devices.c.state == bindparam("live"),
        t.devices.c.created_at < bindparam("before"),
    )
)


class SqlSuppressions:
    def __init__(self, conn: Connection, tenant_id: str, *, key_id: str | None = None) -> None:
        self._conn = conn
        self._tenant = tenant_id
        # The deployment key the hashes given to ``add`` are made with (its id): after a key
        # rotation, tells how many suppressions still need each older key.
        self._key_id = key_id

    def add(self, id_type: str, value_hash: str, *, now: int, job_id: int | None) -> bool:
        """Record a suppression; False when it was already there."""
        try:
            with savepoint(self._conn):
                self._conn.execute(
                    insert(t.suppressions).values(
                        tenant_id=self._tenant,
                        id_type=id_type,
                        value_hash=value_hash,
                        created_at=now,
                        job_id=job_id,
                        key_id=self._key_id,
                    )
                )
        except IntegrityError:
            return False
        return True

    def exists(self, id_type: str, value_hash: str) -> bool:
        row = _SUPPRESSED.first(
            self._conn, {"tenant": self._tenant, "id_type": id_type, "value_hash": value_hash}
        )
        return row is not None

    def remove(self, id_type: str, value_hash: str) -> bool:
        result = self._conn.execute(
            delete(t.suppressions).where(
                t.suppressions.c.tenant_id == self._tenant,
                t.suppressions.c.id_type == id_type,
                t.suppressions.c.value_hash == value_hash,
            )
        )
        return bool(result.rowcount)

    def page(self, *, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        query = select(t.suppressions).where(t.suppressions.c.tenant_id == self._tenant)
        if after is not None:
            query = query.where(
                (t.suppressions.c.id_type > after[0])
                | (
                    (t.suppressions.c.id_type == after[0])
                    & (t.suppressions.c.value_hash > after[1])
                )
            )
        query = query.order_by(t.suppressions.c.id_type, t.suppressions.c.value_hash).limit(limit)
        return [plain(r) for r in self._conn.execute(query)]


class SqlIdempotency:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            select(t.idempotency_keys)
            .where(t.idempotency_keys.c.tenant_id == self._tenant, t.idempotency_keys.c.key == key)
            .with_for_update()
        ).first()
        return None if row is None else plain(row)

    def forget(self, key: str) -> None:
        self._conn.execute(
            delete(t.idempotency_keys).where(
                t.idempotency_keys.c.tenant_id == self._tenant, t.idempotency_keys.c.key == key
            )
        )

    def remember(
        self, key: str, *, request_hash: str, status: int, response: Any, now: int
    ) -> None:
        self._conn.execute(
            insert(t.idempotency_keys).values(
                tenant_id=self._tenant,
                key=key,
                request_hash=request_hash,
                status=status,
                response=response,
                created_at=now,
            )
        )


class SqlGuard:
    """Deletions per tenant, kind and minute, and the population they are measured against."""

    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def deletions_since(self, kind: DeletionKind, minute: int) -> int:
        self._lock(kind)
        # Summed after the lock is held: on PostgreSQL (READ COMMITTED) this statement's
        # snapshot then includes the count of whoever held it before. SQLite has one writer.
        found = _TALLY_SINCE.scalar(
            self._conn, {"tenant": self._tenant, "of_kind": kind.value, "since": minute}
        )
        # No row since then: SUM is NULL.
        return int(found or 0)

    def _lock(self, kind: DeletionKind) -> None:
        params = {"tenant": self._tenant, "of_kind": kind.value, "at_minute": _LOCK_MINUTE}
        if _LOCK_TALLY.first(self._conn, params) is not None:
            return
        # The tenant's first deletion of this kind: make the row to lock. A concurrent first
        # deletion may make it too; the loser of that insert race locks the winner's row.
        self._insert(kind, _LOCK_MINUTE, 0)
        _LOCK_TALLY.first(self._conn, params)

    def add_deletions(self, kind: DeletionKind, minute: int, count: int) -> None:
        # Callers hold the lock of ``deletions_since``; should one not, the loser of a race
        # to insert the minute's row adds to the winner's row instead of failing.
        if self._bump(kind, minute, count):
            return
        if not self._insert(kind, minute, count):
            self._bump(kind, minute, count)
            return
        # A new minute's row, at most once a minute per tenant and kind: the table keeps only
        # what a window can still count (two hours, to spare clock skew between processes).
        _PRUNE_TALLY.run(
            self._conn,
            {
                "tenant": self._tenant,
                "of_kind": kind.value,
                "lock_minute": _LOCK_MINUTE,
                "before": minute - _KEEP_MS,
            },
        )

    def _bump(self, kind: DeletionKind, minute: int, count: int) -> bool:
        updated = _BUMP_TALLY.run(
            self._conn,
            {"tenant": self._tenant, "of_kind": kind.value, "at_minute": minute, "count": count},
        )
        return bool(updated)

    def _insert(self, kind: DeletionKind, minute: int, count: int) -> bool:
        """Insert a tally row; False when a concurrent transaction inserted it first."""
        try:
            with savepoint(self._conn):
                _INSERT_TALLY.run(
                    self._conn,
                    {
                        "tenant_id": self._tenant,
                        "kind": kind.value,
                        "minute": minute,
                        "deletions": count,
                    },
                )
        except IntegrityError:
            return False
        return True

    def live_created_before(self, kind: DeletionKind, at: int) -> int:
        # Soft-deleted profiles are not counted: they left the population when they were
        # deleted, and any deleted inside the window come back through its tally.
        if kind is DeletionKind.PROFILES:
            query, live = _LIVE_PROFILES_BEFORE, ProfileState.ACTIVE.value
        else:
            query, live = _LIVE_DEVICES_BEFORE, DeviceState.ACTIVE.value
        found = query.scalar(self._conn, {"tenant": self._tenant, "live": live, "before": at})
        return int(found or 0)


class SqlJobViews:
    """Jobs as the deletion API shows them."""

    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def get(self, job_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
        query = select(t.jobs).where(t.jobs.c.tenant_id == self._tenant, t.jobs.c.job_id == job_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else plain(row)

    def states(self, job_ids: list[int]) -> dict[int, dict[str, Any]]:
        if not job_ids:
            return {}
        rows = self._conn.execute(
            select(t.jobs.c.job_id, t.jobs.c.state, t.jobs.c.result, t.jobs.c.last_error).where(
                t.jobs.c.tenant_id == self._tenant, t.jobs.c.job_id.in_(job_ids)
            )
        )
        return {r.job_id: plain(r) for r in rows}

    def receipts_promised(self) -> list[tuple[int, str]]:
        """(job id, receipt id) of every finished job that says it wrote a receipt."""
        rows = self._conn.execute(
            select(t.jobs.c.job_id, t.jobs.c.result).where(
                t.jobs.c.tenant_id == self._tenant,
                t.jobs.c.state == JobState.COMPLETED.value,
            )
        )
        return [
            (int(r.job_id), str(r.result["receipt_id"]))
            for r in rows
            if isinstance(r.result, dict) and r.result.get("receipt_id")
        ]

    def cancel_if_queued(self, job_id: int, *, now: int) -> bool:
        result = self._conn.execute(
            update(t.jobs)
            .where(
                t.jobs.c.tenant_id == self._tenant,
                t.jobs.c.job_id == job_id,
                t.jobs.c.state == JobState.QUEUED.value,
                t.jobs.c.attempts == 0,
            )
            .values(state=JobState.CANCELLED.value, updated_at=now, finished_at=now)
        )
        return bool(result.rowcount)
