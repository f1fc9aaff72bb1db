"""The worker's side of a batch: one transaction of deletions at a time, then the closing check.

Each step deletes a chunk of the subjects still pending (soft deletes in place, hard deletes
through one purge job per profile), resolving every subject again by its value and by the
profiles it named at submission. Once every purge has ended, a subject still found by value is
deleted again (a bounded number of rounds), and the batch ends ``completed`` only if nothing of
any subject is left, else ``partial``; either way its values are erased from the job row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from obliviate.domain.deletion import (
    MAX_DELETION_ROUNDS,
    TERMINAL_JOB_STATES,
    BatchPayload,
    BatchProgress,
    BatchStep,
    BatchSubject,
    DeletionMode,
    JobState,
    Outcome,
    SubjectOutcome,
)
from obliviate.domain.profiles import ProfileState
from obliviate.domain.tenants import Caller, Surface, Tenant
from obliviate.services.batches.subjects import holders, live, resolve
from obliviate.services.deletions import begin_purge_of, people_in, soft_delete_found
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import SubjectHasher, UnitOfWork
from obliviate.services.suppression import suppress_profile


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
    return any(live(p, batch.mode) for p in holders(uow, subject.id_type, subject.lookup_hash))


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
    found = resolve(
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
