"""Route lookup for the app: Starlette's own routes, compiled once into buckets by their first
two path segments.

Starlette's router tries every route's pattern in turn, so a request to a route near the end
of a hundred-route table paid for a hundred regular-expression matches before its handler
ran. Here a request tries only the routes whose leading literal segments can be its own, in
the table's order, with each route's own compiled pattern and convertors: the same route
wins as in Starlette (first full match, else the path's other methods answer 405), for every
route at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import Route

# A segment of a route's path that holds a parameter matches any segment of a request's path.
_ANY = None


@dataclass(frozen=True, slots=True)
class Found:
    """The route a request goes to, and the parameters its path carried."""

    route: Route
    path_params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WrongMethod:
    """A path some routes serve, but not with the request's method."""

    allowed: tuple[str, ...]


def _leading(path: str) -> tuple[str, str]:
    """The first two segments of a request's path (an absent one is empty)."""
    parts = path.split("/", 3)
    return (parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")


def _route_key(route: Route) -> tuple[str | None, str | None]:
    first, second = _leading(route.path_format)
    if "{" in first:
        # A parameter (a ``path`` one may span segments): every later segment is open too.
        return (_ANY, _ANY)
    return (first, _ANY if "{" in second else second)


class RouteTable:
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = list(routes)
        buckets: dict[tuple[str | None, str | None], list[int]] = {}
        for index, route in enumerate(self.routes):
            if not isinstance(route, Route):
                raise TypeError(f"only plain routes can be compiled, not {route!r}")
            buckets.setdefault(_route_key(route), []).append(index)

        def merged(*keys: tuple[str | None, str | None]) -> tuple[Route, ...]:
            indexes = {i for key in keys for i in buckets.get(key, ())}
            return tuple(self.routes[i] for i in sorted(indexes))

        # Every answer is worked out here, once: a request's segments that no route names
        # literally fall to the open buckets, so nothing grows with what clients send.
        firsts = {key[0] for key in buckets if key[0] is not _ANY}
        seconds = {key[1] for key in buckets if key[1] is not _ANY}
        self._both = {
            (f, s): merged((f, s), (f, _ANY), (_ANY, s), (_ANY, _ANY))
            for f in firsts
            for s in seconds
        }
        self._first = {f: merged((f, _ANY), (_ANY, _ANY)) for f in firsts}
        self._second = {s: merged((_ANY, s), (_ANY, _ANY)) for s in seconds}
        self._open = merged((_ANY, _ANY))

    def _for(self, leading: tuple[str, str]) -> tuple[Route, ...]:
        """The routes whose leading segments can match ``leading``, in table order."""
        found = self._both.get(leading)
        if found is not None:
            return found
        first, second = leading
        found = self._first.get(first)
        if found is not None:
            return found
        return self._second.get(second, self._open)

    def lookup(self, method: str, path: str) -> Found | WrongMethod | None:
        wrong: list[Route] = []
        for route in self._for(_leading(path)):
            match = route.path_regex.match(path)
            if match is None:
                continue
            if route.methods is not None and method not in route.methods:
                wrong.append(route)
                continue
            params = match.groupdict()
            for name, value in params.items():
                params[name] = route.param_convertors[name].convert(value)
            return Found(route, params)
        if wrong:
            allowed = {m for route in wrong for m in route.methods or ()}
            return WrongMethod(tuple(sorted(allowed)))
        return None
