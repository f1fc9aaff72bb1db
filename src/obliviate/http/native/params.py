"""Query parameters of the native API."""

from __future__ import annotations

from starlette.requests import Request

from obliviate.domain.errors import ValidationError
from obliviate.domain.events import INT64_MAX

DEFAULT_PAGE, MAX_PAGE = 100, 1000


def int_param(
    request: Request, name: str, default: int | None, high: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(name, "must be an integer") from None
    if value < 0 or (high is not None and not 1 <= value <= high):
        raise ValidationError(name, f"must be between 1 and {high}" if high else "must be >= 0")
    if value > INT64_MAX:
        raise ValidationError(name, f"must be at most {INT64_MAX}")
    return value
