"""Gainsight PX's error envelope and the mapping of Obliviate errors onto it."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import Response

from obliviate.domain import errors as domain
from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.errors import ErrorTable, entry
from obliviate.http.json import json_response

# Gainsight answers with Spring's HttpStatus names, which differ from Python's for a few codes.
_SPRING_NAMES = {413: "PAYLOAD_TOO_LARGE"}


def _status_name(status: int) -> str:
    return _SPRING_NAMES.get(status) or HTTPStatus(status).name


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {
        "externalapierror": {
            "status": _status_name(status),
            "message": message,
            "debugMessage": None,
            "subErrors": None,
        }
    }
    return json_response(body, status=status, headers=headers)


def not_found_message(identify_id: str) -> str:
    return f"User was not found for parameters {{id={identify_id}}}"


def _unauthorized(_: domain.AuthenticationError) -> Response:
    return error_response(401, "Unauthorized or bad API Key")


def _invalid(exc: domain.ValidationError) -> Response:
    return error_response(400, f"Invalid value for '{exc.field}': {exc.message}")


def _not_found(exc: domain.NotFoundError) -> Response:
    return error_response(404, str(exc))


def _conflict(exc: domain.ObliviateError) -> Response:
    return error_response(409, str(exc))


def _bad_request(exc: domain.ObliviateError) -> Response:
    # Gainsight answers most refusals, conflicts among them, as 400 with the reason.
    return error_response(400, str(exc))


def _rate_limited(exc: domain.RateLimited) -> Response:
    return error_response(429, "Rate limit exceeded", headers={"Retry-After": str(exc.retry_after)})


def _unavailable(exc: domain.DependencyUnavailable) -> Response:
    return error_response(
        503,
        f"Service temporarily unavailable ({exc.dependency} unreachable); retry later",
        headers={"Retry-After": str(exc.retry_after)},
    )


TABLE = ErrorTable(
    entry(
        BodyTooLarge, lambda e: error_response(413, f"Request body is larger than {e.limit} bytes")
    ),
    entry(MalformedJson, lambda e: error_response(400, f"Malformed JSON request: {e}")),
    entry(domain.ObliviateError, _bad_request),
    entry(domain.AuthenticationError, _unauthorized),
    entry(domain.MissingCredentials, _unauthorized),
    entry(domain.Forbidden, _bad_request),
    entry(domain.ValidationError, _invalid),
    entry(domain.MergeLimitExceeded, _invalid),
    entry(domain.NotFoundError, _not_found),
    entry(domain.ProfileNotFound, lambda e: error_response(404, not_found_message(e.value))),
    entry(
        domain.AccountNotFound,
        lambda e: error_response(
            404, f"Account was not found for parameters {{id={e.account_id}}}"
        ),
    ),
    entry(domain.DeviceNotFound, _not_found),
    entry(domain.JobNotFound, _not_found),
    entry(domain.ExportJobNotFound, _not_found),
    entry(domain.ReceiptNotFound, _not_found),
    entry(domain.SuppressionNotFound, _not_found),
    entry(domain.ModelNotFound, lambda e: error_response(404, f"Type not found: {e.model}")),
    entry(domain.ConflictError, _bad_request),
    entry(
        domain.DuplicateProfile,
        lambda e: error_response(
            400, f"User with identifyId {e.value} already exists, possible duplicate"
        ),
    ),
    entry(
        domain.DuplicateAccount,
        lambda e: error_response(
            400, f"Account with id {e.account_id} already exists, possible duplicate"
        ),
    ),
    entry(domain.IdentifierInUse, _bad_request),
    entry(domain.SoleIdentifier, _bad_request),
    entry(domain.IdentifierUnchanged, _bad_request),
    entry(domain.Suppressed, _conflict),
    entry(domain.MassDeletionRefused, _conflict),
    entry(domain.BatchTooLarge, _bad_request),
    entry(domain.IdempotencyMismatch, _bad_request),
    entry(domain.NotCancellable, _bad_request),
    entry(domain.RateLimited, _rate_limited),
    entry(domain.DependencyUnavailable, _unavailable),
)


def to_response(exc: Exception) -> Response:
    return TABLE.answer(exc)
