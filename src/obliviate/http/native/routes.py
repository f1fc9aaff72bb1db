"""Obliviate's own ``/api/v1``: profiles, events, devices, deletions, receipts, suppressions.

Each resource module holds its handlers and the operations that route to them; the order of
the list below is the order of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obliviate.domain.errors import AuthenticationError
from obliviate.domain.tenants import Caller
from obliviate.http.json import json_response
from obliviate.http.native import deletions, devices, exports, profiles, records
from obliviate.http.native.errors import to_response
from obliviate.http.native.openapi import openapi_document
from obliviate.http.native.operations import Operation
from obliviate.http.runtime import Runtime, surface_endpoint

SURFACE = "native"


def _authenticator(rt: Runtime) -> Callable[[Request], Awaitable[Caller]]:
    async def authenticate(request: Request) -> Caller:
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("missing bearer token")
        token = token.strip()
        return await rt.authenticated(
            request, f"native:{token}", partial(rt.authenticator.native, token)
        )

    return authenticate


def operations(rt: Runtime) -> list[Operation]:
    return [
        *profiles.operations(profiles.ProfilesApi(rt)),
        *devices.operations(devices.DevicesApi(rt)),
        *deletions.operations(deletions.DeletionsApi(rt)),
        *records.operations(records.RecordsApi(rt)),
        *exports.operations(exports.ExportsApi(rt)),
    ]


def _scoped(op: Operation) -> Any:
    async def run(request: Request, caller: Caller) -> Response:
        caller.require(op.scope)
        return await op.handler(request, caller)

    return run


def routes(rt: Runtime) -> list[Route]:
    wrap = surface_endpoint(
        rt, surface=SURFACE, authenticate=_authenticator(rt), to_response=to_response
    )
    ops = operations(rt)
    document = openapi_document(ops)

    async def spec(_: Request) -> Response:
        return json_response(document)

    return [
        Route("/api/v1/openapi.json", spec, methods=["GET"]),
        Route("/native/openapi.json", spec, methods=["GET"]),
        *(Route(op.path, wrap(_scoped(op)), methods=[op.method]) for op in ops),
    ]
