"""The durable jobs table seen from the worker: claim with a lease, heartbeat, retry, fail.

On PostgreSQL concurrent workers claim with ``FOR UPDATE SKIP LOCKED``; on SQLite the claiming
transaction is ``BEGIN IMMEDIATE``, which serialises claims. A job whose lease ran out (its
worker was killed) is claimed again, so work is at-least-once and every step is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from obliviate.domain.deletion import (
    DELETION_BATCH,
    PURGE_KINDS,
    BatchPayload,
    JobState,
    backoff_seconds,
)
from obliviate.domain.profiles import ProfileState
from obliviate.storage import tables as t
from obliviate.storage.engine import WRITE_FLAG, read_connection


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    tenant_id: str
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def claim(engine: Engine, *, worker_id: str, now: int, lease_ms: int) -> ClaimedJob | None:
    jobs = t.jobs
    due = or_(
        and_(jobs.c.state == JobState.QUEUED.value, jobs.c.run_after <= now),
        and_(jobs.c.state == JobState.RUNNING.value, jobs.c.locked_until < now),
    )
    with engine.connect() as conn:
        conn.info[WRITE_FLAG] = True
        with conn.begin():
            row = conn.execute(
                select(
                    jobs.c.tenant_id, jobs.c.job_id, jobs.c.kind, jobs.c.payload, jobs.c.attempts
                )
                .where(due)
                .order_by(jobs.c.run_after)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            conn.execute(
                update(jobs)
                .where(jobs.c.tenant_id == row.tenant_id, jobs.c.job_id == row.job_id)
                .values(
                    state=JobState.RUNNING.value,
                    attempts=row.attempts + 1,
                    locked_by=worker_id,
                    locked_until=now + lease_ms,
                    updated_at=now,
                )
            )
    return ClaimedJob(row.tenant_id, row.job_id, row.kind, dict(row.payload), row.attempts + 1)


def heartbeat(engine: Engine, job: ClaimedJob, *, worker_id: str, now: int, lease_ms: int) -> bool:
    """Extend the lease; False when another worker has taken the job over."""
    with engine.begin() as conn:
        result = conn.execute(
            update(t.jobs)
            .where(
                t.jobs.c.tenant_id == job.tenant_id,
                t.jobs.c.job_id == job.job_id,
                t.jobs.c.state == JobState.RUNNING.value,
                t.jobs.c.locked_by == worker_id,
            )
            .values(locked_until=now + lease_ms, updated_at=now)
        )
        return bool(result.rowcount)


def defer(engine: Engine, job: ClaimedJob, *, worker_id: str, until: int, now: int) -> None:
    """Put a job back to wait for other work (not a failure: the attempt is not counted)."""
    with engine.begin() as conn:
        conn.execute(
            update(t.jobs)
            .where(
                t.jobs.c.tenant_id == job.tenant_id,
                t.jobs.c.job_id == job.job_id,
                t.jobs.c.state == JobState.RUNNING.value,
                t.jobs.c.locked_by == worker_id,
            )
            .values(
                state=JobState.QUEUED.value,
                run_after=until,
                attempts=t.jobs.c.attempts - 1,
                locked_by=None,
                locked_until=None,
                updated_at=now,
            )
        )


def retry_or_fail(
    engine: Engine,
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
            # A batch that ends failing keeps no identifier value either: erased in the same
            # write that ends it, so no crash can leave them behind.
            try:
                values["payload"] = BatchPayload.from_json(job.payload).erased().to_json()
            except (KeyError, TypeError, ValueError):
                values["payload"] = {}  # unreadable: keep nothing of it
    else:
        delay_ms = round(backoff_seconds(job.attempts, backoff_base, backoff_max) * 1000)
        values = {"state": JobState.QUEUED.value, "run_after": now + delay_ms}
    with engine.begin() as conn:
        conn.execute(
            update(t.jobs)
            .where(
                t.jobs.c.tenant_id == job.tenant_id,
                t.jobs.c.job_id == job.job_id,
                # Only the current holder may requeue: a worker whose lease ran out must not
                # undo the work of the one that took the job over and finished it.
                t.jobs.c.state == JobState.RUNNING.value,
                t.jobs.c.locked_by == worker_id,
            )
            .values(
                last_error=error[:2000], locked_by=None, locked_until=None, updated_at=now, **values
            )
        )
    return str(values["state"])


def tenants_with_expired_profiles(engine: Engine, *, now: int, limit: int = 100) -> list[str]:
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(t.profiles.c.tenant_id)
            .where(
                t.profiles.c.state == ProfileState.SOFT_DELETED.value,
                t.profiles.c.revivable_until <= now,
            )
            .distinct()
            .limit(limit)
        )
        return [str(r.tenant_id) for r in rows]


@dataclass(frozen=True, slots=True)
class ErasureBacklog:
    # Deletion jobs whose physical erasure is not done: purging, or purged and waiting.
    pending: int
    # Epoch ms the oldest of them was requested, or None.
    oldest_created_at: int | None


def _unfinished_purges() -> Any:
    return select(t.jobs.c.tenant_id, t.jobs.c.job_id, t.jobs.c.result, t.jobs.c.created_at).where(
        t.jobs.c.kind.in_(PURGE_KINDS),
        t.jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
    )


def purged_awaiting_erasure(engine: Engine) -> set[tuple[str, int]]:
    """(tenant, job id) of every committed purge whose rows are gone and whose erasure pass
    has not run: the jobs that a pass starting now covers."""
    with read_connection(engine) as conn:
        rows = conn.execute(_unfinished_purges())
        return {
            (str(r.tenant_id), int(r.job_id))
            for r in rows
            if (r.result or {}).get("purged_at") is not None
        }


def erasure_backlog(engine: Engine) -> ErasureBacklog:
    with read_connection(engine) as conn:
        created = [int(r.created_at) for r in conn.execute(_unfinished_purges())]
    return ErasureBacklog(len(created), min(created) if created else None)
