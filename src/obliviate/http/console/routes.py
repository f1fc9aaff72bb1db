"""The console's routes."""

from __future__ import annotations

from starlette.routing import Route

from obliviate.http.runtime import Runtime


def routes(rt: Runtime) -> list[Route]:
    return []
