"""What the forget log records of an acknowledged deletion or suppression.

The log lives outside the database, so a backup restored later can be brought up to date: a
person deleted or suppressed after the backup was taken must not come back. An entry holds
internal ids and keyed hashes only, never a person's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ForgetKind(StrEnum):
    # Profiles hidden and revivable until ``revivable_until``.
    SOFT_DELETE = "soft_delete"
    # Profiles (and the devices they own) to be purged.
    HARD_DELETE = "hard_delete"
    # Devices to be purged.
    DEVICE_DELETE = "device_delete"
    # A batch deletion by identifier: ``hashes`` are lookup hashes of its subjects, resolved
    # when the log is replayed, as the batch resolves them when it runs.
    SUBJECTS_DELETE = "subjects_delete"
    # Soft-deleted profiles brought back: a later replay must not hide them again.
    REVIVE = "revive"
    # ``hashes`` are suppression hashes (made with the key named ``key_id``).
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"


@dataclass(frozen=True, slots=True)
class ForgetEntry:
    kind: ForgetKind
    tenant_id: str
    at: int
    profile_ids: tuple[int, ...] = ()
    device_ids: tuple[int, ...] = ()
    hashes: tuple[tuple[str, str], ...] = ()
    key_id: str | None = None
    revivable_until: int | None = None
    # SUBJECTS_DELETE: "soft" or "hard", and whether the subjects are suppressed too.
    mode: str | None = None
    suppress: bool = False
