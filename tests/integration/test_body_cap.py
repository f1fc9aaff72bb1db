"""The body cap is enforced while the body streams in: nothing past the cap is read."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request
from starlette.types import Message

from obliviate.http.body import BodyTooLarge, read_capped

CHUNK = 64 * 1024


def _streaming_request(
    total: int, pulled: list[int], headers: list[tuple[bytes, bytes]]
) -> Request:
    sent = 0

    async def receive() -> Message:
        nonlocal sent
        size = min(CHUNK, total - sent)
        sent += size
        pulled.append(size)
        return {"type": "http.request", "body": b"x" * size, "more_body": sent < total}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive)


def test_a_six_megabyte_chunked_body_is_refused_after_reading_just_past_the_cap() -> None:
    pulled: list[int] = []
    request = _streaming_request(6_000_000, pulled, [(b"transfer-encoding", b"chunked")])
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_capped(request, 5_000_000))
    assert sum(pulled) <= 5_000_000 + CHUNK
    assert sum(pulled) < 6_000_000


def test_a_declared_oversized_length_is_refused_before_reading_anything() -> None:
    pulled: list[int] = []
    request = _streaming_request(6_000_000, pulled, [(b"content-length", b"6000000")])
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_capped(request, 5_000_000))
    assert pulled == []


def test_a_body_at_the_cap_is_read_whole() -> None:
    pulled: list[int] = []
    request = _streaming_request(5_000_000, pulled, [])
    assert len(asyncio.run(read_capped(request, 5_000_000))) == 5_000_000
