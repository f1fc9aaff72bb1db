"""One ``send`` per response: uvicorn's httptools protocol with its writes coalesced.

uvicorn writes a response's head and its body to the socket separately: two ``send``
system calls, often two TCP segments, for every small JSON answer. On a GET by key those two
writes were about a third of the event loop's time. Here the writes a connection makes
within one turn of the event loop are joined and handed to the real transport once, at the
end of that turn: a small response leaves in one piece, a streamed one as its chunks are
made, and nothing waits longer than the turn. What waits is written at once when it reaches
``FLUSH_AT`` bytes, so that the real transport's flow control (it pauses the protocol's writer
past its high-water mark) still holds back an app that writes a lot without yielding.

It wraps ``HttpToolsProtocol.connection_made`` only (the transport it is given); uvicorn is
pinned for it in pyproject.toml.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# uvloop's and asyncio's default high-water mark: no more than the transport buffers itself.
FLUSH_AT = 64 * 1024


class CoalescingTransport:
    """A transport whose writes wait for the end of the loop's turn, then leave together.
    Everything else is the real transport's; closing writes what waits first."""

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [bytes(data)]
            self._size = len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))
            self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pending, self._pending, self._size = self._pending, None, 0
        if pending:
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending, self._size = None, 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
