"""EngageLab's error envelope ``{"error":{"code","message"}}`` and the mapping onto it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from obliviate.domain.devices import DeviceNotFound
from obliviate.domain.errors import (
    AuthenticationError,
    ConflictError,
    DependencyUnavailable,
    ObliviateError,
    RateLimited,
    Suppressed,
    ValidationError,
)
from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.json import json_response as shared_json_response

AUTH_MISSING = 27001
INVALID = 27002
AUTH_FAILED = 27004
# EngageLab documents no code of its own for throttling; 2002 is the code its JPush lineage
# answers "API call frequency exceeds the limit" with.
TOO_FREQUENT = 2002
# Nor for an outage; 1000 is what that lineage answers a server-side failure worth retrying with.
UNAVAILABLE = 1000


class MissingCredentials(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("missing credentials")


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # The vendor's answers carry an explicit charset.
    return shared_json_response(
        body, status=status, headers=headers, media_type="application/json; charset=utf-8"
    )


def error_response(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


def to_response(exc: Exception) -> Response:
    if isinstance(exc, MissingCredentials):
        return error_response(401, AUTH_MISSING, "authentication information is missing")
    if isinstance(exc, AuthenticationError):
        return error_response(
            401, AUTH_FAILED, "authentication failed: app_key or master_secret is wrong"
        )
    if isinstance(exc, RateLimited):
        return error_response(
            429,
            TOO_FREQUENT,
            "API call frequency exceeds the limit",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, DependencyUnavailable):
        return error_response(
            503,
            UNAVAILABLE,
            f"service temporarily unavailable ({exc.dependency} unreachable), retry later",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, BodyTooLarge):
        return error_response(413, INVALID, f"request body is bigger than {exc.limit} bytes")
    if isinstance(exc, MalformedJson):
        return error_response(400, INVALID, f"invalid JSON body: {exc}")
    if isinstance(exc, ValidationError):
        return error_response(400, INVALID, f"invalid {exc.field}: {exc.message}")
    if isinstance(exc, DeviceNotFound):
        return error_response(404, INVALID, "registration_id does not exist")
    if isinstance(exc, Suppressed):
        return error_response(400, INVALID, f"invalid registration_id: {exc}")
    if isinstance(exc, ConflictError):
        return error_response(409, INVALID, str(exc))
    if isinstance(exc, ObliviateError):
        return error_response(400, INVALID, str(exc))
    raise exc
