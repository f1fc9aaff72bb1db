"""Insider's error bodies, byte for byte as the vendor gives them, one table row per error."""

from __future__ import annotations

from starlette.responses import Response

from obliviate.domain import errors as domain
from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.errors import ErrorTable, entry
from obliviate.http.json import json_response


class PartnerInvalid(domain.AuthenticationError):
    """Insider's own refusal, before any credential is read: the partner name (its word for a
    tenant) is missing or not lowercase. Only this surface names a tenant apart from its
    credentials, so the error stays here rather than in the domain's tree."""

    def __init__(self) -> None:
        super().__init__("partner name missing or not lowercase")


ACCESS_DENIED = "Access Denied. You do not have sufficient access to perform this action."
NO_SUCH_USER = "no such user for these identifiers: no data"


def bad_request(message: str) -> Response:
    return json_response({"error": f"{message}: bad request"}, status=400)


def no_data(what: str) -> Response:
    """A 404 in the shape of Insider's own for a user: ``<what>: no data``."""
    return json_response({"error": f"{what}: no data"}, status=404)


def _bad_request(exc: domain.ObliviateError) -> Response:
    return bad_request(str(exc))


def _invalid(exc: domain.ValidationError) -> Response:
    return bad_request(f"{exc.field} {exc.message}")


def _access_denied(_: domain.AuthenticationError) -> Response:
    return json_response({"success": False, "message": ACCESS_DENIED}, status=403)


def _no_such_user(_: domain.NotFoundError) -> Response:
    return json_response({"error": NO_SUCH_USER}, status=404)


def _rate_limited(exc: domain.RateLimited) -> Response:
    return json_response(
        {"error": "rejected: too many requests"},
        status=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


def _unavailable(exc: domain.DependencyUnavailable) -> Response:
    # Insider's "<what>: <category>" shape, as its 400s and 404s have it.
    return json_response(
        {"error": f"{exc.dependency} is unreachable: service unavailable"},
        status=503,
        headers={"Retry-After": str(exc.retry_after)},
    )


def _too_large(exc: BodyTooLarge) -> Response:
    return json_response(
        {"error": f"request body is bigger than maximum allowed size {exc.limit:,} bytes"},
        status=413,
    )


TABLE = ErrorTable(
    entry(BodyTooLarge, _too_large),
    entry(MalformedJson, lambda _: bad_request("request body is not valid JSON")),
    entry(domain.ObliviateError, _bad_request),
    entry(domain.AuthenticationError, _access_denied),
    entry(domain.MissingCredentials, _access_denied),
    entry(
        PartnerInvalid,
        lambda _: json_response({"success": False, "message": "Partner is invalid."}, status=400),
    ),
    entry(domain.Forbidden, _bad_request),
    entry(domain.ValidationError, _invalid),
    entry(domain.MergeLimitExceeded, _invalid),
    entry(domain.NotFoundError, _no_such_user),
    entry(domain.ProfileNotFound, _no_such_user),
    entry(domain.AccountNotFound, lambda _: no_data("no such account")),
    entry(domain.DeviceNotFound, lambda _: no_data("no such device")),
    entry(domain.JobNotFound, lambda _: no_data("no such deletion job")),
    entry(domain.ExportJobNotFound, lambda _: no_data("no such export job")),
    entry(domain.ReceiptNotFound, lambda _: no_data("no such receipt")),
    entry(domain.SuppressionNotFound, lambda _: no_data("no such suppression")),
    entry(domain.ModelNotFound, lambda _: no_data("no such model")),
    entry(domain.ConflictError, _bad_request),
    entry(domain.DuplicateProfile, _bad_request),
    entry(domain.DuplicateAccount, _bad_request),
    entry(
        domain.IdentifierInUse,
        lambda _: bad_request("new identifier already has a user assigned to it"),
    ),
    entry(
        domain.SoleIdentifier,
        lambda _: bad_request("you cannot delete the sole identifier specified for a user"),
    ),
    entry(domain.IdentifierUnchanged, lambda _: bad_request("identifier values are the same")),
    entry(domain.Suppressed, _bad_request),
    entry(domain.MassDeletionRefused, _bad_request),
    entry(domain.BatchTooLarge, _bad_request),
    entry(domain.IdempotencyMismatch, _bad_request),
    entry(domain.NotCancellable, _bad_request),
    entry(domain.RateLimited, _rate_limited),
    entry(domain.DependencyUnavailable, _unavailable),
)


def to_response(exc: Exception) -> Response:
    return TABLE.answer(exc)
