"""The mass-deletion guard's rule: how many deletions a tenant may make in the last 60 minutes
without confirming the burst.

Each kind of thing removed has its own allowance: profiles (every surface that deletes a
person) and devices (EngageLab device deletes), each a share of the tenant's population of
that kind at the start of the window, never fewer than the floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

MINUTE_MS = 60_000
WINDOW_MINUTES = 60


class DeletionKind(StrEnum):
    """What a deletion removed; each kind is counted and allowed on its own."""

    PROFILES = "profiles"
    # A device deleted on its own. A device purged with its owning profile is part of that
    # profile's deletion and is not counted again here.
    DEVICES = "devices"


@dataclass(frozen=True, slots=True)
class GuardWindow:
    """The sliding window a deletion at ``now`` is measured in, in whole minutes.

    Deletions are tallied per minute. The window is the current minute and the 59 before it,
    so a deletion stops counting at most 60 minutes after it was made ("after 60 minutes the
    allowance is back") and at least 59 minutes after: no span shorter than 59 minutes, and
    so no clock-hour boundary, lets more than one allowance through.
    """

    minute: int
    """Start of the current minute (epoch ms): the tally a new deletion is added to."""
    start: int
    """Start of the oldest minute still counted (epoch ms)."""

    @classmethod
    def at(cls, now: int) -> GuardWindow:
        minute = now - now % MINUTE_MS
        return cls(minute=minute, start=minute - (WINDOW_MINUTES - 1) * MINUTE_MS)


def population_at_window_start(*, live_created_before: int, deleted_in_window: int) -> int:
    """The tenant's population of one kind when the window began, without a snapshot.

    Rows live now and created before the window were there at its start; so were the rows
    deleted since, at most ``deleted_in_window`` of them. Rows created inside the window do
    not count, so filler profiles or devices made just before a burst raise nothing. Adding
    every deletion in the window over-counts only rows that were both created and deleted
    inside it, and each such filler costs one deletion of the allowance while adding
    ``share`` (below one) to it: deleting fillers never pays.
    """
    return live_created_before + deleted_in_window


def deletion_allowance(*, population: int, share: float, floor: int) -> int:
    """Deletions a tenant may make in the window without confirming: a share of its
    population at the start of the window, never fewer than the floor."""
    return max(floor, math.floor(share * population))
