"""Shared fixtures: real SQLite files, the real PostgreSQL and Redis, the real ASGI app.

Every database test runs once on SQLite and once on PostgreSQL (``backend``). When PostgreSQL or
Redis cannot be reached the tests skip, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from starlette.testclient import TestClient

from obliviate.bootstrap import Container, build_container, create_app, create_worker
from obliviate.jobs.worker import Worker
from obliviate.services.tenants import create_tenant
from obliviate.settings import Settings
from obliviate.storage import tables
from obliviate.storage.engine import make_engine, normalise_url
from obliviate.storage.erasure import Eraser
from obliviate.storage.migrate import migrate
from obliviate.storage.repositories.jobs import SqlJobQueue

POSTGRES_URL = os.environ.get(
    "OBLIVIATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OBLIVIATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, error: Exception) -> None:
    message = f"{what} unreachable: {error}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: PostgreSQL/Redis tests must run, not skip)")
    pytest.skip(message)


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
        # The key of the system tests' servers too: on the session's PostgreSQL database the
        # vault is made under the first key that opens it, and every later process needs it.
        "secret_key": "system-test-key",
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


def new_tenant(container: Container, prefix: str = "t") -> dict[str, Any]:
    name = f"{prefix}-{secrets.token_hex(6)}"
    created = create_tenant(container.tenant_store, name=name, now=int(time.time() * 1000))
    # As `obliviate tenant create --json` prints it: what the tests sign in with.
    return created.fields()


@pytest.fixture
def tenant(container: Container) -> dict[str, Any]:
    return new_tenant(container, "a")


@pytest.fixture
def other_tenant(container: Container) -> dict[str, Any]:
    return new_tenant(container, "b")


_BOOKKEEPING = frozenset({"last_used_at"})


def snapshot(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: equal snapshots mean nothing changed."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with container.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            # When a credential was last used is bookkeeping of the request itself, not a
            # change the request made.
            columns = [c for c in table.columns if c.name not in _BOOKKEEPING]
            rows = conn.execute(select(*columns).order_by(*order))
            dump[table.name] = [tuple(repr(v) for v in row) for row in rows]
    return dump


_NEEDS_SERVICE = ("postgres", "redis")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI=true a PostgreSQL- or Redis-backed test that skipped counts as failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in _NEEDS_SERVICE):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped under CI=true ({report.longrepr})"


class FakeClock:
    """A clock the test moves by hand: time passing without sleeping."""

    def __init__(self, start_ms: int | None = None) -> None:
        self.now = int(time.time() * 1000) if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1000)


def worker_on_clock(container: Container, clock: FakeClock, **config: Any) -> Worker:
    """A worker that reads time from ``clock``: purges and backoffs without waiting."""
    from obliviate.jobs.worker import WorkerConfig

    values: dict[str, Any] = {
        "poll_interval": 0.01,
        "purge_interval": 0.0,
        "lease_ms": 60_000,
        "max_attempts": 3,
        "backoff_base": 0.0,
        "backoff_max": 0.0,
        "purge_batch_size": 7,
        **config,
    }
    return Worker(
        queue=SqlJobQueue(container.engine),
        eraser=Eraser(container.engine),
        uow_factory=container.uow_factory,
        hasher=container.hasher,
        clock=clock,
        config=WorkerConfig(**values),
    )
