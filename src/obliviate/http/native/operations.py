"""The native API's operations: one table the router and the OpenAPI document both read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.tenants import Caller

Handler = Callable[[Request, Caller], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    description: str
    type: str = "string"


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
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
