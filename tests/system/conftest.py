"""Fixtures of the system suite: a real server per backend, shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import BACKENDS, Server, database_url_for, server_env, serving


@pytest.fixture(scope="module", params=BACKENDS)
def backend_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The environment of the module's server: a SQLite file of the module's own, or the
    session's PostgreSQL database."""
    folder = tmp_path_factory.mktemp("system-db")
    return server_env(database_url_for(str(request.param), folder, request))


@pytest.fixture(scope="module")
def backend_server(
    backend_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per backend for the module; each test works on ids of its own."""
    with serving(backend_env, tmp_path_factory.mktemp("logs") / "server.log") as running:
        yield running
