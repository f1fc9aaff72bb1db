"""Accepting a batch, or previewing it: resolve its subjects, pass the guard, enqueue the job."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from obliviate.domain.batches import DryRun, JobStatus, SubjectStatus, Submission
from obliviate.domain.deletion import (
    DELETION_BATCH,
    BatchPayload,
    BatchSubject,
    DeletionMode,
    Outcome,
    SubjectOutcome,
)
from obliviate.domain.errors import BatchTooLarge, IdempotencyMismatch
from obliviate.domain.identifiers import Identifier
from obliviate.domain.tenants import Caller
from obliviate.services import forget_entries
from obliviate.services.batches.status import status
from obliviate.services.batches.subjects import resolve_once
from obliviate.services.deletions import people_in, preview_deletion
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import SubjectHasher, UnitOfWork

MAX_SUBJECTS = 1000
IDEMPOTENCY_TTL_MS = 24 * 3_600_000
# What the idempotency record's status column holds for every accepted batch. The column
# predates typed answers; a replay now reads only the snapshot beside it, but a record keeps
# the value a release that replays from the column would answer with.
_RECORDED_STATUS = 202


@dataclass(frozen=True, slots=True)
class BatchRequest:
    subjects: Sequence[Identifier]
    mode: str
    suppress: bool
    dry_run: bool


def request_hash(body: Any) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def dry_run(uow: UnitOfWork, *, batch: BatchRequest) -> DryRun:
    """What the batch would remove, per subject and per kind; changes nothing."""
    mode = DeletionMode(batch.mode)
    totals: Counter[str] = Counter()
    subjects = []
    seen: set[int] = set()
    would_be = (
        SubjectOutcome.SUPPRESSED
        if batch.suppress and mode is DeletionMode.HARD
        else SubjectOutcome.DELETED
    )
    for index, ident in enumerate(batch.subjects):
        found = resolve_once(uow, ident, mode, seen)
        if not found:
            subjects.append(SubjectStatus(index, ident.id_type, Outcome(SubjectOutcome.NOT_FOUND)))
            continue
        counts: Counter[str] = Counter()
        for profile in found:
            counts.update(preview_deletion(uow, profile=profile, mode=mode.value))
        totals.update(counts)
        outcome = Outcome(would_be, counts=dict(sorted(counts.items())))
        subjects.append(SubjectStatus(index, ident.id_type, outcome))
    return DryRun(mode=mode, counts=dict(sorted(totals.items())), subjects=tuple(subjects))


def _replayed(
    uow: UnitOfWork, idempotency_key: str, *, body_hash: str, now: int
) -> Submission | None:
    """The first answer under this key, while it is remembered; a key reused with another body
    is refused, and one remembered too long ago is forgotten."""
    first = uow.idempotency.get(idempotency_key)
    if first is None:
        return None
    if now - int(first["created_at"]) >= IDEMPOTENCY_TTL_MS:
        uow.idempotency.forget(idempotency_key)
        return None
    if first["request_hash"] != body_hash:
        raise IdempotencyMismatch()
    return Submission(job=JobStatus.from_json(first["response"]), replayed=True)


def submit(
    uow: UnitOfWork,
    *,
    caller: Caller,
    batch: BatchRequest,
    idempotency_key: str | None,
    body_hash: str,
    confirmed: bool,
    now: int,
    hasher: SubjectHasher,
) -> Submission | DryRun:
    """Accept a batch as a job, or preview it. A replayed Idempotency-Key answers the first
    request's answer."""
    if len(batch.subjects) > MAX_SUBJECTS:
        raise BatchTooLarge(MAX_SUBJECTS)
    if idempotency_key is not None:
        first = _replayed(uow, idempotency_key, body_hash=body_hash, now=now)
        if first is not None:
            return first
    if batch.dry_run:
        return dry_run(uow, batch=batch)
    mode = DeletionMode(batch.mode)
    subjects = []
    seen: set[int] = set()
    for index, ident in enumerate(batch.subjects):
        found = resolve_once(uow, ident, mode, seen)
        subjects.append(
            BatchSubject(
                index=index,
                id_type=ident.id_type,
                subject_hash=hasher(ident.id_type, ident.value),
                lookup_hash=uow.profiles.lookup_hash(ident.id_type, ident.value),
                profile_ids=tuple(p.profile_id for p in found),
            )
        )
    admit_deletions(
        uow, tenant=caller.tenant, count=people_in(uow, seen), confirmed=confirmed, now=now
    )
    payload = BatchPayload(
        mode=mode,
        suppress=batch.suppress,
        subjects=tuple(subjects),
        surface=caller.surface.value,
        credential_ref=caller.credential_ref,
        requested_at=now,
        revival_window_seconds=caller.tenant.revival_window_seconds,
    )
    job_id = uow.jobs.enqueue(kind=DELETION_BATCH, payload=payload.to_json(), now=now)
    forget_entries.subjects_deleted(
        uow,
        [(s.id_type, s.lookup_hash) for s in subjects if s.lookup_hash is not None],
        mode=mode.value,
        suppress=payload.suppressing,
        now=now,
    )
    if payload.suppressing:
        # The worker adds these when it runs; a restore must keep them even if no one holds
        # the value by then.
        forget_entries.suppressed(
            uow, [(s.id_type, s.subject_hash) for s in subjects], key_id=hasher.key_id, now=now
        )
    accepted = status(uow, job_id=job_id)
    if idempotency_key is not None:
        uow.idempotency.remember(
            idempotency_key,
            request_hash=body_hash,
            status=_RECORDED_STATUS,
            response=accepted.to_json(),
            now=now,
        )
    return Submission(job=accepted, replayed=False)
