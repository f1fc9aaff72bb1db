"""The native API's operations: each resource module lists its own, and the router and the
OpenAPI document both read the one list they make together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.tenants import Caller

Handler = Callable[[Request, Caller], Awaitable[Response]]

PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    description: str
    type: str = "string"


# Parameters several operations share.
PAGE = (
    QueryParam("cursor", "from the previous page's next_cursor"),
    QueryParam("limit", "1-1000, default 100", "integer"),
)
CONFIRM = (QueryParam("X-Obliviate-Confirm-Mass-Delete", "yes: pass the mass-delete guard"),)


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    method: str
    path: str
    # Its name is the operation's id in the OpenAPI document.
    handler: Handler
    scope: str
    summary: str
    status: int = 200
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    headers: tuple[QueryParam, ...] = ()
    # Other success statuses the handler answers, each with its body (None: not described).
    also: tuple[tuple[int, type[BaseModel] | None], ...] = ()
