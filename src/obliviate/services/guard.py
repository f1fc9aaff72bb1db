"""The mass-deletion guard of SPEC §2.7 ("Do not delete all users")."""

from __future__ import annotations

from obliviate.domain.deletion import deletion_allowance
from obliviate.domain.errors import MassDeletionRefused
from obliviate.domain.tenants import Tenant
from obliviate.services.ports import UnitOfWork

HOUR_MS = 3_600_000


def admit_deletions(
    uow: UnitOfWork, *, tenant: Tenant, count: int, confirmed: bool, now: int
) -> None:
    """Count ``count`` deletions against this hour's allowance, or refuse them all.

    The allowance is a share of the tenant's live profiles, never below the floor; a caller
    that confirms the burst is let through and still counted.
    """
    if count <= 0:
        return
    hour = now - now % HOUR_MS
    recent = uow.guard.deletions_in(hour) + count
    # Counting the tenant's profiles costs a scan; under the floor the answer is yes anyway.
    if not confirmed and recent > tenant.mass_delete_floor:
        allowed = deletion_allowance(
            live_profiles=uow.guard.live_profiles(),
            share=tenant.mass_delete_share,
            floor=tenant.mass_delete_floor,
        )
        if recent > allowed:
            raise MassDeletionRefused(recent, allowed)
    uow.guard.add_deletions(hour, count)
