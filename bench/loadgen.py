"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams.

Every connection sends one request, reads the whole response, and sends the next, back to
back, until the deadline passes or the request source runs dry. Latency is measured per
request, from just before the write to just after the last body byte is read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Returns the raw bytes of the next request, or None when there is nothing left to send.
RequestSource = Callable[[], bytes | None]
# Called with (request, status, body) for every complete response, e.g. to check bodies.
ResponseHook = Callable[[bytes, int, bytes], None]


class ProtocolError(Exception):
    """The server sent something this client does not understand."""


@dataclass
class LoadResult:
    requests: int = 0
    non_2xx: int = 0
    errors: int = 0
    elapsed: float = 0.0
    exhausted: bool = False
    latencies_ns: list[int] = field(default_factory=list)
    status_counts: dict[int, int] = field(default_factory=dict)
    # Bodies of 2xx responses, kept only when asked (used to learn created ids).
    bodies: list[bytes] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, pct: float) -> float:
        if not self.latencies_ns:
            return 0.0
        ordered = sorted(self.latencies_ns)
        index = min(len(ordered) - 1, max(0, round(pct / 100.0 * len(ordered)) - 1))
        return ordered[index] / 1e6

    def status_summary(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.status_counts.items())}


def build_request(
    method: str,
    path: str,
    host: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    """Serialise one HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    first_end = head.index(b"\r\n")
    status_line = head[:first_end]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {status_line!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = False
    closing = False
    for line in head[first_end + 2 : -4].split(b"\r\n"):
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lname == b"connection":
            closing = b"close" in value.lower()
    if closing:
        raise ProtocolError("server closed the keep-alive connection")
    if chunked:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, bytes(body)
            body += await reader.readexactly(size + 2)
            del body[-2:]
    if length is None:
        if status in (204, 304) or 100 <= status < 200:
            return status, b""
        raise ProtocolError("response without Content-Length or chunked encoding")
    return status, (await reader.readexactly(length) if length else b"")


async def _connection(
    host: str,
    port: int,
    source: RequestSource,
    deadline: float | None,
    result: LoadResult,
    keep_bodies: bool,
    on_response: ResponseHook | None,
    last_done: list[float],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    latencies = result.latencies_ns
    clock = time.perf_counter_ns
    try:
        while deadline is None or time.perf_counter() < deadline:
            request = source()
            if request is None:
                result.exhausted = True
                break
            started = clock()
            writer.write(request)
            try:
                status, body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ProtocolError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(clock() - started)
            result.requests += 1
            result.status_counts[status] = result.status_counts.get(status, 0) + 1
            if 200 <= status < 300:
                if keep_bodies:
                    result.bodies.append(body)
            else:
                result.non_2xx += 1
            if on_response is not None:
                on_response(request, status, body)
            last_done[0] = time.perf_counter()
    finally:
        writer.close()


async def run_load(
    host: str,
    port: int,
    source: RequestSource,
    *,
    connections: int = 64,
    duration: float | None = None,
    keep_bodies: bool = False,
    on_response: ResponseHook | None = None,
) -> LoadResult:
    """Drive ``connections`` keep-alive connections until ``duration`` passes (or, with no
    duration, until ``source`` returns None). ``on_response`` sees every complete response."""
    result = LoadResult()
    started = time.perf_counter()
    deadline = None if duration is None else started + duration
    last_done = [started]
    tasks = [
        asyncio.create_task(
            _connection(host, port, source, deadline, result, keep_bodies, on_response, last_done)
        )
        for _ in range(connections)
    ]
    await asyncio.gather(*tasks)
    # Requests in flight at the deadline still finish; count time until the last one did.
    result.elapsed = max(last_done[0], started) - started
    return result
