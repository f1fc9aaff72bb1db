"""Suppression: identifiers a hard delete forbade to come back, on every surface.

Values are canonical (domain/identifiers.py) before they are hashed, so no other spelling of a
suppressed value gets past; an email is suppressed as an identifier and in the ``email``
attribute alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from obliviate.domain.devices import REGISTRATION_ID
from obliviate.domain.errors import Suppressed
from obliviate.domain.identifiers import (
    Identifier,
    IdentifierType,
    email_of_attributes,
    stored_email_of_attributes,
)
from obliviate.services import forget_entries
from obliviate.services.ports import SubjectHasher, UnitOfWork

EMAIL = IdentifierType.EMAIL.value


def is_suppressed(uow: UnitOfWork, *, ident: Identifier, hasher: SubjectHasher) -> bool:
    # Every key still accepted: a suppression made before a key rotation keeps working.
    return any(
        uow.suppressions.exists(ident.id_type, value_hash)
        for value_hash in hasher.all_hashes(ident.id_type, ident.value)
    )


def refuse_suppressed(
    uow: UnitOfWork, *, identifiers: Iterable[Identifier], hasher: SubjectHasher
) -> None:
    """Raise Suppressed when any of the identifiers may not be (re-)created."""
    for ident in identifiers:
        if is_suppressed(uow, ident=ident, hasher=hasher):
            raise Suppressed(ident.id_type)


def refuse_suppressed_email(
    uow: UnitOfWork, *, attributes: dict[str, Any], hasher: SubjectHasher
) -> None:
    """Raise Suppressed when the ``email`` attribute names a suppressed address."""
    email = email_of_attributes(attributes)
    if email is not None:
        refuse_suppressed(uow, identifiers=[Identifier(EMAIL, email)], hasher=hasher)


def refuse_suppressed_revival(
    uow: UnitOfWork, *, profile_id: int, attributes: dict[str, Any], hasher: SubjectHasher
) -> None:
    """A soft-deleted person whose identifier or email was suppressed since stays deleted."""
    held = [Identifier(t, v) for t, v in uow.profiles.identifiers_of(profile_id)]
    email = stored_email_of_attributes(attributes)
    if email is not None:
        held.append(Identifier(EMAIL, email))
    refuse_suppressed(uow, identifiers=held, hasher=hasher)


def suppress_profile(
    uow: UnitOfWork, *, profile_id: int, now: int, hasher: SubjectHasher, job_id: int | None
) -> int:
    """Suppress every identifier of a profile, its email attribute and the registration ids of
    its devices.

    Runs before the purge releases them, in the same transaction. Returns how many were added.
    """
    pairs = [
        (id_type, hasher(id_type, value))
        for id_type, value in uow.profiles.identifiers_of(profile_id)
    ]
    profile = uow.profiles.get(profile_id)
    email = None if profile is None else stored_email_of_attributes(profile.attributes)
    if email is not None:
        pairs.append((EMAIL, hasher(EMAIL, email)))
    for device in uow.devices.owned_live(profile_id):
        pairs.append((REGISTRATION_ID, hasher(REGISTRATION_ID, device.registration_id)))
    added = sum(uow.suppressions.add(h_type, h, now=now, job_id=job_id) for h_type, h in pairs)
    forget_entries.suppressed(uow, pairs, key_id=hasher.key_id, now=now)
    return added


def suppress(
    uow: UnitOfWork,
    *,
    ident: Identifier,
    now: int,
    hasher: SubjectHasher,
    job_id: int | None = None,
) -> bool:
    """Suppress one canonical value (it may belong to nobody now). True if it was new."""
    value_hash = hasher(ident.id_type, ident.value)
    forget_entries.suppressed(uow, [(ident.id_type, value_hash)], key_id=hasher.key_id, now=now)
    return uow.suppressions.add(ident.id_type, value_hash, now=now, job_id=job_id)


def unsuppress(uow: UnitOfWork, *, ident: Identifier, hasher: SubjectHasher, now: int) -> bool:
    removed = False
    hashes = hasher.all_hashes(ident.id_type, ident.value)
    for value_hash in hashes:
        removed = uow.suppressions.remove(ident.id_type, value_hash) or removed
    forget_entries.unsuppressed(uow, [(ident.id_type, h) for h in hashes], now=now)
    return removed
