"""One canonical form per identifier: generated spellings of one value are one value, and every
spelling that is not a clean form of it is refused, never taken for someone else."""

from __future__ import annotations

import unicodedata

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from obliviate.domain.devices import validate_label, validate_registration_id
from obliviate.domain.errors import ValidationError
from obliviate.domain.identifiers import (
    _canonical_email,
    canonical_email,
    canonical_phone,
    email_of_attributes,
    identifier,
    uuid_value,
)

LOCALS = ["ana", "josé", "straße", "o.neil", "zoë+news", "ünïcödé"]
DOMAINS = ["example.com", "münchen.de", "bücher.example", "mail.example.org"]
PHONES = ["+6598765432", "+441234567890", "+4915112345678", "+33612345678"]
# Digits of other scripts that Python's str.isdigit and a plain \d accept.
FOREIGN_DIGITS = [0x0660, 0x06F0, 0x0966, 0x09E6, 0xFF10, 0x1D7CE, 0x0E50]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u202e", "\x00", "\x07"]


def _recase(text: str, upper: list[bool]) -> str:
    out = []
    for ch, up in zip(text, upper + [False] * len(text), strict=False):
        changed = ch.upper() if up else ch
        # Only one-to-one case changes: "ß".upper() is "SS", which casefolding also gives, but
        # the other letters here must keep their count for the flags to line up.
        out.append(changed if len(changed) == 1 or ch == "ß" else ch)
    return "".join(out)


@st.composite
def email_spellings(draw: st.DrawFn) -> tuple[str, str]:
    """(base address, an equivalent spelling of it)."""
    local, domain = draw(st.sampled_from(LOCALS)), draw(st.sampled_from(DOMAINS))
    base = f"{local}@{domain}"
    upper = draw(st.lists(st.booleans(), min_size=len(base), max_size=len(base)))
    spelled_domain = domain
    if draw(st.booleans()):
        spelled_domain = domain.encode("idna").decode("ascii")
    if draw(st.booleans()):
        spelled_domain += "."
    spelling = _recase(f"{local}@{spelled_domain}", upper)
    spelling = unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), spelling)
    pad = draw(st.sampled_from(["", " ", "\t", "\n", "  "]))
    return base, pad + spelling + draw(st.sampled_from(["", " ", "\r\n"]))


@given(email_spellings())
def test_every_equivalent_spelling_of_an_email_has_the_one_canonical_form(
    pair: tuple[str, str],
) -> None:
    base, spelling = pair
    assert canonical_email(spelling) == canonical_email(base)
    assert identifier("email", spelling).value == canonical_email(base)


@given(email_spellings(), st.sampled_from(INVISIBLE), st.integers(min_value=0, max_value=40))
def test_an_email_holding_an_invisible_character_is_refused(
    pair: tuple[str, str], invisible: str, at: int
) -> None:
    _, spelling = pair
    text = spelling.strip()
    position = at % (len(text) + 1)
    with pytest.raises(ValidationError) as refused:
        canonical_email(text[:position] + invisible + text[position:])
    assert refused.value.field == "email"


@given(st.sampled_from(LOCALS), st.sampled_from(DOMAINS))
def test_the_canonical_email_is_a_fixed_point_and_ascii_in_its_domain(
    local: str, domain: str
) -> None:
    canonical = canonical_email(f"{local}@{domain}")
    assert canonical_email(canonical) == canonical
    assert canonical.rpartition("@")[2].isascii()
    assert unicodedata.is_normalized("NFC", canonical)


@st.composite
def phone_spellings(draw: st.DrawFn) -> tuple[str, str]:
    """(an E.164 number, the same digits with some in another script or with separators)."""
    base = draw(st.sampled_from(PHONES))
    chars = list(base)
    positions = draw(st.sets(st.integers(min_value=1, max_value=len(base) - 1), min_size=1))
    for p in positions:
        zero = draw(st.sampled_from(FOREIGN_DIGITS))
        chars[p] = chr(zero + int(base[p]))
    spelling = "".join(chars)
    if draw(st.booleans()):
        spelling = draw(st.sampled_from(["\uff0b", "\u2795"])) + spelling[1:]
    return base, spelling


@given(phone_spellings())
def test_a_phone_number_in_any_other_digits_is_refused(pair: tuple[str, str]) -> None:
    base, spelling = pair
    assert canonical_phone(base) == base
    with pytest.raises(ValidationError) as refused:
        canonical_phone(spelling)
    assert "E.164" in refused.value.message


@pytest.mark.parametrize(
    "spelling", ["+65 9876 5432", "+65-9876-5432", "(+65)98765432", " +6598765432", "+1234567"]
)
def test_phone_numbers_with_separators_or_impossible_lengths_are_refused(spelling: str) -> None:
    with pytest.raises(ValidationError):
        canonical_phone(spelling)


@given(st.text(min_size=1, max_size=30))
def test_a_uuid_is_nfc_and_never_holds_an_invisible_character(text: str) -> None:
    try:
        value = uuid_value(text)
    except ValidationError:
        return
    assert unicodedata.is_normalized("NFC", value)
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value)
    assert uuid_value(unicodedata.normalize("NFD", text)) == value


def test_device_labels_and_registration_ids_are_nfc_and_refuse_invisible_characters() -> None:
    # U+F900 is a CJK compatibility ideograph; NFC makes it the unified U+8C48.
    assert validate_label("\uf900", "tags") == "\u8c48"
    assert validate_registration_id("rid-e\u0301") == "rid-\u00e9"
    for bad in ("vip\u200b", "a\ufeff"):
        with pytest.raises(ValidationError):
            validate_label(bad, "tags")
    with pytest.raises(ValidationError):
        validate_registration_id("rid\u200b")


def test_the_email_attribute_is_canonical_and_a_non_address_is_refused() -> None:
    assert email_of_attributes({"email": " Ana@Example.COM. "}) == "ana@example.com"
    assert email_of_attributes({"email": ""}) is None
    assert email_of_attributes({}) is None
    for bad in ("not-an-email", "ana\u200b@example.com", 42):
        with pytest.raises(ValidationError):
            email_of_attributes({"email": bad})


_ATOM = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-"
_LDH = "abcdefghijklmnopqrstuvwxyz0123456789-"


@st.composite
def plain_looking_emails(draw: st.DrawFn) -> str:
    """Lowercase ASCII addresses near the edge of the fast path's pattern."""
    local = ".".join(
        draw(st.lists(st.text(_ATOM, min_size=1, max_size=12), min_size=1, max_size=4))
    )
    labels = draw(st.lists(st.text(_LDH, min_size=1, max_size=12), min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "de", "io", "example", "test", "c0m", "x", "local"]))
    return f"{local}@{'.'.join([*labels, tld])}"


@given(plain_looking_emails())
def test_the_fast_path_for_plain_addresses_agrees_with_email_validator(address: str) -> None:
    try:
        checked = validate_email(address, check_deliverability=False)
        expected: str | None = f"{checked.local_part}@{checked.ascii_domain}".casefold()
    except EmailNotValidError:
        expected = None
    assert _canonical_email.__wrapped__(address) == expected
