"""Export jobs: up to 1,000 subjects by any identifier, resolved by a worker, downloaded later.

The job keeps only lookup hashes of its subjects (erased when it ends) and, once run, the
internal ids of the profiles each named. The download renders those profiles' documents from
what is held at download time, so no copy of anyone's data is stored beside the live rows: a
person deleted between the job and the download is not in it. Each download is recorded in
the audit chain, one record per person disclosed.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from obliviate.domain.deletion import JobState
from obliviate.domain.errors import (
    BatchTooLarge,
    ConflictError,
    ExportJobNotFound,
    IdempotencyMismatch,
)
from obliviate.domain.exports import (
    EXPORT_BATCH,
    MAX_EXPORT_SUBJECTS,
    ExportHead,
    ExportJobStatus,
    ExportJobSubject,
    ExportOutcome,
    ExportPayload,
    ExportResolution,
    ExportSubjectStatus,
    resolutions_from_json,
    resolutions_to_json,
)
from obliviate.domain.identifiers import Identifier
from obliviate.domain.profiles import ProfileState
from obliviate.domain.tenants import Caller
from obliviate.services import audit
from obliviate.services.batches.subjects import holders
from obliviate.services.exports.document import UUID, document_chunks, encode, head_of
from obliviate.services.ports import Clock, SubjectHasher, Transactions, UnitOfWork

IDEMPOTENCY_TTL_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class ExportSubmission:
    job: ExportJobStatus
    replayed: bool


def request_hash(body: Any) -> str:
    # Namespaced: an Idempotency-Key first used for a deletion batch is refused here, not
    # replayed as if it had been an export.
    return hashlib.sha256(orjson.dumps({"export": body}, option=orjson.OPT_SORT_KEYS)).hexdigest()


def export_status(uow: UnitOfWork, *, job_id: int) -> ExportJobStatus:
    job = uow.job_views.get(job_id)
    if job is None or job["kind"] != EXPORT_BATCH:
        raise ExportJobNotFound()
    payload = ExportPayload.from_json(job["payload"])
    resolved = resolutions_from_json(job["result"] or {})
    pending = ExportResolution(ExportOutcome.PENDING)
    return ExportJobStatus(
        job_id=job_id,
        state=JobState(job["state"]),
        subjects=tuple(
            ExportSubjectStatus(s.index, s.id_type, resolved.get(s.index, pending))
            for s in payload.subjects
        ),
        attempts=job["attempts"],
        last_error=job["last_error"],
        created_at=job["created_at"],
        updated_at=job["updated_at"],
        finished_at=job["finished_at"],
    )


def submit_export(
    uow: UnitOfWork,
    *,
    caller: Caller,
    subjects: Sequence[Identifier],
    idempotency_key: str | None,
    body_hash: str,
    now: int,
) -> ExportSubmission:
    if len(subjects) > MAX_EXPORT_SUBJECTS:
        raise BatchTooLarge(MAX_EXPORT_SUBJECTS)
    if idempotency_key is not None:
        first = uow.idempotency.get(idempotency_key)
        if first is not None and now - int(first["created_at"]) >= IDEMPOTENCY_TTL_MS:
            uow.idempotency.forget(idempotency_key)
        elif first is not None:
            if first["request_hash"] != body_hash:
                raise IdempotencyMismatch()
            return ExportSubmission(ExportJobStatus.from_json(first["response"]), replayed=True)
    payload = ExportPayload(
        subjects=tuple(
            ExportJobSubject(i, s.id_type, uow.profiles.lookup_hash(s.id_type, s.value))
            for i, s in enumerate(subjects)
        ),
        surface=caller.surface.value,
        credential_ref=caller.credential_ref,
        requested_at=now,
    )
    job_id = uow.jobs.enqueue(kind=EXPORT_BATCH, payload=payload.to_json(), now=now)
    accepted = export_status(uow, job_id=job_id)
    if idempotency_key is not None:
        uow.idempotency.remember(
            idempotency_key,
            request_hash=body_hash,
            status=202,
            response=accepted.to_json(),
            now=now,
        )
    return ExportSubmission(accepted, replayed=False)


def run_export_job(
    uow: UnitOfWork, *, job_id: int, payload: dict[str, Any], worker_id: str, now: int
) -> None:
    """Resolve every subject to the profiles it names now (by identifier, and an email also
    by the email attribute), in one transaction; end the job and erase its lookup hashes.
    Run again after a crash, it resolves again: nothing was disclosed yet."""
    if uow.jobs.hold(job_id, worker_id) is None:
        return
    batch = ExportPayload.from_json(payload)
    resolved: dict[int, ExportResolution] = {}
    for subject in batch.subjects:
        found = (
            []
            if subject.lookup_hash is None
            else holders(uow, subject.id_type, subject.lookup_hash)
        )
        ids = tuple(sorted({p.profile_id for p in found if p.state is not ProfileState.PURGING}))
        outcome = ExportOutcome.FOUND if ids else ExportOutcome.NOT_FOUND
        resolved[subject.index] = ExportResolution(outcome, ids)
    uow.jobs.finish(
        job_id, state=JobState.COMPLETED.value, result=resolutions_to_json(resolved), now=now
    )
    uow.jobs.set_payload(job_id, batch.erased().to_json())


def _heads(uow: UnitOfWork, profile_ids: Sequence[int]) -> dict[int, ExportHead]:
    heads: dict[int, ExportHead] = {}
    for pid in profile_ids:
        profile = uow.profiles.get(pid)
        if profile is not None and profile.state is not ProfileState.PURGING:
            heads[pid] = head_of(uow, profile)
    return heads


async def open_job_download(
    transactions: Transactions,
    *,
    caller: Caller,
    job_id: int,
    hasher: SubjectHasher,
    clock: Clock,
) -> AsyncIterator[bytes]:
    """A completed export job's documents as JSON chunks:
    ``{"id","subjects":[{"index","type","outcome","exports":[document...]}]}``. Raises
    ``ExportJobNotFound`` and, for a job still running, ``ConflictError`` before any chunk."""
    tenant_id = caller.tenant.tenant_id
    job = await transactions.read(tenant_id, lambda uow: export_status(uow, job_id=job_id))
    if not job.ready:
        raise ConflictError(f"export job is {job.state.value}; download it once completed")
    wanted = sorted({p for s in job.subjects for p in s.resolution.profile_ids})
    # Heads of up to a few thousand people: small records, read once, kept for the stream.
    heads = await transactions.read(tenant_id, lambda uow: _heads(uow, wanted))
    requested_at = clock.now_ms()

    def record(uow: UnitOfWork) -> None:
        now = clock.now_ms()
        for head in heads.values():
            audit.record_export(
                uow,
                surface=caller.surface.value,
                credential_ref=caller.credential_ref,
                subject_hash=hasher(UUID, head.subject.uuid),
                counts=head.counts,
                requested_at=requested_at,
                now=now,
            )

    if heads:
        await transactions.write(tenant_id, record)
    return _download_chunks(transactions, tenant_id, job, heads, hasher)


async def _download_chunks(
    transactions: Transactions,
    tenant_id: str,
    job: ExportJobStatus,
    heads: dict[int, ExportHead],
    hasher: SubjectHasher,
) -> AsyncIterator[bytes]:
    yield b'{"id":' + encode(str(job.job_id)) + b',"subjects":['
    for n, subject in enumerate(job.subjects):
        status = {
            "index": subject.index,
            "type": subject.id_type,
            "outcome": subject.resolution.outcome.value,
        }
        yield (b"," if n else b"") + encode(status)[:-1] + b',"exports":['
        held = [heads[p] for p in subject.resolution.profile_ids if p in heads]
        for m, head in enumerate(held):
            if m:
                yield b","
            async for chunk in document_chunks(
                transactions, tenant_id=tenant_id, head=head, hasher=hasher
            ):
                yield chunk
        yield b"]}"
    yield b"]}"
