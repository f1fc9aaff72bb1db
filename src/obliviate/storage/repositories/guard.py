"""SQL for the mass-deletion guard: deletions tallied per tenant, kind and minute, and the
population they are measured against."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.domain.devices import DeviceState
from obliviate.domain.guard import DeletionKind
from obliviate.domain.profiles import ProfileState
from obliviate.storage import tables as t
from obliviate.storage.prepared import Prepared
from obliviate.storage.savepoints import savepoint

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
