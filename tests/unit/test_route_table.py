"""The compiled route table decides as Starlette's router does, for the app's real routes and
for any path and method a client may send."""

from __future__ import annotations

import asyncio
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match, Route, Router
from starlette.testclient import TestClient
from starlette.types import Message, Scope

from obliviate.http.dispatch import LeanApp
from obliviate.http.route_table import Found, RouteTable, WrongMethod


async def _ok(_: Request) -> Response:
    return PlainTextResponse("ok")


def _table_routes() -> list[Route]:
    # Overlaps on purpose: a literal segment beside a parameter, a path parameter spanning
    # segments, one path served by several routes, a parameter first.
    paths = [
        ("/healthz", ["GET"]),
        ("/v1/users", ["POST"]),
        ("/v1/users/update", ["PUT"]),
        ("/v1/users/{identify_id}", ["GET"]),
        ("/v1/users/{identify_id}", ["DELETE", "PUT"]),
        ("/v1/users/{identify_id}/events", ["GET"]),
        ("/v4/devices/{rid}", ["GET", "POST", "DELETE"]),
        ("/api/v1/jobs/{job_id:int}", ["GET"]),
        ("/api/v1/files/{rest:path}", ["GET"]),
        ("/{tenant}/raw", ["GET"]),
        ("/api/user/v1/upsert", ["POST"]),
    ]
    return [Route(p, _ok, methods=m) for p, m in paths]


ROUTES = _table_routes()
TABLE = RouteTable(ROUTES)
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
SEGMENT = st.one_of(
    st.sampled_from(
        [
            "",
            "v1",
            "v4",
            "api",
            "users",
            "update",
            "events",
            "devices",
            "jobs",
            "files",
            "raw",
            "user",
            "upsert",
            "healthz",
            "12",
            "x",
        ]
    ),
    st.text(alphabet="abc019-_.%~", max_size=6),
)
PATHS = st.lists(SEGMENT, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))


def _starlette(method: str, path: str) -> Found | WrongMethod | None:
    """What Starlette's router picks: the first full match, else the first partial one."""
    scope: Scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    partial: list[Route] = []
    for route in ROUTES:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return Found(route, child["path_params"])
        if match is Match.PARTIAL:
            partial.append(route)
    if partial:
        return WrongMethod(tuple(sorted({m for r in partial for m in r.methods or ()})))
    return None


@settings(max_examples=2000)
@given(method=METHODS, path=PATHS)
def test_the_table_picks_the_route_starlette_picks(method: str, path: str) -> None:
    assert TABLE.lookup(method, path) == _starlette(method, path)


def test_every_route_is_reached_by_its_own_path() -> None:
    samples = {
        "/v1/users/{identify_id}": "/v1/users/ada",
        "/v1/users/{identify_id}/events": "/v1/users/ada/events",
        "/v4/devices/{rid}": "/v4/devices/r1",
        "/api/v1/jobs/{job_id:int}": "/api/v1/jobs/12",
        "/api/v1/files/{rest:path}": "/api/v1/files/a/b/c",
        "/{tenant}/raw": "/acme/raw",
    }
    for route in ROUTES:
        path = samples.get(route.path, route.path)
        method = sorted(route.methods or ())[0]
        found = TABLE.lookup(method, path)
        assert isinstance(found, Found), (route.path, method)
        assert found.route.path == route.path


def test_a_literal_route_listed_first_wins_over_a_parameter() -> None:
    found = TABLE.lookup("PUT", "/v1/users/update")
    assert isinstance(found, Found)
    assert found.route.path == "/v1/users/update"
    assert found.path_params == {}


def test_the_wrong_method_names_every_method_of_the_path() -> None:
    assert TABLE.lookup("PATCH", "/v1/users/ada") == WrongMethod(("DELETE", "GET", "HEAD", "PUT"))


def test_convertors_apply() -> None:
    found = TABLE.lookup("GET", "/api/v1/jobs/12")
    assert isinstance(found, Found)
    assert found.path_params == {"job_id": 12}
    assert TABLE.lookup("GET", "/api/v1/jobs/twelve") is None


def test_the_app_answers_through_the_table_and_its_unrouted_answer() -> None:
    seen: list[int] = []

    def unrouted(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        seen.append(exc.status_code)
        return PlainTextResponse("no", status_code=exc.status_code, headers=exc.headers)

    app = LeanApp(ROUTES, unrouted=unrouted)
    sent: list[Message] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    def call(method: str, path: str) -> int:
        sent.clear()
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "root_path": "",
            "headers": [],
            "query_string": b"",
        }
        asyncio.run(app(scope, receive, send))
        start = sent[0]
        headers = dict(start["headers"])
        assert b"x-request-id" in headers
        status = start["status"]
        assert isinstance(status, int)
        return status

    assert call("GET", "/healthz") == 200
    assert call("POST", "/healthz") == 405
    assert call("GET", "/nowhere/at/all") == 404
    assert seen == [405, 404]


def test_a_table_does_not_grow_with_what_clients_send() -> None:
    table = RouteTable(ROUTES)
    before = (len(table._both), len(table._first), len(table._second))
    for n in range(1000):
        table.lookup("GET", f"/v1/random-{n}/x")
        table.lookup("GET", f"/random-{n}/users")
    assert (len(table._both), len(table._first), len(table._second)) == before


def test_the_real_app_routes_are_looked_up_as_starlette_would(client: TestClient) -> None:
    routes: list[Route] = client.app.routes  # type: ignore[attr-defined]
    table = RouteTable(routes)
    router = Router(routes=routes)
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
    checked = 0
    for route in routes:
        for filler in ("x1", "42", "update", "a/b"):
            path = re.sub(r"\{[^}]+\}", filler, route.path)
            for extra in ("", "/", "/more"):
                for method in methods:
                    scope: Scope = {
                        "type": "http",
                        "method": method,
                        "path": path + extra,
                        "root_path": "",
                    }
                    expected: Found | WrongMethod | None = None
                    partial: list[Route] = []
                    for candidate in router.routes:
                        assert isinstance(candidate, Route)
                        match, child = candidate.matches(scope)
                        if match is Match.FULL:
                            expected = Found(candidate, child["path_params"])
                            break
                        if match is Match.PARTIAL:
                            partial.append(candidate)
                    if expected is None and partial:
                        allowed = sorted({m for r in partial for m in r.methods or ()})
                        expected = WrongMethod(tuple(allowed))
                    assert table.lookup(method, path + extra) == expected, (method, path + extra)
                    checked += 1
    assert checked > 1000
