"""The console's answers to errors: an HTML page with a clear message, one row per error class
(held complete by tests/surfaces/console/test_console_errors.py), never a bare 500."""

from __future__ import annotations

import logging

from starlette.responses import Response

from obliviate.domain import errors as domain
from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.console.render import error_page
from obliviate.http.console.session import CsrfRefused
from obliviate.http.errors import ErrorTable, entry

log = logging.getLogger(__name__)


def _invalid(exc: domain.ValidationError) -> Response:
    return error_page(
        400, "That input was refused", f"{exc.field}: {exc.message}. Nothing changed."
    )


def _guard(exc: domain.MassDeletionRefused) -> Response:
    return error_page(
        409,
        "The mass-deletion guard refused this deletion",
        f"{exc.recent} deletions in the last 60 minutes would exceed the {exc.allowed} "
        "allowed. Nothing was deleted. If this is intended, go back to the dry run, tick "
        "“Confirm mass deletion” and delete again.",
    )


def _rate_limited(exc: domain.RateLimited) -> Response:
    return error_page(
        429,
        "Too many requests",
        f"Try again in {exc.retry_after} s.",
        headers={"Retry-After": str(exc.retry_after)},
    )


def _unavailable(exc: domain.DependencyUnavailable) -> Response:
    return error_page(
        503,
        "A service the console needs is unavailable",
        f"{exc.dependency} is unreachable; try again in {exc.retry_after} s. Nothing changed.",
        headers={"Retry-After": str(exc.retry_after)},
    )


def _csrf(_: CsrfRefused) -> Response:
    return error_page(
        403,
        "This form was refused",
        "It did not carry this session's form token (it may be from an older page, another "
        "browser or another site). Nothing was changed: reload the page and submit again.",
    )


def _signed_out(_: domain.AuthenticationError) -> Response:
    return error_page(
        401,
        "Not signed in",
        "Your session has ended or its token was revoked. Sign in again with an admin token.",
    )


def _forbidden(exc: domain.Forbidden) -> Response:
    return error_page(
        403, "Not allowed", f"The console needs a native token with the admin scope ({exc})."
    )


TABLE = ErrorTable(
    entry(
        BodyTooLarge,
        lambda e: error_page(413, "Too large", f"The form is bigger than {e.limit} bytes."),
    ),
    entry(MalformedJson, lambda e: error_page(400, "Malformed request", str(e))),
    entry(CsrfRefused, _csrf),
    entry(domain.ObliviateError, lambda e: error_page(400, "Refused", str(e))),
    entry(domain.AuthenticationError, _signed_out),
    entry(domain.MissingCredentials, _signed_out),
    entry(domain.Forbidden, _forbidden),
    entry(domain.ValidationError, _invalid),
    entry(domain.MergeLimitExceeded, _invalid),
    entry(domain.NotFoundError, lambda e: error_page(404, "Not found", str(e))),
    entry(domain.ProfileNotFound, lambda _: error_page(404, "Not found", "No such person.")),
    entry(domain.AccountNotFound, lambda _: error_page(404, "Not found", "No such account.")),
    entry(domain.DeviceNotFound, lambda _: error_page(404, "Not found", "No such device.")),
    entry(domain.JobNotFound, lambda _: error_page(404, "Not found", "No such deletion job.")),
    entry(domain.ExportJobNotFound, lambda _: error_page(404, "Not found", "No such export job.")),
    entry(domain.ReceiptNotFound, lambda _: error_page(404, "Not found", "No such receipt.")),
    entry(
        domain.SuppressionNotFound,
        lambda _: error_page(404, "Not found", "That identifier is not suppressed."),
    ),
    entry(domain.ModelNotFound, lambda _: error_page(404, "Not found", "No such model.")),
    entry(domain.ConflictError, lambda e: error_page(409, "Conflict", str(e))),
    entry(domain.DuplicateProfile, lambda e: error_page(409, "Conflict", str(e))),
    entry(domain.DuplicateAccount, lambda e: error_page(409, "Conflict", str(e))),
    entry(domain.IdentifierInUse, lambda e: error_page(409, "Conflict", str(e))),
    entry(domain.SoleIdentifier, lambda e: error_page(400, "Refused", str(e))),
    entry(domain.IdentifierUnchanged, lambda e: error_page(400, "Refused", str(e))),
    entry(domain.Suppressed, lambda e: error_page(409, "Suppressed", str(e))),
    entry(domain.MassDeletionRefused, _guard),
    entry(domain.BatchTooLarge, lambda e: error_page(413, "Too many subjects", str(e))),
    entry(domain.IdempotencyMismatch, lambda e: error_page(422, "Refused", str(e))),
    entry(domain.NotCancellable, lambda e: error_page(409, "Cannot cancel", str(e))),
    entry(domain.RateLimited, _rate_limited),
    entry(domain.DependencyUnavailable, _unavailable),
)


def to_response(exc: Exception) -> Response:
    try:
        return TABLE.answer(exc)
    except Exception:
        # A bug: logged with its traceback, answered as a page rather than a bare 500.
        log.exception("console: unhandled error")
        return error_page(
            500,
            "Something went wrong",
            "The console hit an unexpected error; nothing is known to have changed. "
            "The server log has the details.",
        )
