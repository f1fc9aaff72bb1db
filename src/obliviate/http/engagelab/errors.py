"""EngageLab's error envelope ``{"error":{"code","message"}}`` and the mapping onto it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from obliviate.domain import errors as domain
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


def _invalid(exc: domain.ObliviateError) -> Response:
    # EngageLab has one code for every refusal of the request itself; the message tells them
    # apart, and errors it has no notion of (a deletion job, a receipt) answer 400 with it too.
    return error_response(400, INVALID, str(exc))


def _conflict(exc: domain.ConflictError) -> Response:
    return error_response(409, INVALID, str(exc))


def _invalid_field(exc: domain.ValidationError) -> Response:
    return error_response(400, INVALID, f"invalid {exc.field}: {exc.message}")


def _auth_failed(_: domain.AuthenticationError) -> Response:
    return error_response(
        401, AUTH_FAILED, "authentication failed: app_key or master_secret is wrong"
    )


def _rate_limited(exc: domain.RateLimited) -> Response:
    return error_response(
        429,
        TOO_FREQUENT,
        "API call frequency exceeds the limit",
        headers={"Retry-After": str(exc.retry_after)},
    )


def _unavailable(exc: domain.DependencyUnavailable) -> Response:
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
    entry(domain.ObliviateError, _invalid),
    entry(domain.AuthenticationError, _auth_failed),
    entry(
        domain.MissingCredentials,
        lambda _: error_response(401, AUTH_MISSING, "authentication information is missing"),
    ),
    entry(domain.Forbidden, _invalid),
    entry(domain.ValidationError, _invalid_field),
    entry(domain.MergeLimitExceeded, _invalid_field),
    entry(domain.NotFoundError, _invalid),
    entry(domain.ProfileNotFound, _invalid),
    entry(domain.AccountNotFound, _invalid),
    entry(
        domain.DeviceNotFound,
        lambda _: error_response(404, INVALID, "registration_id does not exist"),
    ),
    entry(domain.JobNotFound, _invalid),
    entry(domain.ExportJobNotFound, _invalid),
    entry(domain.ReceiptNotFound, _invalid),
    entry(domain.SuppressionNotFound, _invalid),
    entry(domain.ModelNotFound, _invalid),
    entry(domain.ConflictError, _conflict),
    entry(domain.DuplicateProfile, _conflict),
    entry(domain.DuplicateAccount, _conflict),
    entry(domain.IdentifierInUse, _conflict),
    entry(domain.SoleIdentifier, _invalid),
    entry(domain.IdentifierUnchanged, _invalid),
    entry(
        domain.Suppressed, lambda e: error_response(400, INVALID, f"invalid registration_id: {e}")
    ),
    entry(domain.MassDeletionRefused, _invalid),
    entry(domain.BatchTooLarge, _invalid),
    entry(domain.IdempotencyMismatch, _invalid),
    entry(domain.NotCancellable, _invalid),
    entry(domain.RateLimited, _rate_limited),
    entry(domain.DependencyUnavailable, _unavailable),
)


def to_response(exc: Exception) -> Response:
    return TABLE.answer(exc)
