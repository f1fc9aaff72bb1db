"""Which profiles a batch subject names now: when the batch is accepted, and again when it runs."""

from __future__ import annotations

from collections.abc import Sequence

from obliviate.domain.deletion import DeletionMode
from obliviate.domain.identifiers import Identifier, IdentifierType
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.services.ports import UnitOfWork


def live(profile: Profile | None, mode: DeletionMode) -> bool:
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


def holders(uow: UnitOfWork, id_type: str, lookup_hash: str) -> list[Profile]:
    """The profiles a stored lookup hash names now: as an identifier, and an email also as
    the ``email`` attribute (as ``identity.holders_of`` finds them by value)."""
    held = uow.profiles.find_by_lookup_hash(id_type, lookup_hash)
    found = [] if held is None else [held]
    if id_type == IdentifierType.EMAIL:
        found.extend(uow.profiles.with_email_lookup_hash(lookup_hash))
    return found


def resolve(
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
        set() if lookup_hash is None else {p.profile_id for p in holders(uow, id_type, lookup_hash)}
    )
    ids.update(f for pid in profile_ids if (f := _followed(uow, pid)) is not None)
    locked = (uow.profiles.get(pid, for_update=True) for pid in sorted(ids))
    return [p for p in locked if p is not None and live(p, mode)]


def resolve_once(
    uow: UnitOfWork, ident: Identifier, mode: DeletionMode, seen: set[int]
) -> list[Profile]:
    """A person named twice in one batch is deleted (and counted) once; the repeat is not found."""
    lookup_hash = uow.profiles.lookup_hash(ident.id_type, ident.value)
    found = resolve(uow, id_type=ident.id_type, lookup_hash=lookup_hash, profile_ids=(), mode=mode)
    fresh = [p for p in found if p.profile_id not in seen]
    seen.update(p.profile_id for p in fresh)
    return fresh
