"""Applying Alembic migrations from code; idempotent, and safe with several processes at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from obliviate.security import DeploymentKeys
from obliviate.storage.engine import WRITE_FLAG, is_postgres

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: serialises concurrent `obliviate serve` start-ups on one PostgreSQL.
_PG_LOCK_KEY = 0x0B11B1A7E


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine, *, keys: DeploymentKeys | None = None) -> None:
    """Upgrade to the latest schema. ``keys``: the deployment's keys, which a migration that
    seals stored values needs (it refuses to run on data without them)."""
    with engine.connect() as conn:
        conn.info[WRITE_FLAG] = True
        with conn.begin():
            if is_postgres(engine):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = conn
            config.attributes["deployment_keys"] = keys
            command.upgrade(config, "head")
