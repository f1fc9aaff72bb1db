"""A deletion job's status, and cancelling a batch that has not started."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from obliviate.domain.batches import JobKind, JobStatus, SubjectStatus
from obliviate.domain.deletion import (
    DELETION_BATCH,
    PURGE_DEVICE,
    PURGE_PROFILE,
    BatchPayload,
    BatchProgress,
    DeletionMode,
    Erasure,
    ErasureState,
    JobState,
    Outcome,
    SubjectOutcome,
)
from obliviate.domain.errors import JobNotFound, NotCancellable
from obliviate.services.ports import UnitOfWork

_PURGE_KINDS = {PURGE_PROFILE: JobKind.PROFILE, PURGE_DEVICE: JobKind.DEVICE}


def _purge_status(job_id: int, job: Mapping[str, Any]) -> JobStatus:
    """A single subject's purge, in the shape of a batch's status."""
    result = job["result"] or {}
    return JobStatus(
        job_id=job_id,
        kind=_PURGE_KINDS[job["kind"]],
        state=JobState(job["state"]),
        erasure=Erasure.of_job(result),
        receipt_id=result.get("receipt_id"),
        mode=DeletionMode.HARD,
        suppress=False,
        subjects=(),
        counts=dict(sorted((result.get("counts") or {}).items())),
        reason=result.get("reason"),
        attempts=job["attempts"],
        last_error=job["last_error"],
        created_at=job["created_at"],
        updated_at=job["updated_at"],
        finished_at=job["finished_at"],
    )


def _batch_erasure(
    uow: UnitOfWork, payload: BatchPayload, progress: BatchProgress
) -> Erasure | None:
    """Done when every purge the batch began is erased (at the last one's time)."""
    if payload.mode is DeletionMode.SOFT:
        return None
    children = progress.child_jobs()
    states = uow.job_views.states(children) if children else {}
    erasures = [Erasure.of_job(states[c]["result"] or {}) for c in children if c in states]
    unfinished = len(progress.outcomes) < len(payload.subjects) or not progress.outcomes
    if unfinished or any(e.at is None for e in erasures):
        return Erasure()
    return Erasure(ErasureState.DONE, max((e.at for e in erasures if e.at), default=None))


def status(uow: UnitOfWork, *, job_id: int) -> JobStatus:
    job = uow.job_views.get(job_id)
    if job is not None and job["kind"] in _PURGE_KINDS:
        return _purge_status(job_id, job)
    if job is None or job["kind"] != DELETION_BATCH:
        raise JobNotFound()
    payload = BatchPayload.from_json(job["payload"])
    progress = BatchProgress.from_json(job["result"] or {})
    pending = Outcome(SubjectOutcome.PENDING)
    return JobStatus(
        job_id=job_id,
        kind=JobKind.BATCH,
        state=JobState(job["state"]),
        erasure=_batch_erasure(uow, payload, progress),
        receipt_id=None,
        mode=payload.mode,
        suppress=payload.suppress,
        subjects=tuple(
            SubjectStatus(s.index, s.id_type, progress.outcomes.get(s.index, pending))
            for s in payload.subjects
        ),
        counts=dict(sorted(progress.counts.items())),
        reason=progress.reason,
        attempts=job["attempts"],
        last_error=job["last_error"],
        created_at=job["created_at"],
        updated_at=job["updated_at"],
        finished_at=job["finished_at"],
    )


def cancel(uow: UnitOfWork, *, job_id: int, now: int) -> JobStatus:
    job = uow.job_views.get(job_id, for_update=True)
    if job is None or job["kind"] != DELETION_BATCH:
        raise JobNotFound()
    if job["state"] != JobState.QUEUED.value:
        raise NotCancellable(str(job["state"]))
    if BatchProgress.from_json(job["result"] or {}).started:
        # Queued again only to wait for its purges: its deletions have begun.
        raise NotCancellable(JobState.RUNNING.value)
    if not uow.job_views.cancel_if_queued(job_id, now=now):
        raise NotCancellable(str(job["state"]))
    # A cancelled batch ends here: the values it held to resolve its subjects go with it.
    erased = BatchPayload.from_json(job["payload"]).erased()
    uow.jobs.set_payload(job_id, erased.to_json())
    return status(uow, job_id=job_id)
