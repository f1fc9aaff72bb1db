"""What the worker needs from storage: the jobs of every tenant, taken and put back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    tenant_id: str
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class ErasureBacklog:
    # Deletion jobs whose physical erasure is not done: purging, or purged and waiting.
    pending: int
    # Epoch ms the oldest of them was requested, or None.
    oldest_created_at: int | None


class ErasureBusy(Exception):
    """An erasure pass could not finish now (a reader held what it must rewrite); the purges
    it would have covered wait for the next one."""


class ErasurePass(Protocol):
    def erase(self) -> None:
        """Make unreadable on disk what every purge committed before the call removed;
        raises ``ErasureBusy`` when that cannot be done now."""
        ...


class JobQueue(Protocol):
    """The jobs of every tenant, as the worker and the metrics see them. Each call is its own
    transaction; a job's steps run in units of work (``Jobs``) under the lease taken here."""

    def claim(self, *, worker_id: str, now: int, lease_ms: int) -> ClaimedJob | None:
        """Take the next due job (queued, or running with its lease run out) for a lease."""
        ...

    def heartbeat(self, job: ClaimedJob, *, worker_id: str, now: int, lease_ms: int) -> bool:
        """Extend the lease; False when another worker has taken the job over."""
        ...

    def defer(self, job: ClaimedJob, *, worker_id: str, until: int, now: int) -> None:
        """Put a job back to wait for other work (not a failure: the attempt is not counted)."""
        ...

    def retry_or_fail(
        self,
        job: ClaimedJob,
        *,
        worker_id: str,
        error: str,
        now: int,
        max_attempts: int,
        backoff_base: float,
        backoff_max: float,
    ) -> str:
        """Requeue with backoff, or fail once the attempts are spent; the state it left."""
        ...

    def tenants_with_expired_profiles(self, *, now: int, limit: int = 100) -> list[str]: ...
    def purged_awaiting_erasure(self) -> set[tuple[str, int]]:
        """(tenant, job id) of every committed purge whose rows are gone and whose erasure
        pass has not run: the jobs that a pass starting now covers."""
        ...

    def erasure_backlog(self) -> ErasureBacklog: ...


@dataclass(frozen=True, slots=True)
class JobCensus:
    # Jobs of every tenant by state (every state named, 0 when none).
    by_state: dict[str, int]
    # Epoch ms the oldest queued job was due to run (its ``run_after``), or None.
    oldest_queued_due_at: int | None


class JobCounts(Protocol):
    """The jobs as /metrics reports them: read from the database, so every process agrees."""

    def census(self) -> JobCensus: ...
