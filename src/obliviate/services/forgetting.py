"""Replaying the forget log onto a restored database: what was deleted or suppressed after the
backup was taken is deleted or suppressed again, before any surface serves the data.

Rules that make a replay safe to run on any backup, from any point of the log:
- a profile named by its id is that person (ids are never reused); a profile found by the
  lookup hash of an identifier is touched only if it was created no later than the entry
  (``created_at <= at``): a person re-created after a deletion, whom a backup taken a moment
  later may hold, is not deleted by the older entry;
- every step is idempotent: a profile already purging, a suppression already there, a
  soft-deleted profile already so until the same time is left alone, so replaying twice
  changes nothing the second time;
- each entry is one transaction: a crash mid-replay leaves a prefix applied, and the next
  ``restore`` starts again from the backup.

Purges begun here run as ordinary purge jobs when a worker starts; their receipts name the
``system`` surface and the credential ``forget-log``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace

from obliviate.domain.deletion import PurgeReason
from obliviate.domain.devices import REGISTRATION_ID
from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.domain.identifiers import IdentifierType
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.services.deletions import begin_expiry_purge, begin_purge
from obliviate.services.devices import begin_device_purge
from obliviate.services.ports import SubjectHasher, UnitOfWork, UnitOfWorkFactory
from obliviate.services.suppression import suppress_profile

SURFACE = "system"
CREDENTIAL_REF = "forget-log"
UUID = IdentifierType.UUID.value
EMAIL = IdentifierType.EMAIL.value


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """What a replay changed, in counts only."""

    entries: int = 0
    # Entries that found nothing left to do (already reflected in the backup, or naming
    # people the backup never held).
    unchanged: int = 0
    profiles_purged: int = 0
    profiles_soft_deleted: int = 0
    profiles_revived: int = 0
    devices_purged: int = 0
    suppressions_added: int = 0
    suppressions_removed: int = 0

    def __add__(self, other: ReplaySummary) -> ReplaySummary:
        return ReplaySummary(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def changes(self) -> int:
        return (
            self.profiles_purged
            + self.profiles_soft_deleted
            + self.profiles_revived
            + self.devices_purged
            + self.suppressions_added
            + self.suppressions_removed
        )


def replay(
    uow_factory: UnitOfWorkFactory,
    entries: Iterable[ForgetEntry],
    *,
    hasher: SubjectHasher,
    now: int,
    factory_for_key: Callable[[str | None], UnitOfWorkFactory] | None = None,
) -> ReplaySummary:
    """Apply ``entries`` in order, each in its own transaction.

    ``factory_for_key``: units of work that record suppressions as made under a given
    deployment key; a suppression entry is replayed with the key that made its hash, so that
    ``obliviate keys rotate`` keeps reporting that key as needed. Without it, ``uow_factory``.
    """
    total = ReplaySummary()
    for entry in entries:
        factory = uow_factory
        if factory_for_key is not None and entry.kind in _KEYED:
            factory = factory_for_key(entry.key_id)
        with factory(entry.tenant_id, write=True) as uow:
            done = _APPLY[entry.kind](uow, entry, hasher, now)
            # The services called here record what they delete for the forget log; it is
            # already there (this is its replay), so nothing is appended again.
            uow.take_forgotten()
            uow.commit()
        counted = ReplaySummary(entries=1, unchanged=0 if done.changes else 1)
        total = total + done + counted
    return total


def _current(uow: UnitOfWork, profile_id: int, *, created_by: int | None) -> Profile | None:
    """The profile, locked, unless it is gone, already purging, or (``created_by`` given)
    created after that time."""
    profile = uow.profiles.get(profile_id, for_update=True)
    if profile is None or profile.state is ProfileState.PURGING:
        return None
    if created_by is not None and profile.created_at > created_by:
        return None
    return profile


def _purging(uow: UnitOfWork, profile_id: int) -> bool:
    profile = uow.profiles.get(profile_id)
    return profile is not None and profile.state is ProfileState.PURGING


def _subject_hash(uow: UnitOfWork, profile_id: int, hasher: SubjectHasher) -> str:
    # As a hard delete names its subject in the receipt: the keyed hash of the uuid.
    uuid = uow.profiles.uuids_of([profile_id]).get(profile_id)
    return hasher(UUID, uuid) if uuid is not None else hasher("profile_id", str(profile_id))


def _purge_profile(
    uow: UnitOfWork, profile: Profile, entry: ForgetEntry, hasher: SubjectHasher, now: int
) -> ReplaySummary:
    if entry.suppress:
        # Before the purge releases the identifiers it suppresses.
        suppress_profile(uow, profile_id=profile.profile_id, now=now, hasher=hasher, job_id=None)
    begin_purge(
        uow,
        profile=profile,
        reason=PurgeReason.HARD_DELETE,
        subject_hash=_subject_hash(uow, profile.profile_id, hasher),
        surface=SURFACE,
        credential_ref=CREDENTIAL_REF,
        requested_at=entry.at,
        now=now,
    )
    return ReplaySummary(profiles_purged=1)


def _soft_delete_profile(
    uow: UnitOfWork, profile: Profile, entry: ForgetEntry, hasher: SubjectHasher, now: int
) -> ReplaySummary:
    # Without a deadline in the entry the profile is not revivable: hidden for good is the
    # side a replay errs on.
    until = entry.revivable_until if entry.revivable_until is not None else entry.at
    if profile.state is ProfileState.SOFT_DELETED and profile.revivable_until == until:
        if until > now:
            return ReplaySummary()
    else:
        profile = replace(
            profile,
            state=ProfileState.SOFT_DELETED,
            updated_at=now,
            deleted_at=entry.at,
            revivable_until=until,
            deletion_request={
                "surface": SURFACE,
                "credential_ref": CREDENTIAL_REF,
                "requested_at": entry.at,
            },
        )
        uow.profiles.save(profile)
    if until <= now:
        # The window ended while the backup lay unused: purged now, as the worker's sweep
        # would have done, rather than left for it.
        subject = _subject_hash(uow, profile.profile_id, hasher)
        begin_expiry_purge(uow, profile=profile, subject_hash=subject, now=now)
        return ReplaySummary(profiles_purged=1)
    return ReplaySummary(profiles_soft_deleted=1)


def _profiles_named(uow: UnitOfWork, entry: ForgetEntry) -> list[Profile]:
    """The profiles an entry names, by id and by identifier lookup hash, locked in ascending
    id order (as every writer locks profiles)."""
    by_hash: set[int] = set()
    for id_type, value_hash in entry.hashes:
        held = uow.profiles.find_by_lookup_hash(id_type, value_hash)
        if held is not None:
            by_hash.add(held.profile_id)
        if id_type == EMAIL:
            by_hash.update(p.profile_id for p in uow.profiles.with_email_lookup_hash(value_hash))
    by_id = set(entry.profile_ids)
    found = (
        _current(uow, pid, created_by=None if pid in by_id else entry.at)
        for pid in sorted(by_id | by_hash)
    )
    return [p for p in found if p is not None]


def _purge_device(
    uow: UnitOfWork, device_id: int, entry: ForgetEntry, hasher: SubjectHasher, now: int
) -> ReplaySummary:
    # Only a live device: one already retired (replayed before, or its purge pending in the
    # backup) is on its way out and gets no second purge.
    device = uow.devices.live_by_id(device_id, for_update=True)
    if device is None:
        return ReplaySummary()
    begin_device_purge(
        uow,
        device=device,
        subject_hash=hasher(REGISTRATION_ID, device.registration_id),
        surface=SURFACE,
        credential_ref=CREDENTIAL_REF,
        requested_at=entry.at,
        now=now,
    )
    return ReplaySummary(devices_purged=1)


def _hard_delete(
    uow: UnitOfWork, entry: ForgetEntry, hasher: SubjectHasher, now: int
) -> ReplaySummary:
    done = ReplaySummary()
    if any(_purging(uow, pid) for pid in entry.profile_ids):
        # The entry is already applied here (replayed before, or in the backup): the purge
        # that began then took its devices.
        return done
    covered: set[int] = set()
    for profile in _profiles_named(uow, entry):
        # The purge of a profile takes the devices it owns in the restored database.
        covered.update(d.device_id for d in uow.devices.owned_live(profile.profile_id))
        done = done + _purge_profile(uow, profile, entry, hasher, now)
    for device_id in entry.device_ids:
        if device_id not in covered:
            # Owned by the person when they were deleted, but not yet in the backup.
            done = done + _purge_device(uow, device_id, entry, hasher, now)
    return done


def _device_delete(
    uow: UnitOfWork, entry: ForgetEntry, hasher: SubjectHasher, now: int
) -> ReplaySummary:
    done = ReplaySummary()
    for device_id in entry.device_ids:
        done = done + _purge_device(uow, device_id, entry, hasher, now)
    return done


def _soft_delete(
    uow: UnitOfWork, entry: ForgetEntry, hasher: SubjectHasher, now: int
) -> ReplaySummary:
    done = ReplaySummary()
    for profile in _profiles_named(uow, entry):
        done = done + _soft_delete_profile(uow, profile, entry, hasher, now)
    return done


def _revive(uow: UnitOfWork, entry: ForgetEntry, _hasher: SubjectHasher, now: int) -> ReplaySummary:
    done = ReplaySummary()
    for profile in _profiles_named(uow, entry):
        if profile.state is ProfileState.SOFT_DELETED:
            uow.profiles.save(
                replace(
                    profile,
                    state=ProfileState.ACTIVE,
                    updated_at=now,
                    deleted_at=None,
                    revivable_until=None,
                    deletion_request=None,
                )
            )
            done = done + ReplaySummary(profiles_revived=1)
    return done


def _subjects_delete(
    uow: UnitOfWork, entry: ForgetEntry, hasher: SubjectHasher, now: int
) -> ReplaySummary:
    """A batch deletion: its subjects resolved by lookup hash in the restored database."""
    done = ReplaySummary()
    hard = entry.mode == "hard"
    for profile in _profiles_named(uow, entry):
        if hard:
            done = done + _purge_profile(uow, profile, entry, hasher, now)
        elif profile.state is ProfileState.ACTIVE:
            # A soft batch hides active profiles only, as the batch itself does.
            done = done + _soft_delete_profile(uow, profile, entry, hasher, now)
    return done


def _suppress(
    uow: UnitOfWork, entry: ForgetEntry, _hasher: SubjectHasher, _now: int
) -> ReplaySummary:
    added = sum(
        uow.suppressions.add(id_type, value_hash, now=entry.at, job_id=None)
        for id_type, value_hash in entry.hashes
    )
    return ReplaySummary(suppressions_added=added)


def _unsuppress(
    uow: UnitOfWork, entry: ForgetEntry, _hasher: SubjectHasher, _now: int
) -> ReplaySummary:
    removed = sum(uow.suppressions.remove(id_type, h) for id_type, h in entry.hashes)
    return ReplaySummary(suppressions_removed=removed)


_Apply = Callable[[UnitOfWork, ForgetEntry, SubjectHasher, int], ReplaySummary]

_APPLY: dict[ForgetKind, _Apply] = {
    ForgetKind.HARD_DELETE: _hard_delete,
    ForgetKind.DEVICE_DELETE: _device_delete,
    ForgetKind.SOFT_DELETE: _soft_delete,
    ForgetKind.REVIVE: _revive,
    ForgetKind.SUBJECTS_DELETE: _subjects_delete,
    ForgetKind.SUPPRESS: _suppress,
    ForgetKind.UNSUPPRESS: _unsuppress,
}

# Entries whose hashes are suppression hashes, made under the key the entry names.
_KEYED = frozenset({ForgetKind.SUPPRESS, ForgetKind.UNSUPPRESS})
