"""Rows an older version wrote are brought to the canonical forms when the database is upgraded,
so a deletion or suppression by any spelling finds them (migration 0005), on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select

from obliviate.storage import tables as t
from obliviate.storage.engine import WRITE_FLAG, make_engine
from obliviate.storage.migrate import alembic_config, migrate
from tests.support.databases import fresh_database


def _upgrade(engine: Engine, revision: str) -> None:
    with engine.connect() as conn:
        conn.info[WRITE_FLAG] = True
        with conn.begin():
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)


@pytest.fixture
def old_engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database of its own at the schema before canonical identifiers."""
    with fresh_database(backend, tmp_path, request) as url:
        engine = make_engine(url)
        try:
            _upgrade(engine, "0004")
            yield engine
        finally:
            engine.dispose()


def test_upgrading_indexes_email_attributes_and_rewrites_identifiers_canonically(
    old_engine: Engine,
) -> None:
    rows = [
        # (profile id, attributes, identifiers) as the older version stored them.
        (1, {"email": "Gainsight.User@Example.COM."}, [("uuid", "gs-1")]),
        (2, {"name": "x"}, [("email", "jose\u0301@example.com."), ("uuid", "u-2")]),
        (3, {}, [("email", "ana@example.com"), ("email", "ana@example.com.")]),
        (4, {"email": "not an address"}, [("uuid", "u-4")]),
    ]
    with old_engine.begin() as conn:
        for profile_id, attributes, held in rows:
            conn.execute(
                insert(t.profiles).values(
                    tenant_id="t1",
                    profile_id=profile_id,
                    state="active",
                    attributes=attributes,
                    created_at=1,
                    updated_at=1,
                )
            )
            for id_type, value in held:
                conn.execute(
                    insert(t.identifiers).values(
                        tenant_id="t1",
                        id_type=id_type,
                        value=value,
                        profile_id=profile_id,
                        created_at=1,
                    )
                )
    migrate(old_engine)
    with old_engine.connect() as conn:
        emails = dict(conn.execute(select(t.profiles.c.profile_id, t.profiles.c.email)).all())
        stored = sorted(
            (int(r.profile_id), str(r.id_type), str(r.value))
            for r in conn.execute(
                select(t.identifiers.c.profile_id, t.identifiers.c.id_type, t.identifiers.c.value)
            )
        )
    assert emails == {1: "gainsight.user@example.com", 2: None, 3: None, 4: None}
    assert stored == [
        (1, "uuid", "gs-1"),
        (2, "email", "jos\u00e9@example.com"),
        (2, "uuid", "u-2"),
        # Two spellings of one address on one profile: the canonical one is kept as it is, the
        # other cannot take its place and stays as written (counted in the log).
        (3, "email", "ana@example.com"),
        (3, "email", "ana@example.com."),
        (4, "uuid", "u-4"),
    ]
