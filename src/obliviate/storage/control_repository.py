"""SQL for the deletion engine's own records: suppressions, idempotency keys, guard counters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.domain.deletion import JobState
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
_HOUR_COUNTER = (t.deletion_counters.c.tenant_id == bindparam("tenant")) & (
    t.deletion_counters.c.hour == bindparam("at_hour")
)
_DELETIONS_IN = Prepared(
    select(t.deletion_counters.c.deletions).where(_HOUR_COUNTER).with_for_update()
)
_BUMP_DELETIONS = Prepared(
    update(t.deletion_counters)
    .where(_HOUR_COUNTER)
    .values(deletions=t.deletion_counters.c.deletions + bindparam("count"))
)
_INSERT_COUNTER = Prepared(insert(t.deletion_counters))


class SqlSuppressions:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

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
    """Deletions per tenant per hour, and the profile count they are measured against."""

    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def deletions_in(self, hour: int) -> int:
        row = _DELETIONS_IN.first(self._conn, {"tenant": self._tenant, "at_hour": hour})
        return 0 if row is None else int(row.deletions)

    def add_deletions(self, hour: int, count: int) -> None:
        # Concurrent requests may both find no row for a new hour: the loser of the insert
        # race adds to the winner's row instead of failing.
        if self._bump(hour, count):
            return
        try:
            with savepoint(self._conn):
                _INSERT_COUNTER.run(
                    self._conn, {"tenant_id": self._tenant, "hour": hour, "deletions": count}
                )
        except IntegrityError:
            self._bump(hour, count)

    def _bump(self, hour: int, count: int) -> bool:
        updated = _BUMP_DELETIONS.run(
            self._conn, {"tenant": self._tenant, "at_hour": hour, "count": count}
        )
        return bool(updated)

    def live_profiles(self) -> int:
        return int(
            self._conn.execute(
                select(func.count())
                .select_from(t.profiles)
                .where(
                    t.profiles.c.tenant_id == self._tenant,
                    t.profiles.c.state.in_(
                        [ProfileState.ACTIVE.value, ProfileState.SOFT_DELETED.value]
                    ),
                )
            ).scalar_one()
        )


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
