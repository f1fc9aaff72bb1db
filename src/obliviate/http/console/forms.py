"""Reading the console's forms: urlencoded bodies, capped while read, one value per field."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from obliviate.domain.errors import ValidationError
from obliviate.http.body import read_capped
from obliviate.http.text import MESSAGE

# The console's largest form is a few identifiers and flags.
MAX_FORM_BYTES = 16_384


async def read_form(request: Request) -> dict[str, str]:
    raw = await read_capped(request, MAX_FORM_BYTES)
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise ValidationError("form", "is not UTF-8") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # A field sent twice is not guessed at (which one a deletion was meant for).
            raise ValidationError(name, "was sent more than once")
        if "\x00" in value:
            raise ValidationError(name, MESSAGE)
        form[name] = value
    return form


def flag(form: dict[str, str], name: str) -> bool:
    """A checkbox: present with "yes" when ticked."""
    value = form.get(name, "")
    if value not in ("", "yes"):
        raise ValidationError(name, "must be yes or absent")
    return value == "yes"
