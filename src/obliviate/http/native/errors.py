"""RFC 9457 problem details for the native API."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import Response

from obliviate.domain.devices import DeviceNotFound
from obliviate.domain.errors import (
    AuthenticationError,
    BatchTooLarge,
    ConflictError,
    DependencyUnavailable,
    Forbidden,
    IdempotencyMismatch,
    MassDeletionRefused,
    NotCancellable,
    NotFoundError,
    ObliviateError,
    RateLimited,
    Suppressed,
    ValidationError,
)
from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.json import json_response

PROBLEM_BASE = "https://obliviate.dev/problems/"


def problem(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None, **extra: object
) -> Response:
    body = {
        "type": PROBLEM_BASE + kind,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return json_response(
        body, status=status, headers=headers, media_type="application/problem+json"
    )


def to_response(exc: Exception) -> Response:
    if isinstance(exc, AuthenticationError):
        return problem(
            401,
            "unauthorized",
            "a valid bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="obliviate"'},
        )
    if isinstance(exc, Forbidden):
        return problem(403, "forbidden", str(exc), scope=exc.scope)
    if isinstance(exc, RateLimited):
        return problem(
            429,
            "rate-limited",
            f"too many requests; retry after {exc.retry_after} s",
            headers={
                "Retry-After": str(exc.retry_after),
                "RateLimit-Limit": str(exc.limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(exc.retry_after),
            },
        )
    if isinstance(exc, DependencyUnavailable):
        return problem(
            503,
            "dependency-unavailable",
            f"{exc.dependency} is unreachable; retry after {exc.retry_after} s",
            headers={"Retry-After": str(exc.retry_after)},
            dependency=exc.dependency,
        )
    if isinstance(exc, BodyTooLarge):
        return problem(413, "body-too-large", f"request body is bigger than {exc.limit} bytes")
    if isinstance(exc, MalformedJson):
        return problem(400, "malformed-json", str(exc))
    if isinstance(exc, ValidationError):
        return problem(422, "invalid-field", exc.message, field=exc.field)
    if isinstance(exc, DeviceNotFound):
        return problem(404, "not-found", "no such device")
    if isinstance(exc, NotFoundError):
        return problem(404, "not-found", "no such profile")
    if isinstance(exc, Suppressed):
        return problem(409, "suppressed", str(exc))
    if isinstance(exc, MassDeletionRefused):
        return problem(409, "mass-delete-guard", str(exc), allowed=exc.allowed)
    if isinstance(exc, BatchTooLarge):
        return problem(413, "batch-too-large", str(exc), limit=exc.limit)
    if isinstance(exc, IdempotencyMismatch):
        return problem(422, "idempotency-key-reused", str(exc))
    if isinstance(exc, NotCancellable):
        return problem(409, "not-cancellable", str(exc), state=exc.state)
    if isinstance(exc, ConflictError):
        return problem(409, "conflict", str(exc))
    if isinstance(exc, ObliviateError):
        return problem(400, "bad-request", str(exc))
    raise exc
