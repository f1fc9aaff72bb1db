"""JSON responses, serialised with orjson."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response

_scalar = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class _Text(str):
    """Output text waiting on the stack of ``dumps_any_depth`` (not a value to encode)."""


def dumps_any_depth(value: Any) -> bytes:
    """Encode plain JSON values (dict, list, str, int, float, bool, None) nested to any depth.

    orjson stops at 255 levels and the json module at the interpreter's recursion limit, while a
    record stored before ``check_free_form`` bounded its depth may nest deeper than either: it
    must not turn every list that holds it into a 500. Iterative, so no depth is too deep.
    """
    parts: list[str] = []
    # Values still to encode, and _Text to emit as it stands, last first.
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _Text):
            parts.append(item)
        elif isinstance(item, dict):
            parts.append("{")
            pending.append(_Text("}"))
            for n, (key, child) in enumerate(reversed(item.items())):
                pending.append(child)
                pending.append(_Text(_scalar(str(key)) + ":"))
                if n < len(item) - 1:
                    pending.append(_Text(","))
        elif isinstance(item, list | tuple):
            parts.append("[")
            pending.append(_Text("]"))
            for n, child in enumerate(reversed(item)):
                pending.append(child)
                if n < len(item) - 1:
                    pending.append(_Text(","))
        else:
            parts.append(_scalar(item))
    return "".join(parts).encode()


def json_response(
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    try:
        content = orjson.dumps(body)
    except orjson.JSONEncodeError:
        # Only a body orjson cannot encode (deeper than 255 levels) takes the slow path.
        content = dumps_any_depth(body)
    return Response(content, status_code=status, headers=headers, media_type=media_type)
