"""Shared fixtures: real SQLite files, the real PostgreSQL and Redis, the real ASGI app.

Every database test runs once on SQLite and once on PostgreSQL (``backend``). When PostgreSQL or
Redis cannot be reached the tests skip, except with ``CI=true``, where they fail. The helpers
behind these fixtures, and those tests call by name, live in ``tests/support``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from obliviate.bootstrap import Container, build_container, create_app, create_worker
from obliviate.jobs.worker import Worker
from obliviate.settings import Settings
from obliviate.storage.engine import make_engine, normalise_url
from obliviate.storage.migrate import migrate
from tests.support.clock import FakeClock, worker_on_clock
from tests.support.environment import IN_CI, POSTGRES_URL, REDIS_URL, unavailable
from tests.support.servers import SYSTEM_KEY
from tests.support.tenants import Tenant, new_tenant


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    # Closing the last connection checkpoints the WAL into the file, so one copy is complete.
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    engine = create_engine(normalise_url(POSTGRES_URL))
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:
        engine.dispose()
        unavailable("PostgreSQL", exc)
    engine.dispose()
    migrated = make_engine(POSTGRES_URL)
    migrate(migrated)
    migrated.dispose()
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:
        unavailable("Redis", exc)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    template: Path = request.getfixturevalue("sqlite_template")
    target = tmp_path / "obliviate.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings (e.g. a short revival window)."""
    return {}


@pytest.fixture
def settings(db_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        # The key of the system tests' servers too (see SYSTEM_KEY).
        "secret_key": SYSTEM_KEY,
        "data_dir": tmp_path,
        "gainsight_rate_limit": "100000/second",
        "worker_poll_interval": 0.02,
        "purge_batch_size": 50,
        # A purge is erased as soon as its rows are gone (tests of the delay set their own).
        "erasure_delay": 0,
        **settings_overrides,
    }
    return Settings(**values)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build_container(settings)
    yield built
    built.engine.dispose()


@pytest.fixture
def worker(container: Container) -> Worker:
    return create_worker(container)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return new_tenant(container, "a")


@pytest.fixture
def other_tenant(container: Container) -> Tenant:
    return new_tenant(container, "b")


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand: time passing without sleeping."""
    return FakeClock()


@pytest.fixture
def clocked_worker(container: Container, clock: FakeClock) -> Worker:
    """A worker on ``clock``: purges and backoffs without waiting."""
    return worker_on_clock(container, clock)


_NEEDS_SERVICE = ("postgres", "redis")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """With CI=true a PostgreSQL- or Redis-backed test that skipped counts as failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in _NEEDS_SERVICE):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped under CI=true ({report.longrepr})"
