"""Identity resolution: find a person by any of their identifiers, merging when they disagree.

Used by Insider's upsert and identifier endpoints; the rules are the same for every surface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, cast

from obliviate.domain.errors import (
    IdentifierInUse,
    IdentifierUnchanged,
    MergeLimitExceeded,
    ProfileNotFound,
    SoleIdentifier,
    Suppressed,
    ValidationError,
)
from obliviate.domain.events import NewEvent
from obliviate.domain.free_form import check_free_form
from obliviate.domain.identifiers import (
    Identifier,
    IdentifierType,
    email_of_attributes,
    stored_email_of_attributes,
)
from obliviate.domain.profiles import (
    Profile,
    ProfileState,
    has_expired,
    merge_attributes,
)
from obliviate.domain.tenants import Caller, Tenant
from obliviate.services import forget_entries
from obliviate.services.deletions import begin_expiry_purge, begin_purge_of, people_in
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import IdentifierTaken, SubjectHasher, UnitOfWork
from obliviate.services.suppression import (
    refuse_suppressed,
    refuse_suppressed_email,
    refuse_suppressed_revival,
)

UUID = IdentifierType.UUID.value
EMAIL = IdentifierType.EMAIL.value


@dataclass(frozen=True, slots=True)
class PersonInput:
    identifiers: Sequence[Identifier]
    attributes: dict[str, Any] = field(default_factory=dict)
    events: Sequence[NewEvent] = ()


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    profile_id: int
    created: bool
    revived: bool
    merged: tuple[int, ...]


# What refuses one person of a batch, and not the batch: answered in that person's place.
PersonRefused = IdentifierInUse | Suppressed | ValidationError
_REFUSALS = (IdentifierInUse, Suppressed, ValidationError)


def holders_of(uow: UnitOfWork, ident: Identifier, *, email_attribute: bool) -> list[Profile]:
    """The profiles a value names now (unlocked): as an identifier, and with
    ``email_attribute`` an email also as the ``email`` attribute, which several Gainsight users
    may share. Deletions and suppressions of an email cover both."""
    held = uow.profiles.find_by_identifier(ident.id_type, ident.value)
    found = [] if held is None else [held]
    if email_attribute and ident.id_type == IdentifierType.EMAIL:
        found.extend(uow.profiles.with_email_attribute(ident.value))
    return found


def _pointed(
    uow: UnitOfWork, identifiers: Sequence[Identifier], email_attribute: bool
) -> dict[int, Identifier]:
    pointed: dict[int, Identifier] = {}
    for ident in identifiers:
        for profile in holders_of(uow, ident, email_attribute=email_attribute):
            pointed.setdefault(profile.profile_id, ident)
    return pointed


def _resolve(
    uow: UnitOfWork,
    identifiers: Sequence[Identifier],
    *,
    now: int,
    hasher: SubjectHasher | None,
    email_attribute: bool = False,
) -> dict[int, Profile]:
    """Every live profile the identifiers point at, locked when writing (``hasher`` given).

    Writers lock in ascending profile id, whatever order the identifiers came in, so two
    requests naming the same people in opposite orders cannot deadlock. A profile past its
    revival window does not count; a writer purges it on sight.
    """
    for _ in range(5):
        pointed = _pointed(uow, identifiers, email_attribute)
        if hasher is None:
            locked = {pid: uow.profiles.get(pid) for pid in pointed}
        else:
            locked = {pid: uow.profiles.get(pid, for_update=True) for pid in sorted(pointed)}
            # A concurrent merge may have moved an identifier while we were not holding locks.
            if set(_pointed(uow, identifiers, email_attribute)) != set(pointed):
                continue
        found: dict[int, Profile] = {}
        for pid, profile in locked.items():
            if profile is None or profile.state is ProfileState.PURGING:
                continue
            if has_expired(profile, now):
                if hasher is not None:
                    ident = pointed[pid]
                    begin_expiry_purge(
                        uow,
                        profile=profile,
                        subject_hash=hasher(ident.id_type, ident.value),
                        now=now,
                    )
                continue
            found[pid] = profile
        return found
    raise IdentifierInUse("identifiers")  # still moving after several tries: let the caller retry


def _survivor_first(profiles: Sequence[Profile]) -> list[Profile]:
    # Active beats soft-deleted; among equals the oldest profile survives.
    return sorted(
        profiles, key=lambda p: (p.state is not ProfileState.ACTIVE, p.created_at, p.profile_id)
    )


def _refuse_large_merge(
    uow: UnitOfWork,
    *,
    tenant: Tenant,
    found: dict[int, Profile],
    held: set[tuple[str, str]],
    person: PersonInput,
    confirmed: bool,
) -> None:
    """Folding many people into one is what a shared placeholder identifier (a support
    address, ``unknown@example.com``) does, by merging their profiles or by attaching their
    uuids to one: it loses their attributes and makes one later deletion remove them all.
    Counted with the people each profile already stands for, so it cannot be done a few at a
    time either."""
    if confirmed or not found:
        return
    new_uuids = {
        i.value
        for i in person.identifiers
        if i.id_type == UUID and (i.id_type, i.value) not in held
    }
    if len(found) < 2 and not new_uuids:
        return  # the common upsert: one known person, nothing folded in
    merged = sum(1 + uow.profiles.folded(pid).merged for pid in found)
    uuids = len({v for t, v in held if t == UUID} | new_uuids)
    folding = max(merged, uuids) - 1
    if folding > tenant.merge_limit:
        raise MergeLimitExceeded(folding, tenant.merge_limit)


def upsert_person(
    uow: UnitOfWork,
    *,
    tenant: Tenant,
    person: PersonInput,
    now: int,
    hasher: SubjectHasher,
    confirmed: bool = False,
) -> UpsertOutcome:
    """One person: ``upsert_people`` of one, raising what refuses it."""
    (result,) = upsert_people(
        uow, tenant=tenant, people=[person], now=now, hasher=hasher, confirmed=confirmed
    )
    if isinstance(result, UpsertOutcome):
        return result
    raise result


def upsert_people(
    uow: UnitOfWork,
    *,
    tenant: Tenant,
    people: Sequence[PersonInput],
    now: int,
    hasher: SubjectHasher,
    confirmed: bool = False,
) -> list[UpsertOutcome | PersonRefused]:
    """Each person in turn, as if in a savepoint of its own: one refused (``PersonRefused``, in
    its place) leaves nothing behind; each sees what those before it wrote. Read and written
    at once (``Profiles.run_staged``): a few statements per table, not a dozen per person."""
    values = [(i.id_type, i.value) for p in people for i in p.identifiers]
    # What the suppression checks will ask: the identifiers, and the emails of the attributes.
    emails = [(EMAIL, e) for p in people if (e := stored_email_of_attributes(p.attributes))]
    uow.suppressions.prefetch([(t, h) for t, v in values + emails for h in hasher.all_hashes(t, v)])
    try:
        results = uow.profiles.run_staged(
            values,
            people,
            partial(_upsert, uow, tenant=tenant, now=now, hasher=hasher, confirmed=confirmed),
            refused=_REFUSALS,
            events=lambda person, outcome: [(outcome.profile_id, e) for e in person.events],
            write_events=partial(uow.events.add_many, now=now),
        )
    finally:
        uow.suppressions.prefetch(())
    return cast(list[UpsertOutcome | PersonRefused], results)


def _upsert(
    uow: UnitOfWork,
    person: PersonInput,
    *,
    tenant: Tenant,
    now: int,
    hasher: SubjectHasher,
    confirmed: bool,
) -> UpsertOutcome:
    """One person's upsert, without its events (the batch writes those)."""
    check_free_form(person.attributes, field="attributes")
    email_of_attributes(person.attributes)
    found = _resolve(uow, person.identifiers, now=now, hasher=hasher)
    held_by = {pid: uow.profiles.identifiers_of(pid) for pid in found}
    held = {pair for pairs in held_by.values() for pair in pairs}
    _refuse_large_merge(
        uow, tenant=tenant, found=found, held=held, person=person, confirmed=confirmed
    )
    held_before = {
        pair
        for pid, pairs in held_by.items()
        if found[pid].state is ProfileState.ACTIVE
        for pair in pairs
    }
    # What an active profile already holds is not re-created; everything else is, and a
    # soft-deleted profile coming back is checked whole (an identifier or its email may have
    # been suppressed since it was deleted).
    refuse_suppressed(
        uow,
        identifiers=[i for i in person.identifiers if (i.id_type, i.value) not in held_before],
        hasher=hasher,
    )
    for profile in found.values():
        if profile.state is ProfileState.SOFT_DELETED:
            refuse_suppressed_revival(
                uow, profile_id=profile.profile_id, attributes=profile.attributes, hasher=hasher
            )
    if "email" in person.attributes:
        refuse_suppressed_email(uow, attributes=person.attributes, hasher=hasher)
    merged: tuple[int, ...] = ()
    if not found:
        profile = uow.profiles.insert(attributes=dict(person.attributes), now=now)
        created, revived = True, False
    else:
        survivor, *others = _survivor_first(list(found.values()))
        attributes = survivor.attributes
        for other in others:
            # The survivor's values win; the merged profile fills what it lacks.
            attributes = merge_attributes(other.attributes, attributes)
            uow.profiles.absorb(
                survivor_id=survivor.profile_id, merged_id=other.profile_id, now=now
            )
        revived = survivor.state is ProfileState.SOFT_DELETED
        forget_entries.revived(
            uow,
            [p.profile_id for p in found.values() if p.state is ProfileState.SOFT_DELETED],
            now=now,
        )
        profile = replace(
            survivor,
            state=ProfileState.ACTIVE,
            attributes=merge_attributes(attributes, person.attributes),
            updated_at=now,
            deleted_at=None,
            revivable_until=None,
            deletion_request=None,
        )
        uow.profiles.save(profile)
        created, merged = False, tuple(o.profile_id for o in others)
    held = set(uow.profiles.identifiers_of(profile.profile_id))
    for ident in person.identifiers:
        if (ident.id_type, ident.value) in held:
            continue
        try:
            uow.profiles.add_identifier(
                id_type=ident.id_type, value=ident.value, profile_id=profile.profile_id, now=now
            )
        except IdentifierTaken:
            raise IdentifierInUse(ident.id_type) from None
    return UpsertOutcome(profile.profile_id, created, revived, merged)


