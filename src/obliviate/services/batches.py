"""Batch deletions (native API): up to 1,000 subjects, soft or hard, with suppression.

A batch is a job. Its subjects are canonical identifier values; when the batch is accepted they
are resolved to profiles for the guard, and the values are kept (in the job row, until it ends)
so that the worker resolves them again when it runs: a person merged into another profile, or
holding the email only as a Gainsight ``email`` attribute, is found all the same. The worker
deletes them: soft deletes in place, hard deletes through one purge job per profile (each writing
its receipt). The batch ends ``completed`` only after a check, by value and by the profiles it
deleted, that nothing of any subject is readable or left in any deletion target; a subject still
found by value is deleted again (a bounded number of rounds), else the batch is ``partial``.
When it ends, the values are erased from the job row; only keyed hashes remain.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from obliviate.domain.deletion import (
    DELETION_BATCH,
    MAX_DELETION_ROUNDS,
    PURGE_DEVICE,
    PURGE_PROFILE,
    TERMINAL_JOB_STATES,
    BatchPayload,
    BatchProgress,
    BatchStep,
    BatchSubject,
    DeletionMode,
    Erasure,
    ErasureState,
    JobState,
    Outcome,
    SubjectOutcome,
)
from obliviate.domain.errors import (
    BatchTooLarge,
    IdempotencyMismatch,
    NotCancellable,
    NotFoundError,
)
from obliviate.domain.identifiers import Identifier, IdentifierType
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.domain.tenants import Caller, Surface, Tenant
from obliviate.services import forget_entries
from obliviate.services.deletions import (
    begin_purge_of,
    people_in,
    preview_deletion,
    soft_delete_found,
)
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import SubjectHasher, UnitOfWork
from obliviate.services.suppression import suppress_profile

MAX_SUBJECTS = 1000
IDEMPOTENCY_TTL_MS = 24 * 3_600_000


class JobNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("no such deletion job")


@dataclass(frozen=True, slots=True)
class BatchRequest:
    subjects: Sequence[Identifier]
    mode: str
    suppress: bool
    dry_run: bool


def request_hash(body: Any) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _live(profile: Profile | None, mode: DeletionMode) -> bool:
    """Whether a deletion of this mode still has something to do with the profile."""
    if profile is None or profile.state is ProfileState.PURGING:
        return False
    return mode is DeletionMode.HARD or profile.state is ProfileState.ACTIVE


def _followed(uow: UnitOfWork, profile_id: int) -> int | None:
    """The profile that holds ``profile_id``'s data now: itself, or the survivor of the merges
    that absorbed it since (an absorbed profile's row is gone, its merge row names the
    survivor)."""
    seen: set[int] = set()
    current: int | None = profile_id
    while current is not None and current not in seen:
        seen.add(current)
        if uow.profiles.get(current) is not None:
            return current
        current = uow.profiles.survivor_of(current)
    return None


def _holders(uow: UnitOfWork, id_type: str, lookup_hash: str) -> list[Profile]:
    """The profiles a stored lookup hash names now: as an identifier, and an email also as
    the ``email`` attribute (as ``identity.holders_of`` finds them by value)."""
    held = uow.profiles.find_by_lookup_hash(id_type, lookup_hash)
    found = [] if held is None else [held]
    if id_type == IdentifierType.EMAIL:
        found.extend(uow.profiles.with_email_lookup_hash(lookup_hash))
    return found


def _resolve(
    uow: UnitOfWork,
    *,
    id_type: str,
    lookup_hash: str | None,
    profile_ids: Sequence[int],
    mode: DeletionMode,
) -> list[Profile]:
    """The profiles a subject names now, by its value and by the profiles it named before,
    locked in ascending id order (as every writer locks profiles)."""
    ids = (
        set()
        if lookup_hash is None
        else {p.profile_id for p in _holders(uow, id_type, lookup_hash)}
    )
    ids.update(f for pid in profile_ids if (f := _followed(uow, pid)) is not None)
    locked = (uow.profiles.get(pid, for_update=True) for pid in sorted(ids))
    return [p for p in locked if p is not None and _live(p, mode)]


def _resolve_once(
    uow: UnitOfWork, ident: Identifier, mode: DeletionMode, seen: set[int]
) -> list[Profile]:
    """A person named twice in one batch is deleted (and counted) once; the repeat is not found."""
    lookup_hash = uow.profiles.lookup_hash(ident.id_type, ident.value)
    found = _resolve(uow, id_type=ident.id_type, lookup_hash=lookup_hash, profile_ids=(), mode=mode)
    fresh = [p for p in found if p.profile_id not in seen]
    seen.update(p.profile_id for p in fresh)
    return fresh


def dry_run(uow: UnitOfWork, *, caller: Caller, batch: BatchRequest) -> dict[str, Any]:
    """What the batch would remove, per subject and per kind; changes nothing."""
    mode = DeletionMode(batch.mode)
    totals: Counter[str] = Counter()
    subjects = []
    seen: set[int] = set()
    for index, ident in enumerate(batch.subjects):
        found = _resolve_once(uow, ident, mode, seen)
        if not found:
            subjects.append({"index": index, "type": ident.id_type, "outcome": "not_found"})
            continue
        counts: Counter[str] = Counter()
        for profile in found:
            counts.update(preview_deletion(uow, profile=profile, mode=mode.value))
        totals.update(counts)
        outcome = (
            SubjectOutcome.SUPPRESSED
            if batch.suppress and mode is DeletionMode.HARD
            else (SubjectOutcome.DELETED)
        )
        subjects.append(
            {
                "index": index,
                "type": ident.id_type,
                "outcome": outcome.value,
                "counts": dict(sorted(counts.items())),
            }
        )
    return {
        "dry_run": True,
        "mode": mode.value,
        "counts": dict(sorted(totals.items())),
        "subjects": subjects,
    }


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
) -> tuple[int, dict[str, Any]]:
    """Accept a batch: (status, answer). A replayed Idempotency-Key returns the first answer."""
    if len(batch.subjects) > MAX_SUBJECTS:
        raise BatchTooLarge(MAX_SUBJECTS)
    if idempotency_key is not None:
        first = uow.idempotency.get(idempotency_key)
        if first is not None and now - int(first["created_at"]) < IDEMPOTENCY_TTL_MS:
            if first["request_hash"] != body_hash:
                raise IdempotencyMismatch()
            return int(first["status"]), dict(first["response"])
        if first is not None:
            uow.idempotency.forget(idempotency_key)
    if batch.dry_run:
        return 200, dry_run(uow, caller=caller, batch=batch)
    mode = DeletionMode(batch.mode)
    subjects = []
    seen: set[int] = set()
    for index, ident in enumerate(batch.subjects):
        found = _resolve_once(uow, ident, mode, seen)
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
    answer = status(uow, job_id=job_id)
    if idempotency_key is not None:
        uow.idempotency.remember(
            idempotency_key, request_hash=body_hash, status=202, response=answer, now=now
        )
    return 202, answer


_PURGE_KINDS = {PURGE_PROFILE: "profile", PURGE_DEVICE: "device"}


def _purge_status(job_id: int, job: dict[str, Any]) -> dict[str, Any]:
    """A single subject's purge, in the shape of a batch's status."""
    result = job["result"] or {}
    return {
        "id": str(job_id),
        "kind": _PURGE_KINDS[job["kind"]],
        "state": job["state"],
        "erasure": Erasure.of_job(result).to_json(),
        "receipt_id": result.get("receipt_id"),
        "mode": DeletionMode.HARD.value,
        "suppress": False,
        "subjects": [],
        "outcomes": {},
        "counts": dict(sorted((result.get("counts") or {}).items())),
        "reason": result.get("reason"),
        "attempts": job["attempts"],
        "last_error": job["last_error"],
        "created_at": job["created_at"],
        "updated_at": job["updated_at"],
        "finished_at": job["finished_at"],
    }


def _batch_erasure(
    uow: UnitOfWork, payload: BatchPayload, progress: BatchProgress
) -> dict[str, Any] | None:
    """Done when every purge the batch began is erased (at the last one's time)."""
    if payload.mode is DeletionMode.SOFT:
        return None
    children = progress.child_jobs()
    states = uow.job_views.states(children) if children else {}
    erasures = [Erasure.of_job(states[c]["result"] or {}) for c in children if c in states]
    unfinished = len(progress.outcomes) < len(payload.subjects) or not progress.outcomes
    if unfinished or any(e.at is None for e in erasures):
        return Erasure().to_json()
    return Erasure(ErasureState.DONE, max((e.at for e in erasures if e.at), default=None)).to_json()


def status(uow: UnitOfWork, *, job_id: int) -> dict[str, Any]:
    job = uow.job_views.get(job_id)
    if job is not None and job["kind"] in _PURGE_KINDS:
        return _purge_status(job_id, job)
    if job is None or job["kind"] != DELETION_BATCH:
        raise JobNotFound()
    payload = BatchPayload.from_json(job["payload"])
    progress = BatchProgress.from_json(job["result"] or {})
    pending = Outcome(SubjectOutcome.PENDING)
    subjects = [
        {"index": s.index, "type": s.id_type, **progress.outcomes.get(s.index, pending).to_json()}
        for s in payload.subjects
    ]
    tally = Counter(s["outcome"] for s in subjects)
    return {
        "id": str(job_id),
        "kind": "batch",
        "state": job["state"],
        "erasure": _batch_erasure(uow, payload, progress),
        "receipt_id": None,
        "mode": payload.mode.value,
        "suppress": payload.suppress,
        "subjects": subjects,
        "outcomes": dict(sorted(tally.items())),
        "counts": dict(sorted(progress.counts.items())),
        "reason": progress.reason,
        "attempts": job["attempts"],
        "last_error": job["last_error"],
        "created_at": job["created_at"],
        "updated_at": job["updated_at"],
        "finished_at": job["finished_at"],
    }


def cancel(uow: UnitOfWork, *, job_id: int, now: int) -> dict[str, Any]:
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


# --- the worker's side ---------------------------------------------------------------------


def dispatch_step(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    job_id: int,
    payload: dict[str, Any],
    worker_id: str,
    now: int,
    hasher: SubjectHasher,
    chunk: int = 50,
) -> BatchStep:
    """One transaction of batch work."""
    held = uow.jobs.hold(job_id, worker_id)
    if held is None:
        return BatchStep.DONE
    batch = BatchPayload.from_json(payload)
    progress = BatchProgress.from_json(held)
    pending = [s for s in batch.subjects if s.index not in progress.outcomes]
    if pending:
        outcomes, children = dict(progress.outcomes), dict(progress.children)
        deleted = dict(progress.deleted)
        unadmitted = 0
        for subject in pending[:chunk]:
            outcome, profiles, started, extra = _delete_one(
                uow,
                batch=batch,
                subject=subject,
                tenant_id=tenant_id,
                job_id=job_id,
                now=now,
                hasher=hasher,
            )
            i = subject.index
            unadmitted += extra
            outcomes[i] = outcome
            if profiles:
                deleted[i] = deleted.get(i, ()) + profiles
            if started:
                children[i] = children.get(i, ()) + started
        progress = replace(progress, outcomes=outcomes, children=children, deleted=deleted)
        # The guard admitted what the values named at submission; what they name only now (a
        # merge, an email attribute set since) is still counted, never refused (the batch was
        # accepted). Once per step, after every profile lock, as single deletes take them.
        admit_deletions(
            uow,
            tenant=_requester(batch, tenant_id).tenant,
            count=unadmitted,
            confirmed=True,
            now=now,
        )
        uow.jobs.set_result(job_id, progress.to_json(), now=now)
        return BatchStep.MORE
    states = uow.job_views.states(progress.child_jobs())
    if any(states[c]["state"] not in TERMINAL_JOB_STATES for c in progress.child_jobs()):
        return BatchStep.WAIT
    # The closing check by value: a subject merged into another profile, re-created or given to
    # another profile while its deletion ran is still readable, so it is deleted again.
    again = [s for s in batch.subjects if _still_held(uow, batch=batch, subject=s)]
    if again and progress.rounds < MAX_DELETION_ROUNDS:
        outcomes = {i: o for i, o in progress.outcomes.items() if i not in {s.index for s in again}}
        progress = replace(progress, outcomes=outcomes, rounds=progress.rounds + 1)
        uow.jobs.set_result(job_id, progress.to_json(), now=now)
        return BatchStep.MORE
    _finish(uow, job_id=job_id, batch=batch, progress=progress, states=states, now=now)
    return BatchStep.DONE


def _still_held(uow: UnitOfWork, *, batch: BatchPayload, subject: BatchSubject) -> bool:
    if subject.lookup_hash is None:
        return False
    return any(_live(p, batch.mode) for p in _holders(uow, subject.id_type, subject.lookup_hash))


def _delete_one(
    uow: UnitOfWork,
    *,
    batch: BatchPayload,
    subject: BatchSubject,
    tenant_id: str,
    job_id: int,
    now: int,
    hasher: SubjectHasher,
) -> tuple[Outcome, tuple[int, ...], tuple[int, ...], int]:
    """Delete every profile the subject names now.

    Returns the outcome, the profiles deleted, the purge jobs begun and how many people those
    profiles stood for beyond what the guard admitted at submission."""
    if batch.suppressing:
        uow.suppressions.add(subject.id_type, subject.subject_hash, now=now, job_id=job_id)
    found = _resolve(
        uow,
        id_type=subject.id_type,
        lookup_hash=subject.lookup_hash,
        profile_ids=subject.profile_ids,
        mode=batch.mode,
    )
    if not found:
        return Outcome(SubjectOutcome.NOT_FOUND), (), (), 0
    extra = people_in(uow, [p.profile_id for p in found if p.profile_id not in subject.profile_ids])
    requester = _requester(batch, tenant_id)
    if batch.mode is DeletionMode.SOFT:
        hidden = 0
        for profile in found:
            if profile.state is ProfileState.ACTIVE:
                soft_delete_found(uow, caller=requester, profile=profile, now=now)
                hidden += 1
        hid = tuple(p.profile_id for p in found)
        return Outcome(SubjectOutcome.DELETED, counts={"profiles": hidden}), hid, (), extra
    started = []
    for profile in found:
        if batch.suppressing:
            suppress_profile(
                uow, profile_id=profile.profile_id, now=now, hasher=hasher, job_id=job_id
            )
        started.append(
            begin_purge_of(
                uow, caller=requester, profile=profile, subject_hash=subject.subject_hash, now=now
            )
        )
    outcome = SubjectOutcome.SUPPRESSED if batch.suppressing else SubjectOutcome.DELETED
    return Outcome(outcome), tuple(p.profile_id for p in found), tuple(started), extra


def _requester(batch: BatchPayload, tenant_id: str) -> Caller:
    """Who asked for the batch, as the single-subject services expect a caller."""
    tenant = Tenant(
        tenant_id=tenant_id, name="", revival_window_seconds=batch.revival_window_seconds
    )
    return Caller(
        tenant=tenant, surface=Surface(batch.surface), credential_ref=batch.credential_ref
    )


def _finish(
    uow: UnitOfWork,
    *,
    job_id: int,
    batch: BatchPayload,
    progress: BatchProgress,
    states: dict[int, dict[str, Any]],
    now: int,
) -> None:
    outcomes = dict(progress.outcomes)
    totals: Counter[str] = Counter()
    problems: list[str] = []
    for index, children in progress.children.items():
        counts: Counter[str] = Counter()
        failure = None
        for child in children:
            child_state = states[child]
            child_result = child_state["result"] or {}
            counts.update(child_result.get("counts") or {})
            if child_state["state"] != JobState.COMPLETED.value:
                failure = child_result.get("reason") or child_state["last_error"]
        totals.update(counts)
        if failure is not None:
            outcomes[index] = Outcome(SubjectOutcome.FAILED, dict(counts), str(failure))
            problems.append(f"subject {index}: {failure}")
        elif index in outcomes:
            outcomes[index] = replace(outcomes[index], counts=dict(counts))
    if batch.mode is DeletionMode.SOFT:
        for outcome in outcomes.values():
            if outcome.outcome is SubjectOutcome.DELETED:
                totals.update(outcome.counts or {})
    # The closing check: nothing of any subject may be left, whether found by the profiles its
    # deletion purged or by its values (an identifier, an email attribute).
    for subject in batch.subjects:
        left = _left_of(
            uow, batch=batch, subject=subject, deleted=progress.deleted.get(subject.index, ())
        )
        if left:
            problems.append(f"subject {subject.index}: {left}")
            outcomes[subject.index] = Outcome(SubjectOutcome.FAILED, reason=left)
    state = JobState.PARTIAL if problems else JobState.COMPLETED
    final = replace(
        progress,
        outcomes=outcomes,
        counts=dict(sorted(totals.items())),
        reason="; ".join(problems) or None,
    )
    uow.jobs.finish(job_id, state=state.value, result=final.to_json(), now=now)
    # The batch has ended: the values it held to find its subjects are erased with it.
    uow.jobs.set_payload(job_id, batch.erased().to_json())


def _left_of(
    uow: UnitOfWork, *, batch: BatchPayload, subject: BatchSubject, deleted: tuple[int, ...]
) -> str | None:
    """Why the subject is not gone, or None when nothing of it is left."""
    if _still_held(uow, batch=batch, subject=subject):
        return f"its {subject.id_type} still names a profile after {MAX_DELETION_ROUNDS} rounds"
    if batch.mode is DeletionMode.SOFT:
        return None
    for profile_id in sorted({*subject.profile_ids, *deleted}):
        left = {k: n for k, n in uow.person_rows.count("profile", profile_id).items() if n}
        if left:
            rows = ", ".join(f"{k}={n}" for k, n in sorted(left.items()))
            return f"rows left after the purge: {rows}"
    return None
