"""Answers for a request no route takes: a path nothing serves (404) or a method its path does
not serve (405), in the error envelope of the surface the path belongs to, so that a vendor's
client reads the error it expects instead of plain text."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from obliviate.http.engagelab import errors as engagelab
from obliviate.http.gainsight import errors as gainsight
from obliviate.http.json import json_response
from obliviate.http.native import errors as native

Responder = Callable[[int, str, dict[str, str] | None], Response]


def _gainsight(status: int, message: str, headers: dict[str, str] | None) -> Response:
    return gainsight.error_response(status, message, headers=headers)


def _engagelab(status: int, message: str, headers: dict[str, str] | None) -> Response:
    return engagelab.error_response(status, engagelab.INVALID, message, headers=headers)


def _insider(status: int, message: str, headers: dict[str, str] | None) -> Response:
    category = {404: "not found", 405: "method not allowed"}.get(status, "internal error")
    return json_response({"error": f"{message}: {category}"}, status=status, headers=headers)


def _native(status: int, message: str, headers: dict[str, str] | None) -> Response:
    kind = {404: "not-found", 405: "method-not-allowed"}.get(status, "internal-error")
    return native.problem(status, kind, message, headers=headers)


# Longest prefix first: Insider's /api/user/v1/ lies under no other, native's /api/v1/ is
# also where any other path falls.
SURFACE_PREFIXES: tuple[tuple[str, Responder], ...] = (
    ("/v1/", _gainsight),
    ("/v4/", _engagelab),
    ("/api/user/v1/", _insider),
)


def unrouted(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None
    method, path = request.method, request.url.path
    if status == 405:
        message = f"Request method '{method}' is not supported by {path}"
    elif status == 404:
        message = f"No route for {method} {path}"
    else:
        message = HTTPStatus(status).phrase
    responder = next((r for prefix, r in SURFACE_PREFIXES if path.startswith(prefix)), _native)
    return responder(status, message, headers)
