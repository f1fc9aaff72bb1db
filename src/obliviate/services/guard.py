"""The mass-deletion guard: deletions past a share of the tenant's profiles or devices within
60 minutes are refused unless the caller confirms the burst."""

from __future__ import annotations

from obliviate.domain.errors import MassDeletionRefused
from obliviate.domain.guard import (
    DeletionKind,
    GuardWindow,
    deletion_allowance,
    population_at_window_start,
)
from obliviate.domain.tenants import Tenant
from obliviate.services.ports import UnitOfWork


def admit_deletions(
    uow: UnitOfWork,
    *,
    tenant: Tenant,
    count: int,
    confirmed: bool,
    now: int,
    kind: DeletionKind = DeletionKind.PROFILES,
) -> None:
    """Count ``count`` deletions of ``kind`` against the last 60 minutes' allowance, or
    refuse them all, changing nothing.

    The allowance is a share of the tenant's population of that kind at the start of the
    window, never below the floor; a caller that confirms the burst is let through and still
    counted, so the next unconfirmed request sees it.
    """
    if count <= 0:
        return
    window = GuardWindow.at(now)
    # Also takes the tally's lock: a concurrent admission of the same kind waits here until
    # this transaction ends, then sees this count.
    earlier = uow.guard.deletions_since(kind, window.start)
    recent = earlier + count
    # Counting the population costs a scan of the tenant's rows; under the floor the answer
    # is yes anyway.
    if not confirmed and recent > tenant.mass_delete_floor:
        allowed = deletion_allowance(
            population=population_at_window_start(
                live_created_before=uow.guard.live_created_before(kind, window.start),
                deleted_in_window=earlier,
            ),
            share=tenant.mass_delete_share,
            floor=tenant.mass_delete_floor,
        )
        if recent > allowed:
            raise MassDeletionRefused(recent, allowed)
    uow.guard.add_deletions(kind, window.minute, count)