def find_person(uow: UnitOfWork, *, identifiers: Sequence[Identifier]) -> Profile:
    """The active profile the identifiers name (the oldest, should they name several)."""
    found = _resolve(uow, identifiers, now=0, hasher=None)
    for profile in _survivor_first(list(found.values())):
        if profile.state is ProfileState.ACTIVE:
            return profile
    first = identifiers[0]
    raise ProfileNotFound(first.id_type, first.value)


def _active_by(uow: UnitOfWork, ident: Identifier) -> Profile:
    profile = uow.profiles.find_by_identifier(ident.id_type, ident.value, for_update=True)
    if profile is None or profile.state is not ProfileState.ACTIVE:
        raise ProfileNotFound(ident.id_type, ident.value)
    return profile


def delete_identifier(uow: UnitOfWork, *, ident: Identifier, now: int) -> None:
    """Remove one identifier value from its profile; never the profile's last one."""
    profile = _active_by(uow, ident)
    if len(uow.profiles.identifiers_of(profile.profile_id)) <= 1:
        raise SoleIdentifier()
    uow.profiles.remove_identifier(ident.id_type, ident.value)
    uow.profiles.save(replace(profile, updated_at=now))


def change_identifier(
    uow: UnitOfWork,
    *,
    old: Identifier,
    new: Identifier,
    now: int,
    hasher: SubjectHasher,
) -> None:
    if old == new:
        raise IdentifierUnchanged()
    profile = _active_by(uow, old)
    refuse_suppressed(uow, identifiers=[new], hasher=hasher)
    if uow.profiles.find_by_identifier(new.id_type, new.value) is not None:
        raise IdentifierInUse(new.id_type)
    try:
        uow.profiles.change_identifier(old.id_type, old.value, new.id_type, new.value)
    except IdentifierTaken:
        raise IdentifierInUse(new.id_type) from None
    uow.profiles.save(replace(profile, updated_at=now))


