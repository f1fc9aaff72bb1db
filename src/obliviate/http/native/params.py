"""Query parameters of the native API."""

from __future__ import annotations

from starlette.requests import Request

from obliviate.domain.errors import NotFoundError, ValidationError
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


def job_id_param(request: Request, unknown: type[NotFoundError]) -> int:
    """The ``job_id`` path parameter, or ``unknown`` raised: ``str.isdigit()`` also holds for
    digits int() cannot read (e.g. "²"), and a job id is a 64-bit row id, so anything else
    names no job."""
    raw = request.path_params["job_id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) > INT64_MAX:
        raise unknown()
    return int(raw)
