"""Deletion jobs: the durable record of work that removes a person's rows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


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


# The jobs that remove one subject's rows; each ends only once its erasure pass has run.
PURGE_PROFILE = "purge_profile"
PURGE_DEVICE = "purge_device"
PURGE_KINDS = (PURGE_PROFILE, PURGE_DEVICE)


class ErasureState(StrEnum):
    # The rows may be gone, but a pass has yet to make their bytes unreadable on disk.
    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Erasure:
    """Where a deletion's physical erasure stands, as jobs and receipts show it."""

    state: ErasureState = ErasureState.PENDING
    at: int | None = None

    @classmethod
    def done(cls, at: int) -> Erasure:
        return cls(ErasureState.DONE, at)

    @classmethod
    def of_job(cls, result: dict[str, Any]) -> Erasure:
        raw = result.get("erasure")
        if not isinstance(raw, dict) or raw.get("state") != ErasureState.DONE:
            return cls()
        return cls.done(int(raw["at"]))

    @classmethod
    def of_receipt(cls, erased_at: int | None) -> Erasure:
        return cls() if erased_at is None else cls.done(erased_at)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state.value, "at": self.at}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Erasure:
        at = raw.get("at")
        return cls(ErasureState(raw["state"]), None if at is None else int(at))


class PurgeReason(StrEnum):
    HARD_DELETE = "hard_delete"
    REVIVAL_WINDOW_ENDED = "revival_window_ended"


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff after ``attempts`` failed tries (1 -> base, 2 -> 2*base, ...)."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


# --- batch deletions -----------------------------------------------------------------------
# A batch job's payload and progress are stored as JSON; these are their shapes, so nothing
# between the job row and the rules is an untyped dict.


# The job kind of a batch deletion.
DELETION_BATCH = "deletion_batch"


class DeletionMode(StrEnum):
    SOFT = "soft"
    HARD = "hard"


class SubjectOutcome(StrEnum):
    PENDING = "pending"
    DELETED = "deleted"
    SUPPRESSED = "suppressed"
    NOT_FOUND = "not_found"
    FAILED = "failed"


class BatchStep(StrEnum):
    """What one transaction of batch work left to do."""

    MORE = "more"  # subjects still to delete: run another step at once
    WAIT = "wait"  # the purges it started are still running: look again later
    DONE = "done"


# A subject still found by its values after its deletion ran is deleted again this many times
# (it was merged, re-created or moved meanwhile) before the batch ends ``partial``.
MAX_DELETION_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class BatchSubject:
    index: int
    id_type: str
    subject_hash: str
    # The lookup hash of the canonical value (never the value), kept only while the batch is
    # unfinished: the job resolves its subject by it when it runs (following merges and
    # moves since submission) and checks by it before it claims completion. None once the
    # batch has ended.
    lookup_hash: str | None
    # The profiles the value named at submission (a merge since is followed from these).
    profile_ids: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "type": self.id_type,
            "subject_hash": self.subject_hash,
            "lookup_hash": self.lookup_hash,
            "profile_ids": list(self.profile_ids),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BatchSubject:
        if "profile_ids" in raw:
            ids = tuple(int(p) for p in raw["profile_ids"])
        else:  # written before subjects were resolved when the batch runs
            ids = () if raw.get("profile_id") is None else (int(raw["profile_id"]),)
        return cls(
            index=int(raw["index"]),
            id_type=str(raw["type"]),
            subject_hash=str(raw["subject_hash"]),
            lookup_hash=None if raw.get("lookup_hash") is None else str(raw["lookup_hash"]),
            profile_ids=ids,
        )


@dataclass(frozen=True, slots=True)
class BatchPayload:
    mode: DeletionMode
    suppress: bool
    subjects: tuple[BatchSubject, ...]
    surface: str
    credential_ref: str
    requested_at: int
    revival_window_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "suppress": self.suppress,
            "subjects": [s.to_json() for s in self.subjects],
            "surface": self.surface,
            "credential_ref": self.credential_ref,
            "requested_at": self.requested_at,
            "window": self.revival_window_seconds,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BatchPayload:
        return cls(
            mode=DeletionMode(raw["mode"]),
            suppress=bool(raw["suppress"]),
            subjects=tuple(BatchSubject.from_json(s) for s in raw["subjects"]),
            surface=str(raw["surface"]),
            credential_ref=str(raw["credential_ref"]),
            requested_at=int(raw["requested_at"]),
            revival_window_seconds=float(raw["window"]),
        )

    @property
    def suppressing(self) -> bool:
        return self.suppress and self.mode is DeletionMode.HARD

    def erased(self) -> BatchPayload:
        """The payload with every subject's lookup hash gone: what an ended batch keeps."""
        return replace(self, subjects=tuple(replace(s, lookup_hash=None) for s in self.subjects))


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: SubjectOutcome
    counts: dict[str, int] | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"outcome": self.outcome.value}
        if self.counts is not None:
            answer["counts"] = dict(sorted(self.counts.items()))
        if self.reason is not None:
            answer["reason"] = self.reason
        return answer

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Outcome:
        counts = raw.get("counts")
        return cls(
            outcome=SubjectOutcome(raw["outcome"]),
            counts=None if counts is None else {str(k): int(n) for k, n in counts.items()},
            reason=None if raw.get("reason") is None else str(raw["reason"]),
        )


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """A batch job's result column: per-subject outcomes, the purge jobs it started, rounds."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    # Purge jobs per subject index (several when a value named several profiles).
    children: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # The profiles deleted per subject index, for the closing check of their rows.
    deleted: dict[int, tuple[int, ...]] = field(default_factory=dict)
    rounds: int = 1
    counts: dict[str, int] = field(default_factory=dict)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcomes": {str(i): o.to_json() for i, o in sorted(self.outcomes.items())},
            "children": {str(i): list(c) for i, c in sorted(self.children.items())},
            "deleted": {str(i): list(p) for i, p in sorted(self.deleted.items())},
            "rounds": self.rounds,
            "counts": dict(sorted(self.counts.items())),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BatchProgress:
        children: dict[int, tuple[int, ...]] = {}
        for index, jobs in (raw.get("children") or {}).items():
            children[int(index)] = (int(jobs),) if isinstance(jobs, int) else tuple(jobs)
        return cls(
            outcomes={int(i): Outcome.from_json(o) for i, o in (raw.get("outcomes") or {}).items()},
            children=children,
            deleted={int(i): tuple(p) for i, p in (raw.get("deleted") or {}).items()},
            rounds=int(raw.get("rounds") or 1),
            counts={str(k): int(n) for k, n in (raw.get("counts") or {}).items()},
            reason=None if raw.get("reason") is None else str(raw["reason"]),
        )

    @property
    def started(self) -> bool:
        return bool(self.outcomes)

    def child_jobs(self) -> list[int]:
        return [job for jobs in self.children.values() for job in jobs]
