"""One socket write per response turn, and nothing else changed about HTTP.

``CoalescingTransport`` is checked on real asyncio TCP transports (the writes that reach the
real transport are recorded), and ``CoalescingHttpToolsProtocol`` under a real uvicorn server
with raw sockets: keep-alive, pipelining, ``Connection: close`` and a large streamed body to a
slow reader all come out exactly as they go in.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from obliviate.http.coalesce import FLUSH_AT, CoalescingHttpToolsProtocol, CoalescingTransport
from obliviate.http.dispatch import LeanApp

CHUNK = b"x" * 65536
CHUNKS = 160  # 10 MiB: well past any socket buffer, so flow control has to pause the writer


_WRITERS: list[asyncio.StreamWriter] = []


class _Recorded:
    """The real transport, with the writes it was given kept in order."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def _pair() -> tuple[CoalescingTransport, _Recorded, asyncio.StreamReader, Any]:
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[asyncio.StreamReader] = loop.create_future()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _WRITERS.append(writer)
        accepted.set_result(reader)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    recorded = _Recorded(transport)
    coalescing = CoalescingTransport(recorded, loop)  # type: ignore[arg-type]
    return coalescing, recorded, await accepted, server


def test_writes_of_one_turn_reach_the_socket_as_one_and_later_ones_after() -> None:
    async def scenario() -> None:
        coalescing, recorded, reader, server = await _pair()
        coalescing.write(b"HTTP/1.1 200 OK\r\n\r\n")
        coalescing.write(memoryview(b"body"))
        coalescing.write(b"")
        assert recorded.writes == []
        assert coalescing.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
        await asyncio.sleep(0)  # one turn of the loop
        assert recorded.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        coalescing.write(b"next")
        await asyncio.sleep(0)
        assert recorded.writes[1:] == [b"next"]
        coalescing.write(b"last words")
        coalescing.close()  # what waits goes out before the close
        got = await reader.read()
        assert got == b"HTTP/1.1 200 OK\r\n\r\nbodynextlast words"
        _WRITERS.pop().close()
        server.close()

    asyncio.run(scenario())


def test_a_turn_that_writes_much_hands_it_on_as_it_grows_so_flow_control_holds() -> None:
    async def scenario() -> None:
        coalescing, recorded, reader, server = await _pair()
        piece = b"y" * (FLUSH_AT // 4)
        for _ in range(10):
            coalescing.write(piece)
            assert coalescing.get_write_buffer_size() - recorded.get_write_buffer_size() < FLUSH_AT
        # Within the same turn, the real transport already had most of it.
        assert sum(map(len, recorded.writes)) >= 8 * len(piece)
        coalescing.close()
        assert await reader.read() == piece * 10
        _WRITERS.pop().close()
        server.close()

    asyncio.run(scenario())


def test_an_abort_drops_what_waits() -> None:
    async def scenario() -> None:
        coalescing, recorded, reader, server = await _pair()
        coalescing.write(b"never")
        coalescing.abort()
        await asyncio.sleep(0)
        assert recorded.writes == []
        assert await reader.read() == b""
        _WRITERS.pop().close()
        server.close()

    asyncio.run(scenario())


async def _echo(request: Request) -> Response:
    return PlainTextResponse(f"{request.path_params['n']}:{request.headers.get('x-tag', '')}")


async def _stream(_: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(CHUNKS):
            yield CHUNK

    return StreamingResponse(chunks(), media_type="application/octet-stream")


def _unrouted(_: Request, exc: Exception) -> Response:
    return PlainTextResponse(str(exc), status_code=404)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    app = LeanApp(
        [Route("/echo/{n}", _echo, methods=["GET"]), Route("/stream", _stream, methods=["GET"])],
        unrouted=_unrouted,
    )
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = threading.Event()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        deadline.wait(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(10)


def _read_response(f: Any) -> tuple[bytes, dict[bytes, bytes], bytes]:
    status = f.readline()
    headers: dict[bytes, bytes] = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, headers, f.read(int(headers[b"content-length"]))
    body = bytearray()
    while (size := int(f.readline().strip(), 16)) > 0:
        body += f.read(size)
        f.readline()
    f.readline()
    return status, headers, bytes(body)


def test_keep_alive_and_pipelined_requests_each_get_their_own_answer(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock, sock.makefile("rb") as f:
        for n in range(50):
            sock.sendall(f"GET /echo/{n} HTTP/1.1\r\nHost: x\r\nX-Tag: t{n}\r\n\r\n".encode())
            assert _read_response(f)[2] == f"{n}:t{n}".encode()
        sock.sendall(
            b"".join(
                f"GET /echo/{n} HTTP/1.1\r\nHost: x\r\nX-Tag: p{n}\r\n\r\n".encode()
                for n in range(20)
            )
        )
        assert [_read_response(f)[2] for _ in range(20)] == [
            f"{n}:p{n}".encode() for n in range(20)
        ]


def test_connection_close_is_answered_whole_then_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock, sock.makefile("rb") as f:
        sock.sendall(b"GET /echo/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, body = _read_response(f)
        assert status.startswith(b"HTTP/1.1 200")
        assert body == b"7:"
        assert f.read() == b""


def test_a_large_stream_to_a_slow_reader_arrives_whole_and_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        with sock.makefile("rb") as f:
            status, headers, body = _read_response(f)
    assert status.startswith(b"HTTP/1.1 200")
    assert headers[b"transfer-encoding"] == b"chunked"
    assert body == CHUNK * CHUNKS
