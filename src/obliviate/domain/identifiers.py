"""Identifiers: ``(type, value)`` pairs that find a profile, unique per tenant.

Types are ``uuid``, ``email``, ``phone_number`` (E.164) and ``custom.<name>``. A profile keeps
at least one identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from obliviate.domain.errors import ValidationError

MAX_IDENTIFIER_BYTES = 512
CUSTOM_PREFIX = "custom."
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")


class IdentifierType(StrEnum):
    UUID = "uuid"
    EMAIL = "email"
    PHONE_NUMBER = "phone_number"


@dataclass(frozen=True, slots=True)
class Identifier:
    id_type: str
    value: str


def _check_value(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if not value or not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValidationError(field, f"must be at most {MAX_IDENTIFIER_BYTES} bytes")
    return value


def uuid_identifier(value: str, *, field: str = "uuid") -> Identifier:
    return Identifier(IdentifierType.UUID.value, _check_value(value, field))


def identifier(id_type: str, value: object, *, field: str | None = None) -> Identifier:
    """Validate one identifier; ``id_type`` is uuid, email, phone_number or custom.<name>."""
    where = field or id_type
    text = _check_value(value, where)
    if id_type == IdentifierType.EMAIL:
        if not _EMAIL.fullmatch(text):
            raise ValidationError(where, "must be a valid email address")
        return Identifier(id_type, text.lower())
    if id_type == IdentifierType.PHONE_NUMBER:
        if not _E164.fullmatch(text):
            raise ValidationError(where, "must be in E.164 format, e.g. +6598765432")
        return Identifier(id_type, text)
    if id_type == IdentifierType.UUID:
        return Identifier(id_type, text)
    if id_type.startswith(CUSTOM_PREFIX) and _CUSTOM_NAME.fullmatch(id_type[len(CUSTOM_PREFIX) :]):
        return Identifier(id_type, text)
    raise ValidationError(where, "is not an identifier type (uuid, email, phone_number, custom)")


def custom_type(name: str) -> str:
    return CUSTOM_PREFIX + name
