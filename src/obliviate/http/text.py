"""Request text the store can hold: no NUL (U+0000) anywhere.

PostgreSQL text cannot hold NUL, so an identifier, registration id, event name or filter value
carrying one failed deep in the database (a 500 that the fuzzing suite found). Every surface
refuses it up front instead, as invalid input in its own envelope: in the body (``read_json``),
in path and query parameters (``refuse_nul_in_url``, which every surface endpoint runs once
its caller is known).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from obliviate.domain.errors import ValidationError

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


def refuse_nul_in_url(request: Request) -> None:
    """Refuse a path or query parameter that holds NUL, naming it."""
    scope = request.scope
    query: bytes = scope.get("query_string", b"")
    # Nearly every request has no NUL anywhere; only then are the parameters parsed to name
    # the one that holds it (parsing them cost about 5% of a GET).
    if NUL not in scope["path"] and b"%00" not in query and b"\x00" not in query:
        return
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if NUL in str(value):
            raise ValidationError(name, MESSAGE)
