"""RFC 9457 problem details for the native API, one table row per error class."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import Response

from obliviate.domain.errors import (
    AccountNotFound,
    AuthenticationError,
    BatchTooLarge,
    ConflictError,
    DependencyUnavailable,
    DeviceNotFound,
    DuplicateAccount,
    DuplicateProfile,
    Forbidden,
    IdempotencyMismatch,
    IdentifierInUse,
    IdentifierUnchanged,
    JobNotFound,
    MassDeletionRefused,
    MergeLimitExceeded,
    MissingCredentials,
    ModelNotFound,
    NotCancellable,
    NotFoundError,
    ObliviateError,
    ProfileNotFound,
    RateLimited,
    ReceiptNotFound,
    SoleIdentifier,
    Suppressed,
    SuppressionNotFound,
    ValidationError,
)
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


def _unauthorized(_: AuthenticationError) -> Response:
    # Says nothing of why: a caller probing tokens learns no more from a wrong one than from none.
    return problem(
        401,
        "unauthorized",
        "a valid bearer token is required",
        headers={"WWW-Authenticate": 'Bearer realm="obliviate"'},
    )


def _rate_limited(exc: RateLimited) -> Response:
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


def _unavailable(exc: DependencyUnavailable) -> Response:
    return problem(
        503,
        "dependency-unavailable",
        f"{exc.dependency} is unreachable; retry after {exc.retry_after} s",
        headers={"Retry-After": str(exc.retry_after)},
        dependency=exc.dependency,
    )


def _invalid_field(exc: ValidationError) -> Response:
    return problem(422, "invalid-field", exc.message, field=exc.field)


def _not_found(detail: str) -> Response:
    return problem(404, "not-found", detail)


def _conflict(exc: ConflictError) -> Response:
    return problem(409, "conflict", str(exc))


def _bad_request(exc: ObliviateError) -> Response:
    return problem(400, "bad-request", str(exc))


TABLE = ErrorTable(
    entry(
        BodyTooLarge,
        lambda e: problem(413, "body-too-large", f"request body is bigger than {e.limit} bytes"),
    ),
    entry(MalformedJson, lambda e: problem(400, "malformed-json", str(e))),
    entry(ObliviateError, _bad_request),
    entry(AuthenticationError, _unauthorized),
    entry(MissingCredentials, _unauthorized),
    entry(Forbidden, lambda e: problem(403, "forbidden", str(e), scope=e.scope)),
    entry(ValidationError, _invalid_field),
    entry(MergeLimitExceeded, _invalid_field),
    # Only the command line raises a bare NotFoundError (no tenant, no token); no route does,
    # so it keeps the answer it always had.
    entry(NotFoundError, lambda _: _not_found("no such profile")),
    entry(ProfileNotFound, lambda _: _not_found("no such profile")),
    entry(AccountNotFound, lambda _: _not_found("no such account")),
    entry(DeviceNotFound, lambda _: _not_found("no such device")),
    entry(JobNotFound, lambda _: _not_found("no such deletion job")),
    entry(ReceiptNotFound, lambda _: _not_found("no such receipt")),
    entry(SuppressionNotFound, lambda _: _not_found("no such suppression")),
    entry(ModelNotFound, lambda _: _not_found("no such model")),
    entry(ConflictError, _conflict),
    entry(DuplicateProfile, _conflict),
    entry(DuplicateAccount, _conflict),
    entry(IdentifierInUse, _conflict),
    entry(SoleIdentifier, _bad_request),
    entry(IdentifierUnchanged, _bad_request),
    entry(Suppressed, lambda e: problem(409, "suppressed", str(e))),
    entry(
        MassDeletionRefused, lambda e: problem(409, "mass-delete-guard", str(e), allowed=e.allowed)
    ),
    entry(BatchTooLarge, lambda e: problem(413, "batch-too-large", str(e), limit=e.limit)),
    entry(IdempotencyMismatch, lambda e: problem(422, "idempotency-key-reused", str(e))),
    entry(NotCancellable, lambda e: problem(409, "not-cancellable", str(e), state=e.state)),
    entry(RateLimited, _rate_limited),
    entry(DependencyUnavailable, _unavailable),
)


def to_response(exc: Exception) -> Response:
    return TABLE.answer(exc)
