"""What the batch deletion service answers: a job's status, a dry run, an accepted submission.

Surfaces turn these into their wire formats. ``JobStatus`` also has a stored form: the first
answer to an Idempotency-Key is kept as a snapshot, so that a replay answers what the first
request was told rather than how the job stands now.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from obliviate.domain.deletion import DeletionMode, Erasure, JobState, Outcome, SubjectOutcome


class JobKind(StrEnum):
    """What a deletion job removes: the subjects of a batch, or one profile or device."""

    BATCH = "batch"
    PROFILE = "profile"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class SubjectStatus:
    """One subject of a batch (by its position in the request) and what became of it."""

    index: int
    id_type: str
    outcome: Outcome


def _tally(subjects: tuple[SubjectStatus, ...]) -> dict[SubjectOutcome, int]:
    counted = Counter(s.outcome.outcome for s in subjects)
    return dict(sorted(counted.items()))


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A deletion job as its requester sees it. A single profile's or device's purge is shown
    in a batch's shape: hard, unsuppressed, with no subjects."""

    job_id: int
    kind: JobKind
    state: JobState
    # None for a soft batch: it hides rows and leaves nothing to erase.
    erasure: Erasure | None
    receipt_id: str | None
    mode: DeletionMode
    suppress: bool
    subjects: tuple[SubjectStatus, ...]
    counts: dict[str, int]
    reason: str | None
    attempts: int
    last_error: str | None
    created_at: int
    updated_at: int
    finished_at: int | None

    @property
    def outcomes(self) -> dict[SubjectOutcome, int]:
        """How many subjects ended each way, by outcome."""
        return _tally(self.subjects)

    # The stored snapshot. Its layout is the one idempotency records were written in before
    # answers were typed, so that those records still replay.

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.job_id),
            "kind": self.kind.value,
            "state": self.state.value,
            "erasure": None if self.erasure is None else self.erasure.to_json(),
            "receipt_id": self.receipt_id,
            "mode": self.mode.value,
            "suppress": self.suppress,
            "subjects": [
                {"index": s.index, "type": s.id_type, **s.outcome.to_json()} for s in self.subjects
            ],
            "outcomes": {k.value: n for k, n in self.outcomes.items()},
            "counts": dict(sorted(self.counts.items())),
            "reason": self.reason,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> JobStatus:
        erasure = raw["erasure"]
        return cls(
            job_id=int(raw["id"]),
            kind=JobKind(raw["kind"]),
            state=JobState(raw["state"]),
            erasure=None if erasure is None else Erasure.from_json(erasure),
            receipt_id=raw["receipt_id"],
            mode=DeletionMode(raw["mode"]),
            suppress=bool(raw["suppress"]),
            subjects=tuple(
                SubjectStatus(
                    index=int(s["index"]), id_type=str(s["type"]), outcome=Outcome.from_json(s)
                )
                for s in raw["subjects"]
            ),
            counts=dict(raw["counts"]),
            reason=raw["reason"],
            attempts=int(raw["attempts"]),
            last_error=raw["last_error"],
            created_at=int(raw["created_at"]),
            updated_at=int(raw["updated_at"]),
            finished_at=raw["finished_at"],
        )


@dataclass(frozen=True, slots=True)
class DryRun:
    """What a batch would remove, per subject and in all, had it run."""

    mode: DeletionMode
    # Rows per kind (events, devices, ...) over every subject.
    counts: dict[str, int]
    # A subject that names no one is ``not_found`` and carries no counts.
    subjects: tuple[SubjectStatus, ...]


@dataclass(frozen=True, slots=True)
class Submission:
    """A batch accepted as a job: just now, or earlier under the same Idempotency-Key (then
    ``job`` is the status the first request was answered with)."""

    job: JobStatus
    replayed: bool
