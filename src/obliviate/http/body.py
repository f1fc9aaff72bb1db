"""Reading request bodies with a size cap enforced while the bytes arrive."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from obliviate.domain.errors import ValidationError
from obliviate.http.text import MESSAGE, holds_nul


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is bigger than {limit} bytes")
        self.limit = limit


class MalformedJson(Exception):
    pass


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            # Stop reading: the rest of a hostile body is never held in memory.
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int, *, allow_empty: bool = False) -> Any:
    raw = await read_capped(request, limit)
    if not raw.strip():
        if allow_empty:
            return None
        raise MalformedJson("request body is empty")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"malformed JSON: {exc.msg}") from exc
    # JSON can only carry NUL escaped, so bodies without the escape skip the walk.
    if b"\\u0000" in raw and holds_nul(parsed):
        raise ValidationError("body", f"strings {MESSAGE}")
    return parsed
