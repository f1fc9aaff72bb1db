"""Subject access exports (GDPR Art. 15/20): what an export holds, and the export job.

An export is everything Obliviate holds on a person, walked from the deletion targets: each
kind of row a purge removes is either a section of the export or named in
``NOT_EXPORTED`` with the reason. A soft-deleted person is still held (until the revival
window ends and the purge runs), so their export is given, with ``state: soft_deleted`` and
the deadline; a hard-deleted (purging) person is gone to every read, exports included.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from obliviate.domain.deletion import JobState

EXPORT_BATCH = "export_batch"
MAX_EXPORT_SUBJECTS = 1000
# What an export receipt gives as its reason in the audit chain (deletions give theirs).
EXPORT_REASON = "export"


class ExportSection(StrEnum):
    SUBJECT = "subject"
    IDENTIFIERS = "identifiers"
    ATTRIBUTES = "attributes"
    EVENTS = "events"
    DEVICES = "devices"
    MERGES = "merges"
    SUPPRESSED = "suppressed"
    RECEIPTS = "receipts"


# Every deletion-target kind of a profile (storage/deletion_targets.py), and the section that
# gives its rows back. A target added without an entry here or in NOT_EXPORTED fails the
# export (and its test) instead of being left out silently.
SECTION_OF_KIND: dict[str, ExportSection] = {
    "profiles": ExportSection.SUBJECT,
    "identifiers": ExportSection.IDENTIFIERS,
    "events": ExportSection.EVENTS,
    "devices": ExportSection.DEVICES,
    # Tags are given inside the device that carries them.
    "tags": ExportSection.DEVICES,
    "merges": ExportSection.MERGES,
}
NOT_EXPORTED: dict[str, str] = {
    "keys": "the person's wrapped encryption keys: they unseal the other rows, hold no value "
    "of the person, and must never leave the database",
}


class UncoveredTarget(Exception):
    """A deletion target the export does not cover: a programming error, never a user's."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"deletion target {kind!r} is not covered by the export")
        self.kind = kind


def section_of(kind: str) -> ExportSection | None:
    """The section that gives a target's rows back; None for a target named in NOT_EXPORTED."""
    if kind in SECTION_OF_KIND:
        return SECTION_OF_KIND[kind]
    if kind in NOT_EXPORTED:
        return None
    raise UncoveredTarget(kind)


@dataclass(frozen=True, slots=True)
class ExportSubject:
    profile_id: int
    uuid: str
    state: str
    created_at: int
    updated_at: int
    deleted_at: int | None
    revivable_until: int | None


@dataclass(frozen=True, slots=True)
class ExportedEvent:
    event_id: int
    name: str
    occurred_at: int
    properties: dict[str, Any]
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExportedDevice:
    device_id: int
    registration_id: str
    platform: str | None
    timezone: str | None
    info: dict[str, Any]
    tags: tuple[str, ...]
    alias: str | None


@dataclass(frozen=True, slots=True)
class ExportedMerge:
    merged_profile_id: int
    moved: dict[str, int]
    created_at: int


@dataclass(frozen=True, slots=True)
class ExportedReceipt:
    receipt_id: str
    reason: str
    surface: str
    counts: dict[str, int]
    requested_at: int
    completed_at: int
    erased_at: int | None


@dataclass(frozen=True, slots=True)
class ExportHead:
    """What an export gives before its events: read in one short transaction."""

    subject: ExportSubject
    identifiers: tuple[tuple[str, str], ...]
    attributes: dict[str, Any]
    # Rows held per deletion-target kind when the export began (recorded in its receipt).
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class ExportTail:
    """What an export gives after its events."""

    devices: tuple[ExportedDevice, ...]
    merges: tuple[ExportedMerge, ...]
    suppressed: tuple[tuple[str, str], ...]
    receipts: tuple[ExportedReceipt, ...]


# The export job -------------------------------------------------------------------------


class ExportOutcome(StrEnum):
    PENDING = "pending"
    FOUND = "found"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class ExportJobSubject:
    index: int
    id_type: str
    # The lookup hash of the canonical value (never the value), kept while the job is
    # unfinished; None once it has ended.
    lookup_hash: str | None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "type": self.id_type, "lookup_hash": self.lookup_hash}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ExportJobSubject:
        found = raw.get("lookup_hash")
        return cls(int(raw["index"]), str(raw["type"]), None if found is None else str(found))


@dataclass(frozen=True, slots=True)
class ExportPayload:
    subjects: tuple[ExportJobSubject, ...]
    surface: str
    credential_ref: str
    requested_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "subjects": [s.to_json() for s in self.subjects],
            "surface": self.surface,
            "credential_ref": self.credential_ref,
            "requested_at": self.requested_at,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ExportPayload:
        return cls(
            subjects=tuple(ExportJobSubject.from_json(s) for s in raw["subjects"]),
            surface=str(raw["surface"]),
            credential_ref=str(raw["credential_ref"]),
            requested_at=int(raw["requested_at"]),
        )

    def erased(self) -> ExportPayload:
        """The payload without its lookup hashes: what an ended job keeps."""
        return replace(self, subjects=tuple(replace(s, lookup_hash=None) for s in self.subjects))


@dataclass(frozen=True, slots=True)
class ExportResolution:
    """Which profiles one subject named when the job ran (internal ids only)."""

    outcome: ExportOutcome
    profile_ids: tuple[int, ...] = ()


def resolutions_to_json(resolved: dict[int, ExportResolution]) -> dict[str, Any]:
    return {
        "subjects": {
            str(index): {"outcome": r.outcome.value, "profile_ids": list(r.profile_ids)}
            for index, r in sorted(resolved.items())
        }
    }


def resolutions_from_json(raw: dict[str, Any]) -> dict[int, ExportResolution]:
    subjects = raw.get("subjects") or {}
    return {
        int(index): ExportResolution(
            ExportOutcome(r["outcome"]), tuple(int(p) for p in r["profile_ids"])
        )
        for index, r in subjects.items()
    }


@dataclass(frozen=True, slots=True)
class ExportSubjectStatus:
    index: int
    id_type: str
    resolution: ExportResolution


@dataclass(frozen=True, slots=True)
class ExportJobStatus:
    job_id: int
    state: JobState
    subjects: tuple[ExportSubjectStatus, ...]
    attempts: int
    last_error: str | None
    created_at: int
    updated_at: int
    finished_at: int | None

    @property
    def ready(self) -> bool:
        return self.state is JobState.COMPLETED

    def to_json(self) -> dict[str, Any]:
        """The status as an idempotency record keeps it (internal form, not the wire's)."""
        return {
            "job_id": self.job_id,
            "state": self.state.value,
            "subjects": [
                {
                    "index": s.index,
                    "type": s.id_type,
                    "outcome": s.resolution.outcome.value,
                    "profile_ids": list(s.resolution.profile_ids),
                }
                for s in self.subjects
            ],
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ExportJobStatus:
        return cls(
            job_id=int(raw["job_id"]),
            state=JobState(raw["state"]),
            subjects=tuple(
                ExportSubjectStatus(
                    int(s["index"]),
                    str(s["type"]),
                    ExportResolution(
                        ExportOutcome(s["outcome"]), tuple(int(p) for p in s["profile_ids"])
                    ),
                )
                for s in raw["subjects"]
            ),
            attempts=int(raw["attempts"]),
            last_error=raw["last_error"],
            created_at=int(raw["created_at"]),
            updated_at=int(raw["updated_at"]),
            finished_at=None if raw["finished_at"] is None else int(raw["finished_at"]),
        )
