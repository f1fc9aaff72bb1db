"""Devices, their tags and alias: the rules EngageLab clients rely on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from obliviate.domain.errors import ValidationError
from obliviate.domain.identifiers import canonical_text

# Devices are found by this identifier type; suppression and receipts name it too.
REGISTRATION_ID = "registration_id"
MAX_TAGS_PER_DEVICE = 100
MAX_LABEL_BYTES = 40
MAX_IDS_PER_REQUEST = 1000
MAX_REGISTRATION_ID_BYTES = 128

# Letters, digits, _ and @!#$&*+=. plus CJK (ideographs, kana, hangul).
_LABEL = re.compile(
    r"^[A-Za-z0-9_@!#$&*+=."
    r"\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+$"
)


class Platform(StrEnum):
    ANDROID = "android"
    IOS = "ios"
    HMOS = "hmos"
    WEB = "web"


class DeviceState(StrEnum):
    ACTIVE = "active"
    # Invisible at once; a purge job removes its rows.
    DELETING = "deleting"


@dataclass(frozen=True, slots=True)
class Device:
    device_id: int
    registration_id: str
    platform: str | None
    timezone: str | None
    info: dict[str, Any]
    alias: str | None
    profile_id: int | None
    updated_at: int


def validate_label(value: object, field: str) -> str:
    """A tag or alias: 1-40 bytes of the allowed characters."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    # NFC first: CJK compatibility ideographs become the unified ones, so one tag is one tag.
    value = canonical_text(value, field=field)
    if not 1 <= len(value.encode()) <= MAX_LABEL_BYTES:
        raise ValidationError(field, f"must be 1-{MAX_LABEL_BYTES} bytes")
    if not _LABEL.fullmatch(value):
        raise ValidationError(
            field, "may hold letters, digits, _, @!#$&*+=. and CJK characters only"
        )
    return value


def validate_registration_id(value: object, field: str = REGISTRATION_ID) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a non-empty string")
    value = canonical_text(value, field=field)
    if len(value.encode()) > MAX_REGISTRATION_ID_BYTES:
        raise ValidationError(field, f"must be at most {MAX_REGISTRATION_ID_BYTES} bytes")
    return value


def validate_platform(value: object, field: str = "platform") -> str:
    try:
        return Platform(str(value)).value
    except ValueError:
        allowed = ", ".join(p.value for p in Platform)
        raise ValidationError(field, f"must be one of {allowed}") from None


def validate_id_batch(values: object, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise ValidationError(field, "must be an array of registration ids")
    if len(values) > MAX_IDS_PER_REQUEST:
        raise ValidationError(field, f"at most {MAX_IDS_PER_REQUEST} registration ids")
    return [validate_registration_id(v, field) for v in values]


def tags_after(current: set[str], add: list[str], remove: list[str]) -> set[str]:
    result = (current | set(add)) - set(remove)
    if len(result) > MAX_TAGS_PER_DEVICE:
        raise ValidationError("tags", f"a device holds at most {MAX_TAGS_PER_DEVICE} tags")
    return result