def hard_delete_person(
    uow: UnitOfWork,
    *,
    caller: Caller,
    identifiers: Sequence[Identifier],
    now: int,
    hasher: SubjectHasher,
    confirmed: bool = False,
) -> list[int]:
    """Hard-delete every profile the identifiers name (visible or soft-deleted), and for an
    email also every profile holding it as its ``email`` attribute."""
    found = _resolve(uow, identifiers, now=now, hasher=hasher, email_attribute=True)
    if not found:
        first = identifiers[0]
        raise ProfileNotFound(first.id_type, first.value)
    admit_deletions(
        uow, tenant=caller.tenant, count=people_in(uow, found), confirmed=confirmed, now=now
    )
    jobs = []
    for profile in found.values():
        id_type, value = uow.profiles.identifiers_of(profile.profile_id)[0]
        jobs.append(
            begin_purge_of(
                uow, caller=caller, profile=profile, subject_hash=hasher(id_type, value), now=now
            )
        )
    return jobs


def delete_attributes(
    uow: UnitOfWork,
    *,
    identifiers: Sequence[Identifier],
    names: Sequence[str],
    custom_names: Sequence[str],
    now: int,
) -> None:
    found = find_person(uow, identifiers=identifiers)
    # Lock, and read again: a change committed since the look-up must not be overwritten.
    profile = uow.profiles.get(found.profile_id, for_update=True)
    if profile is None or profile.state is not ProfileState.ACTIVE:
        first = identifiers[0]
        raise ProfileNotFound(first.id_type, first.value)
    attributes = {k: v for k, v in profile.attributes.items() if k not in set(names)}
    custom = attributes.get("custom")
    if isinstance(custom, dict) and custom_names:
        attributes["custom"] = {k: v for k, v in custom.items() if k not in set(custom_names)}
    uow.profiles.save(replace(profile, attributes=attributes, updated_at=now))
