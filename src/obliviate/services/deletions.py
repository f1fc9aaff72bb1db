"""Soft and hard deletion of a profile, and the purge that removes its rows for good."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from obliviate.domain.deletion import PURGE_PROFILE, Erasure, JobState, PurgeReason
from obliviate.domain.errors import ProfileNotFound
from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.domain.identifiers import IdentifierType, uuid_value
from obliviate.domain.profiles import Profile, ProfileState, revival_deadline
from obliviate.domain.tenants import Caller
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import SubjectHasher, UnitOfWork
from obliviate.services.receipts import append_receipt
from obliviate.services.suppression import suppress_profile

UUID = IdentifierType.UUID.value


@dataclass(frozen=True, slots=True)
class DeletionAccepted:
    profile_id: int
    job_id: int | None
    revivable_until: int | None


def _caller_request(caller: Caller, now: int) -> dict[str, Any]:
    return {
        "surface": caller.surface.value,
        "credential_ref": caller.credential_ref,
        "requested_at": now,
    }


def soft_delete_profile(
    uow: UnitOfWork, *, caller: Caller, uuid: str, now: int, confirmed: bool = False
) -> DeletionAccepted:
    """Hide an active profile at once; it may be revived until the tenant's window ends."""
    uuid = uuid_value(uuid)
    profile = uow.profiles.find_by_identifier(UUID, uuid, for_update=True)
    if profile is None or profile.state is not ProfileState.ACTIVE:
        raise ProfileNotFound(UUID, uuid)
    admit_deletions(
        uow,
        tenant=caller.tenant,
        count=people_in(uow, [profile.profile_id]),
        confirmed=confirmed,
        now=now,
    )
    soft_delete_found(uow, caller=caller, profile=profile, now=now)
    return DeletionAccepted(
        profile.profile_id, None, revival_deadline(now, caller.tenant.revival_window_seconds)
    )


def people_in(uow: UnitOfWork, profile_ids: Iterable[int]) -> int:
    """How many people deleting these profiles removes, as the guard counts them: each profile
    with every person folded into it, so a merge cannot turn a hundred deletions into one."""
    return sum(uow.profiles.folded(pid).people for pid in profile_ids)


def soft_delete_found(uow: UnitOfWork, *, caller: Caller, profile: Profile, now: int) -> None:
    until = revival_deadline(now, caller.tenant.revival_window_seconds)
    uow.profiles.save(
        replace(
            profile,
            state=ProfileState.SOFT_DELETED,
            updated_at=now,
            deleted_at=now,
            revivable_until=until,
            deletion_request=_caller_request(caller, now),
        )
    )
    uow.forget(
        ForgetEntry(
            ForgetKind.SOFT_DELETE,
            tenant_id=uow.tenant_id,
            at=now,
            profile_ids=(profile.profile_id, *uow.profiles.merged_into(profile.profile_id)),
            revivable_until=until,
        )
    )


def hard_delete_profile(
    uow: UnitOfWork,
    *,
    caller: Caller,
    uuid: str,
    now: int,
    hasher: SubjectHasher,
    confirmed: bool = False,
    suppress: bool = False,
) -> DeletionAccepted:
    """Hide a profile for good and enqueue its purge, in the caller's transaction.

    A soft-deleted profile may be hard-deleted too: that is how a person's data is removed
    before the revival window ends.
    """
    uuid = uuid_value(uuid)
    profile = uow.profiles.find_by_identifier(UUID, uuid, for_update=True)
    if profile is None or profile.state is ProfileState.PURGING:
        raise ProfileNotFound(UUID, uuid)
    admit_deletions(
        uow,
        tenant=caller.tenant,
        count=people_in(uow, [profile.profile_id]),
        confirmed=confirmed,
        now=now,
    )
    if suppress:
        suppress_profile(uow, profile_id=profile.profile_id, now=now, hasher=hasher, job_id=None)
    job_id = begin_purge_of(
        uow, caller=caller, profile=profile, subject_hash=hasher(UUID, uuid), now=now
    )
    return DeletionAccepted(profile.profile_id, job_id, None)


