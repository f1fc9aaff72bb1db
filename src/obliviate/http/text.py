"""Request text the store can hold: no NUL (U+0000) anywhere.

PostgreSQL text cannot hold NUL, so an identifier, registration id, event name or filter value
carrying one failed deep in the database (a 500 that the fuzzing suite found). Every surface
refuses it up front instead, as invalid input in its own envelope: in the body (``read_json``),
in path and query parameters (``without_nul_in_url``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.errors import ValidationError
from obliviate.domain.tenants import Caller
from obliviate.http.runtime import Endpoint, Handler

NUL = "\x00"
MESSAGE = "may not contain the NUL character (U+0000)"


def holds_nul(value: Any) -> bool:
    """Whether any string in a parsed JSON value (keys included) holds NUL. Iterative: a
    hostile body may nest deeper than Python's recursion limit."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def without_nul_in_url(handler: Handler) -> Handler:
    async def run(request: Request, caller: Caller) -> Response:
        for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
            if NUL in str(value):
                raise ValidationError(name, MESSAGE)
        return await handler(request, caller)

    return run


def checking_text(wrap: Callable[[Handler], Endpoint]) -> Callable[[Handler], Endpoint]:
    """A surface's endpoint wrapper whose handlers also refuse NUL in the URL (after
    authentication, so nothing about a request is judged before its caller is known)."""
    return lambda handler: wrap(without_nul_in_url(handler))
