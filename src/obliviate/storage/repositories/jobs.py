"""SQL for the jobs table: enqueued and stepped in a tenant's unit of work (``SqlJobs``),
shown by the deletion API (``SqlJobViews``), and claimed across tenants by the worker with a
lease, heartbeats, retries and failure (``SqlJobQueue``).

On PostgreSQL concurrent workers claim with ``FOR UPDATE SKIP LOCKED``; on SQLite the claiming
transaction is ``BEGIN IMMEDIATE``, which serialises claims. A job whose lease ran out (its
worker was killed) is claimed again, so work is at-least-once and every step is idempotent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, or_, select, update

from obliviate.domain.deletion import (
    DELETION_BATCH,
    PURGE_KINDS,
    BatchPayload,
    JobState,
    backoff_seconds,
)
from obliviate.services.queue_port import ClaimedJob, ErasureBacklog
from obliviate.storage import tables as t
from obliviate.storage.engine import WRITE_FLAG, read_connection
from obliviate.storage.ids import new_id, plain
from obliviate.storage.prepared import Prepared
from obliviate.storage.repositories.profile_listing import tenants_with_expired_profiles

_INSERT_JOB = Prepared(insert(t.jobs))
# What a job gives up when it stops running, whoever held it.
_RELEASED: dict[str, Any] = {"locked_by": None, "locked_until": None}


def _one(tenant_id: str, job_id: int) -> ColumnElement[bool]:
    return and_(t.jobs.c.tenant_id == tenant_id, t.jobs.c.job_id == job_id)


def _held_by(worker_id: str) -> ColumnElement[bool]:
    """Still running under ``worker_id``: a worker whose lease ran out must not undo the work
    of the one that took the job over."""
    return and_(t.jobs.c.state == JobState.RUNNING.value, t.jobs.c.locked_by == worker_id)


def _lease(until: int, *, now: int) -> dict[str, Any]:
    """The columns that give the holder its lease until ``until``."""
    return {"locked_until": until, "updated_at": now}


class SqlJobs:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._enqueued = 0

    def enqueue(self, *, kind: str, payload: dict[str, Any], now: int) -> int:
        job_id = new_id(now)
        _INSERT_JOB.run(
            self._conn,
            {
                "tenant_id": self._tenant,
                "job_id": job_id,
                "kind": kind,
                "payload": payload,
                "state": "queued",
                "attempts": 0,
                "run_after": now,
                "result": {},
                "created_at": now,
                "updated_at": now,
            },
        )
        self._enqueued += 1
        return job_id

    def take_enqueued(self) -> int:
        """How many jobs were enqueued since last asked (whoever commits wakes the worker
        when any were)."""
        taken, self._enqueued = self._enqueued, 0
        return taken

    def hold(self, job_id: int, worker_id: str) -> dict[str, Any] | None:
        """Lock the job row for this step and return its progress, or None when the job is
        no longer running under ``worker_id`` (its lease ran out and another took it)."""
        row = self._conn.execute(
            select(t.jobs.c.result, t.jobs.c.state, t.jobs.c.locked_by)
            .where(_one(self._tenant, job_id))
            .with_for_update()
        ).first()
        if row is None or row.state != "running" or row.locked_by != worker_id:
            return None
        return dict(row.result)

    def set_result(
        self, job_id: int, result: dict[str, Any], *, now: int, lease_until: int | None = None
    ) -> None:
        """Record progress; with ``lease_until``, extend the holder's lease in the same write
        (a heartbeat that costs no transaction of its own)."""
        values: dict[str, Any] = {"result": result, "updated_at": now}
        if lease_until is not None:
            values.update(_lease(lease_until, now=now))
        self._conn.execute(update(t.jobs).where(_one(self._tenant, job_id)).values(**values))

    def set_payload(self, job_id: int, payload: dict[str, Any]) -> None:
        self._conn.execute(update(t.jobs).where(_one(self._tenant, job_id)).values(payload=payload))

    def finish(self, job_id: int, *, state: str, result: dict[str, Any], now: int) -> None:
        self._conn.execute(
            update(t.jobs)
            .where(_one(self._tenant, job_id))
            .values(state=state, result=result, updated_at=now, finished_at=now, **_RELEASED)
        )


class SqlJobViews:
    """Jobs as the deletion API shows them."""

    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def get(self, job_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
        query = select(t.jobs).where(_one(self._tenant, job_id))
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
                _one(self._tenant, job_id),
                t.jobs.c.state == JobState.QUEUED.value,
                t.jobs.c.attempts == 0,
            )
            .values(state=JobState.CANCELLED.value, updated_at=now, finished_at=now)
        )
        return bool(result.rowcount)


def _unfinished_purges() -> Any:
    return select(t.jobs.c.tenant_id, t.jobs.c.job_id, t.jobs.c.result, t.jobs.c.created_at).where(
        t.jobs.c.kind.in_(PURGE_KINDS),
        t.jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
    )


class SqlJobQueue:
    """The ``JobQueue`` port on one database: every tenant's jobs, each call in its own
    transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, *, worker_id: str, now: int, lease_ms: int) -> ClaimedJob | None:
        due = or_(
            and_(t.jobs.c.state == JobState.QUEUED.value, t.jobs.c.run_after <= now),
            and_(t.jobs.c.state == JobState.RUNNING.value, t.jobs.c.locked_until < now),
        )
        with self._engine.connect() as conn:
            conn.info[WRITE_FLAG] = True
            with conn.begin():
                row = conn.execute(
                    select(
                        t.jobs.c.tenant_id,
                        t.jobs.c.job_id,
                        t.jobs.c.kind,
                        t.jobs.c.payload,
                        t.jobs.c.attempts,
                    )
                    .where(due)
                    .order_by(t.jobs.c.run_after)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                conn.execute(
                    update(t.jobs)
                    .where(_one(row.tenant_id, row.job_id))
                    .values(
                        state=JobState.RUNNING.value,
                        attempts=row.attempts + 1,
                        locked_by=worker_id,
                        **_lease(now + lease_ms, now=now),
                    )
                )
        return ClaimedJob(row.tenant_id, row.job_id, row.kind, dict(row.payload), row.attempts + 1)

    def heartbeat(self, job: ClaimedJob, *, worker_id: str, now: int, lease_ms: int) -> bool:
        """Extend the lease; False when another worker has taken the job over."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(t.jobs)
                .where(_one(job.tenant_id, job.job_id), _held_by(worker_id))
                .values(**_lease(now + lease_ms, now=now))
            )
            return bool(result.rowcount)

    def defer(self, job: ClaimedJob, *, worker_id: str, until: int, now: int) -> None:
        """Put a job back to wait for other work (not a failure: the attempt is not counted)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(t.jobs)
                .where(_one(job.tenant_id, job.job_id), _held_by(worker_id))
                .values(
                    state=JobState.QUEUED.value,
                    run_after=until,
                    attempts=t.jobs.c.attempts - 1,
                    updated_at=now,
                    **_RELEASED,
                )
            )

    def retry_or_fail(
        self,
        job: ClaimedJob,
        *,
        worker_id: str,
        error: str,
        now: int,
        max_attempts: int,
        backoff_base: float,
        backoff_max: float,
    ) -> str:
        if job.attempts >= max_attempts:
            values: dict[str, Any] = {"state": JobState.FAILED.value, "finished_at": now}
            if job.kind == DELETION_BATCH:
                # A batch that ends failing keeps no identifier value either: erased in the
                # same write that ends it, so no crash can leave them behind.
                try:
                    values["payload"] = BatchPayload.from_json(job.payload).erased().to_json()
                except (KeyError, TypeError, ValueError):
                    values["payload"] = {}  # unreadable: keep nothing of it
        else:
            delay_ms = round(backoff_seconds(job.attempts, backoff_base, backoff_max) * 1000)
            values = {"state": JobState.QUEUED.value, "run_after": now + delay_ms}
        with self._engine.begin() as conn:
            conn.execute(
                update(t.jobs)
                # Only the current holder may requeue.
                .where(_one(job.tenant_id, job.job_id), _held_by(worker_id))
                .values(last_error=error[:2000], updated_at=now, **_RELEASED, **values)
            )
        return str(values["state"])

    def tenants_with_expired_profiles(self, *, now: int, limit: int = 100) -> list[str]:
        with read_connection(self._engine) as conn:
            return tenants_with_expired_profiles(conn, now=now, limit=limit)

    def purged_awaiting_erasure(self) -> set[tuple[str, int]]:
        """(tenant, job id) of every committed purge whose rows are gone and whose erasure
        pass has not run: the jobs that a pass starting now covers."""
        with read_connection(self._engine) as conn:
            rows = conn.execute(_unfinished_purges())
            return {
                (str(r.tenant_id), int(r.job_id))
                for r in rows
                if (r.result or {}).get("purged_at") is not None
            }

    def erasure_backlog(self) -> ErasureBacklog:
        with read_connection(self._engine) as conn:
            created = [int(r.created_at) for r in conn.execute(_unfinished_purges())]
        return ErasureBacklog(len(created), min(created) if created else None)