def begin_purge_of(
    uow: UnitOfWork, *, caller: Caller, profile: Profile, subject_hash: str, now: int
) -> int:
    """A hard delete asked for by ``caller``: hide now, purge in a job."""
    return begin_purge(
        uow,
        profile=profile,
        reason=PurgeReason.HARD_DELETE,
        subject_hash=subject_hash,
        surface=caller.surface.value,
        credential_ref=caller.credential_ref,
        requested_at=now,
        now=now,
    )


def begin_purge(
    uow: UnitOfWork,
    *,
    profile: Profile,
    reason: PurgeReason,
    subject_hash: str,
    surface: str,
    credential_ref: str,
    requested_at: int,
    now: int,
) -> int:
    """Make the profile and its devices unreachable, and enqueue the removal of their rows.

    Identifiers and device aliases are released here, in the request's transaction, so the same
    uuid can start a new profile at once; they count toward the receipt.
    """
    uow.profiles.save(
        replace(profile, state=ProfileState.PURGING, updated_at=now, revivable_until=None)
    )
    folded = uow.profiles.merged_into(profile.profile_id)
    identifiers = uow.profiles.release_identifiers(profile.profile_id)
    retired = uow.devices.retire_owned_by(profile.profile_id, now=now)
    owned, aliases = retired.device_ids, retired.aliases
    # The keys go before any row: from this commit on, no copy of the person's values can be
    # opened, whatever the purge of the rows still has to do.
    keys = uow.profiles.shred(profile.profile_id, owned)
    uow.forget(
        ForgetEntry(
            ForgetKind.HARD_DELETE,
            tenant_id=uow.tenant_id,
            at=now,
            profile_ids=(profile.profile_id, *folded),
            device_ids=owned,
        )
    )
    return uow.jobs.enqueue(
        kind=PURGE_PROFILE,
        payload={
            "subject_kind": "profile",
            "subject_id": profile.profile_id,
            "reason": reason.value,
            "subject_hash": subject_hash,
            "surface": surface,
            "credential_ref": credential_ref,
            "requested_at": requested_at,
            "released": {"identifiers": identifiers, "aliases": aliases, "keys": keys},
        },
        now=now,
    )


class PurgeProgress(Enum):
    # More rows to remove: call again.
    MORE = "more"
    # Every row is gone; the job waits for its physical erasure (``finish_erasure``).
    ERASE = "erase"
    # The job ended (partial) or is no longer this worker's.
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class PurgeStep:
    progress: PurgeProgress
    # When the last rows went (ERASE only).
    purged_at: int | None = None


def purge_step(
    uow: UnitOfWork,
    *,
    job_id: int,
    payload: dict[str, Any],
    batch_size: int,
    now: int,
    worker_id: str,
    lease_until: int | None = None,
) -> PurgeStep:
    """Remove one batch of the subject's rows; after the last, verify and mark the job as
    waiting for its physical erasure.

    Each step is its own transaction and records its progress in the job (and, given
    ``lease_until``, extends the worker's lease), so a crash at any point resumes where it
    stopped and counts nothing twice.
    """
    kind, subject_id = str(payload["subject_kind"]), int(payload["subject_id"])
    # Progress is read from the locked job row, not memory, so a job taken over after a crash
    # or an expired lease continues the count, and a worker that lost the job stops here.
    result = uow.jobs.hold(job_id, worker_id)
    if result is None:
        return PurgeStep(PurgeProgress.ENDED)
    if result.get("purged_at") is not None:
        return PurgeStep(PurgeProgress.ERASE, int(result["purged_at"]))
    counts: dict[str, int] = dict(result.get("counts") or payload.get("released") or {})
    for target in uow.person_rows.kinds(kind):
        removed = uow.person_rows.delete_batch(kind, target, subject_id, batch_size)
        counts[target] = counts.get(target, 0) + removed
        if removed == batch_size:
            uow.jobs.set_result(
                job_id, {**result, "counts": counts}, now=now, lease_until=lease_until
            )
            return PurgeStep(PurgeProgress.MORE)
    left = {name: n for name, n in uow.person_rows.count(kind, subject_id).items() if n}
    if left:
        # The subject is unreachable, so nothing should have added rows: say so, never claim
        # completion over a leftover.
        reason = "rows left after the purge: " + ", ".join(f"{k}={n}" for k, n in left.items())
        uow.jobs.finish(
            job_id,
            state=JobState.PARTIAL.value,
            result={
                "counts": counts,
                "leftover": left,
                "reason": reason,
                "erasure": Erasure().to_json(),
            },
            now=now,
        )
        return PurgeStep(PurgeProgress.ENDED)
    uow.jobs.set_result(
        job_id,
        {"counts": counts, "purged_at": now, "erasure": Erasure().to_json()},
        now=now,
        lease_until=lease_until,
    )
    return PurgeStep(PurgeProgress.ERASE, now)


