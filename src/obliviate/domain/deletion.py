"""Deletion jobs: the durable record of work that removes a person's rows."""

from __future__ import annotations

import math
from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_JOB_STATES = frozenset(
    {JobState.COMPLETED, JobState.PARTIAL, JobState.FAILED, JobState.CANCELLED}
)


class PurgeReason(StrEnum):
    HARD_DELETE = "hard_delete"
    REVIVAL_WINDOW_ENDED = "revival_window_ended"


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff after ``attempts`` failed tries (1 -> base, 2 -> 2*base, ...)."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


def deletion_allowance(*, live_profiles: int, share: float, floor: int) -> int:
    """Deletions a tenant may make in an hour without confirming (SPEC §2.7): a share of its
    live profiles, never fewer than the floor."""
    return max(floor, math.floor(share * live_profiles))
