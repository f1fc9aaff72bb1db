from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from obliviate.storage import tables as t
from tests.support.servers import run_cli

pytestmark = pytest.mark.system


def _run(
    tmp_path: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        {"OBLIVIATE_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}", **(extra or {})}, *args
    )


def test_tenant_create_prints_credentials_once_and_stores_only_hashes(tmp_path: Path) -> None:
    created = _run(tmp_path, "tenant", "create", "acme", "--json")
    assert created.returncode == 0, created.stderr
    creds = json.loads(created.stdout)
    assert set(creds) == {"tenant", "gainsight", "engagelab", "insider", "native"}
    assert creds["tenant"] == "acme"
    secrets = [
        creds["gainsight"]["api_key"],
        creds["engagelab"]["master_secret"],
        creds["insider"]["request_token"],
        creds["native"]["token"],
    ]
    assert creds["engagelab"]["app_key"]
    assert creds["insider"]["partner_name"] == "acme"

    engine = create_engine(f"sqlite:///{tmp_path / 'o.db'}")
    with engine.connect() as conn:
        stored = " ".join(str(tuple(r)) for r in conn.execute(select(t.credentials)))
    engine.dispose()
    for secret in secrets:
        assert secret not in stored
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("o.db*"))
    assert all(secret.encode() not in db_bytes for secret in secrets)

    listed = _run(tmp_path, "tenant", "list")
    assert listed.returncode == 0
    assert listed.stdout.split() == ["acme"]
    assert secrets[0] not in listed.stdout


def test_a_tenant_name_is_taken_once_and_must_be_well_formed(tmp_path: Path) -> None:
    assert _run(tmp_path, "tenant", "create", "acme").returncode == 0
    again = _run(tmp_path, "tenant", "create", "acme")
    assert again.returncode != 0
    assert "already exists" in again.stderr
    bad = _run(tmp_path, "tenant", "create", "Not Valid")
    assert bad.returncode != 0


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    second = _run(tmp_path, "migrate")
    assert second.returncode == 0
    assert "latest" in second.stdout


def test_demo_credentials_are_refused_in_production(tmp_path: Path) -> None:
    production = {"OBLIVIATE_ENV": "production", "OBLIVIATE_SECRET_KEY": "k"}
    refused = _run(tmp_path, "serve", "--demo", "--port", "1", extra=production)
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        "Error: demo credentials are refused when OBLIVIATE_ENV=production"
    )


def test_invalid_settings_are_reported_without_the_keys_given(tmp_path: Path) -> None:
    refused = _run(
        tmp_path, "worker", extra={"OBLIVIATE_PREVIOUS_SECRET_KEYS": "a-very-secret-old-key"}
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "Error: invalid settings: Value error, "
        "OBLIVIATE_PREVIOUS_SECRET_KEYS needs OBLIVIATE_SECRET_KEY"
    )


def test_keys_rotate_needs_the_new_key_and_the_old_one(tmp_path: Path) -> None:
    refused = _run(tmp_path, "keys", "rotate", extra={"OBLIVIATE_SECRET_KEY": "new"})
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "Error: set OBLIVIATE_SECRET_KEY to the new key and OBLIVIATE_PREVIOUS_SECRET_KEYS "
        "to the key in use until now"
    )


def test_token_commands_name_an_unknown_tenant(tmp_path: Path) -> None:
    listed = _run(tmp_path, "tenant", "token", "list", "nobody")
    assert listed.returncode == 1
    assert listed.stderr.strip() == "Error: no tenant named 'nobody'"