def finish_erasure(
    uow: UnitOfWork, *, job_id: int, payload: dict[str, Any], worker_id: str, now: int
) -> bool:
    """The subject's bytes are unreadable on disk (an erasure pass ran after its purge):
    write the receipt, which records when, and complete the job. False if the job is no
    longer this worker's."""
    result = uow.jobs.hold(job_id, worker_id)
    if result is None or result.get("purged_at") is None:
        return False
    counts = dict(result.get("counts") or {})
    receipt_id = append_receipt(
        uow,
        job_id=job_id,
        surface=str(payload["surface"]),
        credential_ref=str(payload["credential_ref"]),
        subject_hash=str(payload["subject_hash"]),
        reason=str(payload["reason"]),
        counts=counts,
        requested_at=int(payload["requested_at"]),
        now=now,
        erased_at=now,
    )
    uow.jobs.finish(
        job_id,
        state=JobState.COMPLETED.value,
        result={
            "counts": counts,
            "receipt_id": receipt_id,
            "erasure": Erasure.done(now).to_json(),
        },
        now=now,
    )
    return True


def purge_expired(uow: UnitOfWork, *, now: int, hasher: SubjectHasher, limit: int) -> int:
    """Start the purge of every soft-deleted profile whose revival window has ended."""
    expired = uow.profiles.expired_soft_deleted(now=now, limit=limit)
    uuids = uow.profiles.uuids_of([p.profile_id for p in expired])
    for profile in expired:
        subject = hasher(UUID, uuids.get(profile.profile_id, str(profile.profile_id)))
        begin_expiry_purge(uow, profile=profile, subject_hash=subject, now=now)
    return len(expired)


def begin_expiry_purge(uow: UnitOfWork, *, profile: Profile, subject_hash: str, now: int) -> int:
    """Purge a profile whose window ended, on behalf of whoever soft-deleted it."""
    request = profile.deletion_request or {}
    return begin_purge(
        uow,
        profile=profile,
        reason=PurgeReason.REVIVAL_WINDOW_ENDED,
        subject_hash=subject_hash,
        surface=str(request.get("surface", "system")),
        credential_ref=str(request.get("credential_ref", "system")),
        requested_at=int(request.get("requested_at", now)),
        now=now,
    )


def preview_deletion(uow: UnitOfWork, *, profile: Profile, mode: str) -> dict[str, int]:
    """Exactly the counts a real deletion of the profile would report, changing nothing."""
    if mode == "soft":
        return {"profiles": 1 if profile.state is ProfileState.ACTIVE else 0}
    counts = uow.person_rows.count("profile", profile.profile_id)
    counts["aliases"] = sum(1 for d in uow.devices.owned_live(profile.profile_id) if d.alias)
    return dict(sorted(counts.items()))
