"""A database of a test's own, for tests that must not share the session's PostgreSQL.

The deployment key check records the first key a database sees; a test that tries several
keys needs a database no other test has used and none will use after it.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from obliviate.storage.engine import make_engine, normalise_url
from obliviate.storage.migrate import migrate


@contextlib.contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new, empty database on the server of ``url``, dropped afterwards: its URL."""
    name = f"obliviate_t_{secrets.token_hex(6)}"
    admin = create_engine(
        make_url(normalise_url(url)).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def fresh_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, *, migrated: bool = False
) -> Iterator[str]:
    """A database of this test's own on ``backend`` (a SQLite file or a new PostgreSQL
    database): empty, or at the latest schema when ``migrated``."""
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'db' / 'obliviate.db'}"
        else:
            base = str(request.getfixturevalue("postgres_url"))
            url = stack.enter_context(fresh_postgres(base))
        if migrated:
            engine = make_engine(url)
            try:
                migrate(engine)
            finally:
                engine.dispose()
        yield url
