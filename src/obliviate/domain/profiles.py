"""Profiles and the rules of their life cycle: active, soft-deleted (revivable), purging."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ProfileState(StrEnum):
    ACTIVE = "active"
    # Hidden from every read; comes back if created or updated before revivable_until.
    SOFT_DELETED = "soft_deleted"
    # Hidden for good; its identifiers are released and a purge job removes its rows.
    PURGING = "purging"


@dataclass(frozen=True, slots=True)
class Profile:
    profile_id: int
    state: ProfileState
    attributes: dict[str, Any]
    created_at: int
    updated_at: int
    deleted_at: int | None
    revivable_until: int | None
    # Who asked for the pending deletion: surface, credential_ref, requested_at.
    deletion_request: dict[str, Any] | None = None


def revival_deadline(now_ms: int, window_seconds: float) -> int:
    return now_ms + round(window_seconds * 1000)


def is_visible(profile: Profile) -> bool:
    return profile.state is ProfileState.ACTIVE


def is_revivable(profile: Profile, now_ms: int) -> bool:
    """A soft-deleted profile may come back only strictly before its deadline."""
    return (
        profile.state is ProfileState.SOFT_DELETED
        and profile.revivable_until is not None
        and now_ms < profile.revivable_until
    )


def has_expired(profile: Profile, now_ms: int) -> bool:
    return profile.state is ProfileState.SOFT_DELETED and not is_revivable(profile, now_ms)


def merge_attributes(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Partial update: keys in ``changes`` replace, nested ``custom`` objects merge one level."""
    merged = dict(current)
    for key, value in changes.items():
        if key == "custom" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
