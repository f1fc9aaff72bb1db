"""A real server refuses a 6 MB Insider body with 413 while the client is still sending it."""

from __future__ import annotations

import json
import select
import socket
from pathlib import Path

import pytest

from tests.support.servers import SYSTEM_KEY, Server

pytestmark = pytest.mark.system
CHUNK = 64 * 1024


def test_a_six_megabyte_body_is_refused_before_it_is_all_sent(tmp_path: Path) -> None:
    env = {
        "OBLIVIATE_DATABASE_URL": f"sqlite:///{tmp_path / 'obliviate.db'}",
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }
    server = Server(env, tmp_path / "server.log", "--no-worker")
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(
            b"POST /api/user/v1/upsert HTTP/1.1\r\nHost: x\r\n"
            b"X-PARTNER-NAME: demo\r\nX-REQUEST-TOKEN: demo-request-token\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        sent = 0
        # Send a little past the cap, then hold back the rest of the 6 MB: a server that
        # wanted the whole body would wait for it, and the answer would never come.
        while sent <= 5_000_000 + CHUNK:
            sock.sendall(chunk)
            sent += CHUNK
        assert sent < 6_000_000
        readable, _, _ = select.select([sock], [], [], 15)
        assert readable, "the server waited for the whole 6 MB body"
        sock.settimeout(10)
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            response += data
        sock.close()
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413")
        assert json.loads(body) == {
            "error": "request body is bigger than maximum allowed size 5,000,000 bytes"
        }
    finally:
        server.stop()
