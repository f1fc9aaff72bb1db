"""Rows an older version wrote are brought to the canonical forms when the database is upgraded,
so a deletion or suppression by any spelling finds them (migration 0005), and then sealed under
per-person keys and found by keyed hash (migration 0006), on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, insert, select

from obliviate.security import DeploymentKeys
from obliviate.storage import tables as t
from obliviate.storage.deployment_keys import DeploymentKeyError, load_vault
from obliviate.storage.engine import WRITE_FLAG, make_engine
from obliviate.storage.migrate import alembic_config, migrate
from obliviate.storage.uow import SqlUnitOfWorkFactory
from tests.support.databases import fresh_database

KEYS = DeploymentKeys(current=b"migration test key")
# The tables as revision 0004 had them (the metadata in tables.py is today's).
OLD_PROFILES = sa.table(
    "profiles",
    *(sa.column(c) for c in ("tenant_id", "profile_id", "state", "created_at", "updated_at")),
    sa.column("attributes", sa.JSON),
)
OLD_IDENTIFIERS = sa.table(
    "identifiers",
    *(sa.column(c) for c in ("tenant_id", "id_type", "value", "profile_id", "created_at")),
)


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


EMAIL_1 = "gainsight.user@example.com"


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
                insert(OLD_PROFILES).values(
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
                    insert(OLD_IDENTIFIERS).values(
                        tenant_id="t1",
                        id_type=id_type,
                        value=value,
                        profile_id=profile_id,
                        created_at=1,
                    )
                )
    batch = {
        "mode": "hard",
        "suppress": False,
        "subjects": [{"index": 0, "type": "uuid", "subject_hash": "h", "value": "gs-1"}],
        "surface": "native",
        "credential_ref": "c",
        "requested_at": 1,
        "window": 60.0,
    }
    with old_engine.begin() as conn:
        conn.execute(
            insert(t.jobs).values(
                tenant_id="t1",
                job_id=9,
                kind="deletion_batch",
                payload=batch,
                state="queued",
                attempts=0,
                run_after=1,
                result={},
                created_at=1,
                updated_at=1,
            )
        )
    with pytest.raises(DeploymentKeyError):
        # Person rows cannot be sealed without the deployment's keys.
        migrate(old_engine)
    migrate(old_engine, keys=KEYS)
    uows = SqlUnitOfWorkFactory(old_engine, vault=load_vault(old_engine, KEYS, now=2))
    with uows("t1", write=False) as uow:
        stored = sorted(
            (pid, id_type, value)
            for pid in (1, 2, 3, 4)
            for id_type, value in uow.profiles.identifiers_of(pid)
        )
        with_email = [p.profile_id for p in uow.profiles.with_email_attribute(EMAIL_1)]
        profiles = [uow.profiles.get(pid) for pid in (1, 2, 3, 4)]
    assert with_email == [1]
    assert [p.attributes if p is not None else None for p in profiles] == [a for _, a, _ in rows]
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
    # Sealed at rest: no value is left in the clear in any column of the person tables.
    with old_engine.connect() as conn:
        raw = repr(
            [
                list(r)
                for name in ("profiles", "identifiers")
                for r in conn.execute(select(t.metadata.tables[name]))
            ]
        )
        job = conn.execute(select(t.jobs.c.payload).where(t.jobs.c.job_id == 9)).scalar_one()
    for _pid, _id_type, value in stored:
        assert value not in raw
    # The unfinished batch finds its subject by lookup hash now, and holds no value.
    [subject] = job["subjects"]
    assert "value" not in subject
    assert "gs-1" not in repr(job)
    with uows("t1", write=False) as uow:
        found = uow.profiles.find_by_lookup_hash("uuid", subject["lookup_hash"])
    assert found is not None
    assert found.profile_id == 1
    assert "gainsight.user" not in raw.lower()
