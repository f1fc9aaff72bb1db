"""Identifiers: ``(type, value)`` pairs that find a profile, unique per tenant."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from obliviate.domain.errors import ValidationError

MAX_IDENTIFIER_BYTES = 512


class IdentifierType(StrEnum):
    UUID = "uuid"
    EMAIL = "email"
    PHONE_NUMBER = "phone_number"


@dataclass(frozen=True, slots=True)
class Identifier:
    id_type: str
    value: str


def uuid_identifier(value: str, *, field: str = "uuid") -> Identifier:
    if not value or not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValidationError(field, f"must be at most {MAX_IDENTIFIER_BYTES} bytes")
    return Identifier(IdentifierType.UUID.value, value)
