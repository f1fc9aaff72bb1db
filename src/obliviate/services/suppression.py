"""Suppression: identifiers a hard delete forbade to come back, on every surface."""

from __future__ import annotations

from collections.abc import Iterable

from obliviate.domain.devices import REGISTRATION_ID
from obliviate.domain.errors import Suppressed
from obliviate.domain.identifiers import Identifier
from obliviate.services.ports import SubjectHasher, UnitOfWork


def refuse_suppressed(
    uow: UnitOfWork, *, identifiers: Iterable[Identifier], hasher: SubjectHasher
) -> None:
    """Raise Suppressed when any of the identifiers may not be (re-)created."""
    for ident in identifiers:
        if uow.suppressions.exists(ident.id_type, hasher(ident.id_type, ident.value)):
            raise Suppressed(ident.id_type)


def suppress_profile(
    uow: UnitOfWork, *, profile_id: int, now: int, hasher: SubjectHasher, job_id: int | None
) -> int:
    """Suppress every identifier of a profile and the registration ids of its devices.

    Runs before the purge releases them, in the same transaction. Returns how many were added.
    """
    added = 0
    for id_type, value in uow.profiles.identifiers_of(profile_id):
        added += uow.suppressions.add(id_type, hasher(id_type, value), now=now, job_id=job_id)
    for device in uow.devices.owned_live(profile_id):
        rid_hash = hasher(REGISTRATION_ID, device.registration_id)
        added += uow.suppressions.add(REGISTRATION_ID, rid_hash, now=now, job_id=job_id)
    return added


def unsuppress(uow: UnitOfWork, *, ident: Identifier, hasher: SubjectHasher) -> bool:
    return uow.suppressions.remove(ident.id_type, hasher(ident.id_type, ident.value))
