"""The dispatch Obliviate chose, on its own: the bare baseline's answer routed by Obliviate's
``LeanApp`` (compiled route table, endpoint called directly, request id and request log) over
the app's real route table, with one more route that does nothing, under the same uvicorn
stack. Its ratio to bare ASGI is what the request path costs before any handler work."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bare_asgi import BODY
from obliviate.http.dispatch import LeanApp


async def item(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


def unrouted(_: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return Response(b"", status_code=status)


# Behind a hundred routes, as in the app, so the table's lookup is part of the figure.
_FILLER = [Route(f"/v{n}/filler/{{x}}", item, methods=["GET"]) for n in range(100)]
app = LeanApp([*_FILLER, Route("/item", item, methods=["GET", "POST"])], unrouted=unrouted)
