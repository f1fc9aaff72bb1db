"""Use cases on profiles shared by every surface: create, update, read, list."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from obliviate.domain.errors import ConflictError, DuplicateProfile, ProfileNotFound
from obliviate.domain.free_form import check_free_form
from obliviate.domain.identifiers import (
    Identifier,
    IdentifierType,
    email_of_attributes,
    uuid_value,
)
from obliviate.domain.profiles import (
    Profile,
    ProfileState,
    has_expired,
    is_revivable,
    merge_attributes,
)
from obliviate.services import forget_entries
from obliviate.services.deletions import begin_expiry_purge
from obliviate.services.ports import IdentifierTaken, ProfileFilter, SubjectHasher, UnitOfWork
from obliviate.services.suppression import (
    refuse_suppressed,
    refuse_suppressed_email,
    refuse_suppressed_revival,
)

UUID = IdentifierType.UUID.value


@dataclass(frozen=True, slots=True)
class ProfileView:
    profile: Profile
    uuid: str


@dataclass(frozen=True, slots=True)
class ProfilePage:
    profiles: list[ProfileView]
    total: int


def _revive(profile: Profile, attributes: dict[str, Any], now: int) -> Profile:
    return replace(
        profile,
        state=ProfileState.ACTIVE,
        attributes=merge_attributes(profile.attributes, attributes),
        updated_at=now,
        deleted_at=None,
        revivable_until=None,
        deletion_request=None,
    )


def _writable(uow: UnitOfWork, *, uuid: str, now: int, hasher: SubjectHasher) -> Profile | None:
    """The profile a write may touch: active or revivable. An expired one is purged on sight."""
    profile = uow.profiles.find_by_identifier(UUID, uuid, for_update=True)
    if profile is None:
        return None
    if has_expired(profile, now):
        begin_expiry_purge(uow, profile=profile, subject_hash=hasher(UUID, uuid), now=now)
        return None
    return profile


def create_profile(
    uow: UnitOfWork,
    *,
    uuid: str,
    attributes: dict[str, Any],
    now: int,
    hasher: SubjectHasher,
) -> tuple[ProfileView, bool]:
    """Create, or revive a soft-deleted profile within its window. Returns (view, revived)."""
    uuid = uuid_value(uuid)
    check_free_form(attributes, field="attributes")
    email_of_attributes(attributes)
    existing = _writable(uow, uuid=uuid, now=now, hasher=hasher)
    if existing is not None:
        if existing.state is ProfileState.ACTIVE:
            raise DuplicateProfile(UUID, uuid)
        revived = _revive(existing, attributes, now)
        refuse_suppressed_revival(
            uow, profile_id=revived.profile_id, attributes=revived.attributes, hasher=hasher
        )
        uow.profiles.save(revived)
        forget_entries.revived(uow, [revived.profile_id], now=now)
        return ProfileView(revived, uuid), True
    refuse_suppressed(uow, identifiers=[Identifier(UUID, uuid)], hasher=hasher)
    refuse_suppressed_email(uow, attributes=attributes, hasher=hasher)
    profile = uow.profiles.insert(attributes=attributes, now=now)
    try:
        uow.profiles.add_identifier(
            id_type=UUID, value=uuid, profile_id=profile.profile_id, now=now
        )
    except IdentifierTaken as exc:
        # Another request created the same uuid between our look-up and insert.
        raise DuplicateProfile(UUID, uuid) from exc
    return ProfileView(profile, uuid), False


def update_profile(
    uow: UnitOfWork,
    *,
    uuid: str,
    changes: dict[str, Any],
    now: int,
    hasher: SubjectHasher,
) -> ProfileView:
    """Partial update; revives a soft-deleted profile within its window."""
    uuid = uuid_value(uuid)
    check_free_form(changes, field="attributes")
    existing = _writable(uow, uuid=uuid, now=now, hasher=hasher)
    if existing is None:
        raise ProfileNotFound(UUID, uuid)
    if is_revivable(existing, now):
        updated = _revive(existing, changes, now)
        refuse_suppressed_revival(
            uow, profile_id=updated.profile_id, attributes=updated.attributes, hasher=hasher
        )
        forget_entries.revived(uow, [updated.profile_id], now=now)
    else:
        updated = replace(
            existing, attributes=merge_attributes(existing.attributes, changes), updated_at=now
        )
        if "email" in changes:
            refuse_suppressed_email(uow, attributes=changes, hasher=hasher)
    uow.profiles.save(updated)
    return ProfileView(updated, uuid)


def get_profile(uow: UnitOfWork, *, uuid: str) -> ProfileView:
    uuid = uuid_value(uuid)
    profile = uow.profiles.find_by_identifier(UUID, uuid)
    if profile is None or profile.state is not ProfileState.ACTIVE:
        raise ProfileNotFound(UUID, uuid)
    return ProfileView(profile, uuid)


def list_profiles(
    uow: UnitOfWork,
    *,
    flt: ProfileFilter,
    after: int | None,
    limit: int,
    descending: bool = False,
) -> ProfilePage:
    found = uow.profiles.list_active(flt, after=after, limit=limit, descending=descending)
    uuids = uow.profiles.uuids_of([p.profile_id for p in found])
    views = [ProfileView(p, uuids.get(p.profile_id, "")) for p in found]
    return ProfilePage(views, uow.profiles.count_active(flt))


def scan_profiles(
    uow: UnitOfWork, *, flt: ProfileFilter, chunk: int = 500
) -> Iterator[ProfileView]:
    """Every active profile the filter selects, in creation order, a chunk at a time: for
    queries storage cannot answer by index (attributes are sealed, so only the profile's own
    process can read them)."""
    after: int | None = None
    while True:
        found = uow.profiles.list_active(flt, after=after, limit=chunk, descending=False)
        uuids = uow.profiles.uuids_of([p.profile_id for p in found])
        for profile in found:
            yield ProfileView(profile, uuids.get(profile.profile_id, ""))
        if len(found) < chunk:
            return
        after = found[-1].profile_id


def restore_profile(uow: UnitOfWork, *, uuid: str, now: int, hasher: SubjectHasher) -> ProfileView:
    """Undo a soft delete within the revival window."""
    uuid = uuid_value(uuid)
    profile = uow.profiles.find_by_identifier(UUID, uuid, for_update=True)
    if profile is not None and profile.state is ProfileState.ACTIVE:
        raise ConflictError("the profile is not deleted")
    return update_profile(uow, uuid=uuid, changes={}, now=now, hasher=hasher)


def profile_identifiers(uow: UnitOfWork, *, profile_id: int) -> list[tuple[str, str]]:
    return uow.profiles.identifiers_of(profile_id)
