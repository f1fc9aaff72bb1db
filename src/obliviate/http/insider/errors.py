"""Insider's error bodies, byte for byte as SPEC §3.3 and the seed give them."""

from __future__ import annotations

from starlette.responses import Response

from obliviate.domain.errors import (
    AuthenticationError,
    DependencyUnavailable,
    IdentifierInUse,
    IdentifierUnchanged,
    NotFoundError,
    ObliviateError,
    RateLimited,
    SoleIdentifier,
    ValidationError,
)
from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.json import json_response


class PartnerInvalid(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("partner name missing or not lowercase")


ACCESS_DENIED = "Access Denied. You do not have sufficient access to perform this action."
NO_SUCH_USER = "no such user for these identifiers: no data"


def bad_request(message: str) -> Response:
    return json_response({"error": f"{message}: bad request"}, status=400)


def to_response(exc: Exception) -> Response:
    if isinstance(exc, PartnerInvalid):
        return json_response({"success": False, "message": "Partner is invalid."}, status=400)
    if isinstance(exc, AuthenticationError):
        return json_response({"success": False, "message": ACCESS_DENIED}, status=403)
    if isinstance(exc, RateLimited):
        return json_response(
            {"error": "rejected: too many requests"},
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, DependencyUnavailable):
        # Insider's "<what>: <category>" shape, as its 400s and 404s have it.
        return json_response(
            {"error": f"{exc.dependency} is unreachable: service unavailable"},
            status=503,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, BodyTooLarge):
        return json_response(
            {"error": f"request body is bigger than maximum allowed size {exc.limit:,} bytes"},
            status=413,
        )
    if isinstance(exc, MalformedJson):
        return bad_request("request body is not valid JSON")
    if isinstance(exc, ValidationError):
        return bad_request(f"{exc.field} {exc.message}")
    if isinstance(exc, NotFoundError):
        return json_response({"error": NO_SUCH_USER}, status=404)
    if isinstance(exc, SoleIdentifier):
        return bad_request("you cannot delete the sole identifier specified for a user")
    if isinstance(exc, IdentifierUnchanged):
        return bad_request("identifier values are the same")
    if isinstance(exc, IdentifierInUse):
        return bad_request("new identifier already has a user assigned to it")
    if isinstance(exc, ObliviateError):
        return bad_request(str(exc))
    raise exc
