"""The one request path every route takes: route lookup, handler, access log, counter.

``LeanApp`` is a plain ASGI application over Starlette's ``Route`` objects (their patterns,
convertors and endpoints, and the route table the OpenAPI documents and tests read). Starlette's
application wrapped each request in three middleware layers and each route in an exception
wrapper, every one a coroutine and a wrapped ``send``; here the endpoint is called directly and
its response sent as it is, with the request id added to its headers.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import Counter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from obliviate.http.logging import RequestLog
from obliviate.http.route_table import Found, RouteTable, WrongMethod

log = logging.getLogger(__name__)

Unrouted = Callable[[Request, Exception], Response]
Hook = Callable[[], Awaitable[None]]
Endpoint = Callable[[Request], Awaitable[Response]]


async def _nothing() -> None:
    return None


class LeanApp:
    def __init__(
        self,
        routes: Sequence[Route],
        *,
        unrouted: Unrouted,
        on_startup: Hook = _nothing,
        on_shutdown: Hook = _nothing,
        requests_total: Counter | None = None,
    ) -> None:
        self.table = RouteTable(routes)
        self.routes = self.table.routes
        self._unrouted = unrouted
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._log = RequestLog(requests_total)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        # Nothing else (websockets) is served: the connection is closed unanswered.

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = self._log.begin(scope)
        request = Request(scope, receive)
        try:
            response = await self._respond(scope, request)
        except BaseException:
            # Cancelled (the server is stopping): the line is still written.
            self._log.end(scope, 500, started)
            raise
        self._log.end(scope, response.status_code, started)
        response.raw_headers.append((b"x-request-id", request_id.encode()))
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, request: Request) -> Response:
        try:
            found = self.table.lookup(scope["method"], scope["path"])
            if isinstance(found, Found):
                scope["route"] = found.route
                scope["path_params"] = found.path_params
                endpoint: Endpoint = found.route.endpoint
                return await endpoint(request)
            if isinstance(found, WrongMethod):
                allow = {"Allow": ", ".join(found.allowed)}
                return self._unrouted(request, HTTPException(405, headers=allow))
            return self._unrouted(request, HTTPException(404))
        except Exception:
            # Surfaces answer their own errors; this is a bug, answered in the envelope of
            # the surface the path belongs to rather than as bare text.
            log.exception("unhandled error")
            return self._unrouted(request, HTTPException(500))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        phases = {"lifespan.startup": self._on_startup, "lifespan.shutdown": self._on_shutdown}
        while True:
            message = await receive()
            phase = message["type"]
            try:
                await phases[phase]()
            except Exception as exc:
                await send({"type": f"{phase}.failed", "message": repr(exc)})
                return
            await send({"type": f"{phase}.complete"})
            if phase == "lifespan.shutdown":
                return


# A serving process allocates short-lived objects by the thousand per second and keeps its
# long-lived ones (routes, schemas, compiled statements) from start-up: scanning those on
# every young collection cost about a quarter of a read by key's time.
GC_THRESHOLD = (50_000, 50, 100)


def tune_gc_for_serving() -> None:
    """Freeze what start-up made, so no collection scans it again, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
