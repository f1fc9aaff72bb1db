"""The framework's own cost: the bare baseline's answer, routed by Starlette (the framework
Obliviate's surfaces run on), under the same uvicorn stack."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bare_asgi import BODY


async def item(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/item", item, methods=["GET", "POST"])])
