"""The ASGI application: every surface, health checks and metrics, on one lean request path.

Every request goes the same way: a compiled route lookup, the route's handler, one access-log
line and one counter. There is no middleware stack: each layer of one cost a coroutine and a
wrapped ``send`` per request, which on a read by key was about as much as the read itself.
"""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from obliviate.http import pages
from obliviate.http.console.routes import routes as console_routes
from obliviate.http.dispatch import LeanApp
from obliviate.http.engagelab.routes import routes as engagelab_routes
from obliviate.http.gainsight.routes import routes as gainsight_routes
from obliviate.http.insider.routes import routes as insider_routes
from obliviate.http.native.routes import routes as native_routes
from obliviate.http.runtime import Runtime
from obliviate.http.unrouted import unrouted


def build_app(rt: Runtime) -> LeanApp:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        unreachable: list[str] = []
        try:
            await to_thread.run_sync(rt.transactions.ping)
        except Exception:
            unreachable.append("database")
        # Requests are refused (503) while the rate limiter's Redis is down, so the process is
        # not ready either: a load balancer should send traffic elsewhere.
        if rt.limiter.dependency is not None and not await rt.limiter.reachable():
            unreachable.append(rt.limiter.dependency)
        if unreachable:
            return JSONResponse(
                {"status": f"{', '.join(unreachable)} unreachable", "unreachable": unreachable},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return await rt.metrics.render(
            request, queue=rt.queue, counts=rt.job_counts, now_ms=rt.clock.now_ms()
        )

    async def shutdown() -> None:
        await rt.limiter.close()
        await to_thread.run_sync(rt.transactions.close)

    return LeanApp(
        [
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *gainsight_routes(rt),
            *engagelab_routes(rt),
            *insider_routes(rt),
            *native_routes(rt),
            *pages.routes(rt),
            *console_routes(rt),
        ],
        unrouted=unrouted,
        on_shutdown=shutdown,
        requests_total=rt.metrics.requests,
    )
