"""Profiles that named an account before accounts existed are linked to it by the upgrade
(migration 0007), which needs the deployment keys to read their sealed attributes, on both
backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

from obliviate.security import DeploymentKeys
from obliviate.storage.deployment_keys import DeploymentKeyError, load_vault
from obliviate.storage.engine import WRITE_FLAG, make_engine
from obliviate.storage.migrate import alembic_config, migrate
from obliviate.storage.uow import SqlUnitOfWorkFactory
from tests.support.databases import fresh_database

KEYS = DeploymentKeys(current=b"accounts migration test key")


@pytest.fixture
def engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    with fresh_database(backend, tmp_path, request) as url:
        made = make_engine(url)
        try:
            yield made
        finally:
            made.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.connect() as conn:
        conn.info[WRITE_FLAG] = True
        with conn.begin():
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, revision)


def test_upgrading_links_profiles_to_the_account_their_attributes_name(engine: Engine) -> None:
    migrate(engine, keys=KEYS)
    uows = SqlUnitOfWorkFactory(engine, vault=load_vault(engine, KEYS, now=1))
    with uows("t1") as uow:
        for n, attributes in enumerate(
            ({"accountId": "acme"}, {"accountId": "acme", "email": "a@x.com"}, {"accountId": ""})
        ):
            uow.profiles.insert(attributes=attributes, now=10 + n)
        uow.profiles.insert(attributes={}, now=20)
        uow.commit()
    with uows("t2") as uow:
        uow.profiles.insert(attributes={"accountId": "acme"}, now=30)
        uow.commit()
    _downgrade(engine, "0006")
    with pytest.raises(DeploymentKeyError):
        migrate(engine)
    migrate(engine, keys=KEYS)
    with uows("t1", write=False) as uow:
        assert uow.profiles.count_of_accounts(["acme"])["acme"] == 2
        assert sorted(
            p.attributes.get("email", "") for p in uow.profiles.active_of_account("acme")
        ) == [
            "",
            "a@x.com",
        ]
        assert uow.profiles.count_of_accounts([""])[""] == 0
    with uows("t2", write=False) as uow:
        assert uow.profiles.count_of_accounts(["acme"])["acme"] == 1


def test_an_empty_database_upgrades_without_keys(engine: Engine) -> None:
    migrate(engine)
    uows = SqlUnitOfWorkFactory(engine, vault=load_vault(engine, KEYS, now=1))
    with uows("t1", write=False) as uow:
        assert uow.profiles.count_of_accounts(["acme"])["acme"] == 0
