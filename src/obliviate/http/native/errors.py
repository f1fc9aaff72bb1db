"""RFC 9457 problem details for the native API, one table row per error class."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import Response

from obliviate.domain import errors as domain
from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.errors import ErrorTable, entry
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


def _unauthorized(_: domain.AuthenticationError) -> Response:
    # Says nothing of why: a caller probing tokens learns no more from a wrong one than from none.
    return problem(
        401,
        "unauthorized",
        "a valid bearer token is required",
        headers={"WWW-Authenticate": 'Bearer realm="obliviate"'},
    )


def _rate_limited(exc: domain.RateLimited) -> Response:
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


def _unavailable(exc: domain.DependencyUnavailable) -> Response:
    return problem(
        503,
        "dependency-unavailable",
        f"{exc.dependency} is unreachable; retry after {exc.retry_after} s",
        headers={"Retry-After": str(exc.retry_after)},
        dependency=exc.dependency,
    )


def _invalid_field(exc: domain.ValidationError) -> Response:
    return problem(422, "invalid-field", exc.message, field=exc.field)


def _not_found(detail: str) -> Response:
    return problem(404, "not-found", detail)


def _conflict(exc: domain.ConflictError) -> Response:
    return problem(409, "conflict", str(exc))


def _bad_request(exc: domain.ObliviateError) -> Response:
    return problem(400, "bad-request", str(exc))


TABLE = ErrorTable(
    entry(
        BodyTooLarge,
        lambda e: problem(413, "body-too-large", f"request body is bigger than {e.limit} bytes"),
    ),
    entry(MalformedJson, lambda e: problem(400, "malformed-json", str(e))),
    entry(domain.ObliviateError, _bad_request),
    entry(domain.AuthenticationError, _unauthorized),
    entry(domain.MissingCredentials, _unauthorized),
    entry(domain.Forbidden, lambda e: problem(403, "forbidden", str(e), scope=e.scope)),
    entry(domain.ValidationError, _invalid_field),
    entry(domain.MergeLimitExceeded, _invalid_field),
    # Only the command line raises a bare domain.NotFoundError (no tenant, no token); no route does,
    # so it keeps the answer it always had.
    entry(domain.NotFoundError, lambda _: _not_found("no such profile")),
    entry(domain.ProfileNotFound, lambda _: _not_found("no such profile")),
    entry(domain.AccountNotFound, lambda _: _not_found("no such account")),
    entry(domain.DeviceNotFound, lambda _: _not_found("no such device")),
    entry(domain.JobNotFound, lambda _: _not_found("no such deletion job")),
    entry(domain.ExportJobNotFound, lambda _: _not_found("no such export job")),
    entry(domain.ReceiptNotFound, lambda _: _not_found("no such receipt")),
    entry(domain.SuppressionNotFound, lambda _: _not_found("no such suppression")),
    entry(domain.ModelNotFound, lambda _: _not_found("no such model")),
    entry(domain.ConflictError, _conflict),
    entry(domain.DuplicateProfile, _conflict),
    entry(domain.DuplicateAccount, _conflict),
    entry(domain.IdentifierInUse, _conflict),
    entry(domain.SoleIdentifier, _bad_request),
    entry(domain.IdentifierUnchanged, _bad_request),
    entry(domain.Suppressed, lambda e: problem(409, "suppressed", str(e))),
    entry(
        domain.MassDeletionRefused,
        lambda e: problem(409, "mass-delete-guard", str(e), allowed=e.allowed),
    ),
    entry(domain.BatchTooLarge, lambda e: problem(413, "batch-too-large", str(e), limit=e.limit)),
    entry(domain.IdempotencyMismatch, lambda e: problem(422, "idempotency-key-reused", str(e))),
    entry(domain.NotCancellable, lambda e: problem(409, "not-cancellable", str(e), state=e.state)),
    entry(domain.RateLimited, _rate_limited),
    entry(domain.DependencyUnavailable, _unavailable),
)


def to_response(exc: Exception) -> Response:
    return TABLE.answer(exc)
