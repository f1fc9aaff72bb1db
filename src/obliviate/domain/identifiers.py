"""Identifiers: ``(type, value)`` pairs that find a profile, unique per tenant.

Types are ``uuid``, ``email``, ``phone_number`` (E.164) and ``custom.<name>``. A profile keeps
at least one identifier.

Every value has one canonical form, and storage, look-ups, suppression, keyed hashes and the
guard only ever see that form: two spellings of one address must never be two people, or a
deletion or suppression of one would miss the other.

- email: surrounding whitespace stripped; control and format characters (zero-width space, BOM,
  bidi marks) refused; Unicode NFC; the domain through IDNA (UTS #46) to ASCII, without a
  trailing dot; the whole address case-folded. Syntax by ``email-validator`` (no DNS).
- phone_number: ASCII ``+`` and ASCII digits only, E.164, and a possible number by
  ``phonenumbers``.
- everything else (uuid, custom values, and the device labels of domain/devices.py): NFC, no
  control or format characters, otherwise exact.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from obliviate.domain.errors import ValidationError

MAX_IDENTIFIER_BYTES = 512
CUSTOM_PREFIX = "custom."
# re.ASCII: without it \d also matches Arabic-Indic, full-width and every other Unicode digit.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$", re.ASCII)
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
# The plain case, already canonical: lowercase ASCII, dot-atom local part, LDH labels, an
# alphabetic top-level domain. Every such address is one email-validator accepts unchanged
# (tests/unit/test_canonical_identifiers.py checks it), so it skips the library: a write of a
# new address (a Gainsight create) took a fifth longer through it.
_PLAIN_EMAIL = re.compile(
    r"^(?=.{1,254}$)(?=[^@]{1,64}@)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    re.ASCII,
)
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)
_INVISIBLE = frozenset({"Cc", "Cf"})
# Canonical forms are pure functions of the text; the cache keeps email-validator and
# phonenumbers off the hot path for the identifiers a tenant sends again and again. Bounded
# small: keys are caller-chosen strings of up to 512 bytes.
_CACHE = 4096


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


@lru_cache(maxsize=_CACHE)
def _canonical_text(value: str) -> str | None:
    if value.isascii() and value.isprintable():
        return value
    normal = unicodedata.normalize("NFC", value)
    if any(unicodedata.category(ch) in _INVISIBLE for ch in normal):
        return None
    return normal


def canonical_text(value: str, *, field: str) -> str:
    """NFC, refusing control and format characters (Unicode Cc, Cf); otherwise exact."""
    canonical = _canonical_text(value)
    if canonical is None:
        raise ValidationError(field, "must not contain control or invisible format characters")
    return canonical


def _plain(value: str) -> bool:
    if not _PLAIN_EMAIL.fullmatch(value):
        return False
    domain = value.rpartition("@")[2]
    # "--" (punycode and the labels IDNA reserves) is left to the library's IDNA checks.
    if "--" in domain:
        return False
    return not any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE)


@lru_cache(maxsize=_CACHE)
def _canonical_email(value: str) -> str | None:
    if _plain(value):
        return value
    text = _canonical_text(value.strip())
    if text is None or "@" not in text:
        return None
    local, _, domain = text.rpartition("@")
    # One trailing dot names the same (fully qualified) domain.
    if domain.endswith(".") and not domain.endswith(".."):
        domain = domain[:-1]
    try:
        checked = validate_email(
            f"{local}@{domain}", check_deliverability=False, allow_smtputf8=True
        )
    except EmailNotValidError:
        return None
    # ascii_domain is the IDNA (UTS #46) form; casefold also folds the local part's
    # non-ASCII letters (Straße and STRASSE are one mailbox to every provider that matters).
    folded = f"{checked.local_part}@{checked.ascii_domain}".casefold()
    return unicodedata.normalize("NFC", folded)


def canonical_email(value: str, *, field: str = "email") -> str:
    canonical = _canonical_email(value)
    if canonical is None:
        raise ValidationError(field, "must be a valid email address")
    return canonical


@lru_cache(maxsize=_CACHE)
def _canonical_phone(value: str) -> str | None:
    if not _E164.fullmatch(value):
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def canonical_phone(value: str, *, field: str = "phone_number") -> str:
    canonical = _canonical_phone(value)
    if canonical is None:
        raise ValidationError(field, "must be in E.164 format, e.g. +6598765432")
    return canonical


def uuid_value(value: object, *, field: str = "uuid") -> str:
    """The canonical form of a uuid (Gainsight's identifyId)."""
    return canonical_text(_check_value(value, field), field=field)


def uuid_identifier(value: object, *, field: str = "uuid") -> Identifier:
    return Identifier(IdentifierType.UUID.value, uuid_value(value, field=field))


def identifier(id_type: str, value: object, *, field: str | None = None) -> Identifier:
    """Validate one identifier and bring it to its canonical form.

    ``id_type`` is uuid, email, phone_number or custom.<name>."""
    where = field or id_type
    text = _check_value(value, where)
    if id_type == IdentifierType.EMAIL:
        return Identifier(id_type, canonical_email(text, field=where))
    if id_type == IdentifierType.PHONE_NUMBER:
        return Identifier(id_type, canonical_phone(text, field=where))
    if id_type == IdentifierType.UUID or (
        id_type.startswith(CUSTOM_PREFIX) and _CUSTOM_NAME.fullmatch(id_type[len(CUSTOM_PREFIX) :])
    ):
        return Identifier(id_type, canonical_text(text, field=where))
    raise ValidationError(where, "is not an identifier type (uuid, email, phone_number, custom)")


def email_of_attributes(attributes: dict[str, object]) -> str | None:
    """The canonical email a profile's ``email`` attribute names, or None when it names none.

    Raises ValidationError for a non-empty value that is not an address: it could not be found
    again by a deletion or suppression of any spelling, so it is not accepted."""
    value = attributes.get("email")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValidationError("email", "must be a string")
    return canonical_email(value)


def stored_email_of_attributes(attributes: dict[str, object]) -> str | None:
    """As ``email_of_attributes``, for storage: a value stored before the rule was kept
    unindexed instead of failing a write that does not touch it."""
    try:
        return email_of_attributes(attributes)
    except ValidationError:
        return None


def custom_type(name: str) -> str:
    return CUSTOM_PREFIX + name
