"""Gainsight PX's error envelope and the mapping of Obliviate errors onto it."""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import Response

from obliviate.domain.errors import (
    AccountNotFound,
    AuthenticationError,
    DependencyUnavailable,
    DuplicateAccount,
    DuplicateProfile,
    MassDeletionRefused,
    NotFoundError,
    ObliviateError,
    ProfileNotFound,
    RateLimited,
    Suppressed,
    ValidationError,
)
from obliviate.http.body import BodyTooLarge, MalformedJson
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


def to_response(exc: Exception) -> Response:
    if isinstance(exc, AuthenticationError):
        return error_response(401, "Unauthorized or bad API Key")
    if isinstance(exc, RateLimited):
        return error_response(
            429, "Rate limit exceeded", headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, DependencyUnavailable):
        return error_response(
            503,
            f"Service temporarily unavailable ({exc.dependency} unreachable); retry later",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, BodyTooLarge):
        return error_response(413, f"Request body is larger than {exc.limit} bytes")
    if isinstance(exc, MalformedJson):
        return error_response(400, f"Malformed JSON request: {exc}")
    if isinstance(exc, ValidationError):
        return error_response(400, f"Invalid value for '{exc.field}': {exc.message}")
    if isinstance(exc, ProfileNotFound):
        return error_response(404, not_found_message(exc.value))
    if isinstance(exc, AccountNotFound):
        return error_response(404, f"Account was not found for parameters {{id={exc.account_id}}}")
    if isinstance(exc, NotFoundError):
        return error_response(404, str(exc))
    if isinstance(exc, DuplicateAccount):
        return error_response(
            400, f"Account with id {exc.account_id} already exists, possible duplicate"
        )
    if isinstance(exc, DuplicateProfile):
        return error_response(
            400, f"User with identifyId {exc.value} already exists, possible duplicate"
        )
    if isinstance(exc, Suppressed | MassDeletionRefused):
        return error_response(409, str(exc))
    if isinstance(exc, ObliviateError):
        return error_response(400, str(exc))
    raise exc
