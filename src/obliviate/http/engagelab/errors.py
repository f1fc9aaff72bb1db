"""EngageLab's error envelope ``{"error":{"code","message"}}`` and the mapping onto it."""

from __future__ import annotations

from typing import Any

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
from obliviate.http.json import json_response as shared_json_response

AUTH_MISSING = 27001
INVALID = 27002
AUTH_FAILED = 27004
# EngageLab documents no code of its own for throttling; 2002 is the code its JPush lineage
# answers "API call frequency exceeds the limit" with.
TOO_FREQUENT = 2002
# Nor for an outage; 1000 is what that lineage answers a server-side failure worth retrying with.
UNAVAILABLE = 1000


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


def _invalid(exc: ObliviateError) -> Response:
    # EngageLab has one code for every refusal of the request itself; the message tells them
    # apart, and errors it has no notion of (a deletion job, a receipt) answer 400 with it too.
    return error_response(400, INVALID, str(exc))


def _conflict(exc: ConflictError) -> Response:
    return error_response(409, INVALID, str(exc))


def _invalid_field(exc: ValidationError) -> Response:
    return error_response(400, INVALID, f"invalid {exc.field}: {exc.message}")


def _auth_failed(_: AuthenticationError) -> Response:
    return error_response(
        401, AUTH_FAILED, "authentication failed: app_key or master_secret is wrong"
    )


def _rate_limited(exc: RateLimited) -> Response:
    return error_response(
        429,
        TOO_FREQUENT,
        "API call frequency exceeds the limit",
        headers={"Retry-After": str(exc.retry_after)},
    )


def _unavailable(exc: DependencyUnavailable) -> Response:
    return error_response(
        503,
        UNAVAILABLE,
        f"service temporarily unavailable ({exc.dependency} unreachable), retry later",
        headers={"Retry-After": str(exc.retry_after)},
    )


TABLE = ErrorTable(
    entry(
        BodyTooLarge,
        lambda e: error_response(413, INVALID, f"request body is bigger than {e.limit} bytes"),
    ),
    entry(MalformedJson, lambda e: error_response(400, INVALID, f"invalid JSON body: {e}")),
    entry(ObliviateError, _invalid),
    entry(AuthenticationError, _auth_failed),
    entry(
        MissingCredentials,
        lambda _: error_response(401, AUTH_MISSING, "authentication information is missing"),
    ),
    entry(Forbidden, _invalid),
    entry(ValidationError, _invalid_field),
    entry(MergeLimitExceeded, _invalid_field),
    entry(NotFoundError, _invalid),
    entry(ProfileNotFound, _invalid),
    entry(AccountNotFound, _invalid),
    entry(DeviceNotFound, lambda _: error_response(404, INVALID, "registration_id does not exist")),
    entry(JobNotFound, _invalid),
    entry(ReceiptNotFound, _invalid),
    entry(SuppressionNotFound, _invalid),
    entry(ModelNotFound, _invalid),
    entry(ConflictError, _conflict),
    entry(DuplicateProfile, _conflict),
    entry(DuplicateAccount, _conflict),
    entry(IdentifierInUse, _conflict),
    entry(SoleIdentifier, _invalid),
    entry(IdentifierUnchanged, _invalid),
    entry(Suppressed, lambda e: error_response(400, INVALID, f"invalid registration_id: {e}")),
    entry(MassDeletionRefused, _invalid),
    entry(BatchTooLarge, _invalid),
    entry(IdempotencyMismatch, _invalid),
    entry(NotCancellable, _invalid),
    entry(RateLimited, _rate_limited),
    entry(DependencyUnavailable, _unavailable),
)


def to_response(exc: Exception) -> Response:
    return TABLE.answer(exc)
