"""Reading a database another process wrote, values opened: what tests check behind the API."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, create_engine, select

from obliviate.security import DeploymentKeys
from obliviate.storage import tables as t
from obliviate.storage.deployment_keys import read_vault
from obliviate.storage.engine import sqlite_path
from obliviate.storage.sealing import Keyring, Vault


def vault_of(conn: Connection, env: Mapping[str, str]) -> Vault:
    """The vault under the deployment key of ``env`` (``OBLIVIATE_SECRET_KEY``, else the key
    file a SQLite install keeps beside its database)."""
    secret = env.get("OBLIVIATE_SECRET_KEY")
    if secret is None:
        db = sqlite_path(env["OBLIVIATE_DATABASE_URL"])
        assert db is not None, "no OBLIVIATE_SECRET_KEY and not a SQLite file"
        secret = Path(db).parent.joinpath("secret.key").read_text().strip()
    return read_vault(conn, DeploymentKeys(current=secret.encode()))


def vault_in(env: Mapping[str, str]) -> Vault:
    """The vault of the database a server process with ``env`` runs on."""
    engine = create_engine(env["OBLIVIATE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return vault_of(conn, env)
    finally:
        engine.dispose()


class HeldIdentifier(NamedTuple):
    id_type: str
    value: str
    profile_id: int


class HeldDevice(NamedTuple):
    device_id: int
    registration_id: str


def identifiers(conn: Connection, vault: Vault, tenant_id: str) -> list[HeldIdentifier]:
    keys = Keyring(conn, tenant_id, vault)
    rows = conn.execute(
        select(
            t.identifiers.c.id_type, t.identifiers.c.sealed_value, t.identifiers.c.profile_id
        ).where(t.identifiers.c.tenant_id == tenant_id)
    )
    held = []
    for r in rows:
        value = keys.open_text(r.sealed_value)
        if value is not None:
            held.append(HeldIdentifier(r.id_type, value, int(r.profile_id)))
    return held


def devices(conn: Connection, vault: Vault, tenant_id: str) -> list[HeldDevice]:
    """Every device row whose key still opens it (a device whose key is destroyed is being
    purged: its registration id can no longer be read, by anyone)."""
    keys = Keyring(conn, tenant_id, vault)
    rows = conn.execute(
        select(t.devices.c.device_id, t.devices.c.sealed_details).where(
            t.devices.c.tenant_id == tenant_id
        )
    )
    held = []
    for r in rows:
        details = keys.open_json(r.sealed_details)
        if details is not None:
            held.append(HeldDevice(int(r.device_id), str(details["registration_id"])))
    return held


class IdentifierOwners:
    """Who holds each identifier, read by its lookup hash: also rows whose key is gone."""

    def __init__(self, conn: Connection, vault: Vault, tenant_id: str) -> None:
        self._vault = vault
        self._owners = {
            (r.id_type, r.value_hash): int(r.profile_id)
            for r in conn.execute(
                select(
                    t.identifiers.c.id_type, t.identifiers.c.value_hash, t.identifiers.c.profile_id
                ).where(t.identifiers.c.tenant_id == tenant_id)
            )
        }

    def get(self, ident: tuple[str, str]) -> int | None:
        id_type, value = ident
        return self._owners.get((id_type, self._vault.lookup_hash(id_type, value)))

    def __len__(self) -> int:
        return len(self._owners)


class DeviceRows:
    """How many device rows each registration id has, by lookup hash: also rows being purged."""

    def __init__(self, conn: Connection, vault: Vault, tenant_id: str) -> None:
        self._vault = vault
        self._rows: dict[str, int] = {}
        for r in conn.execute(
            select(t.devices.c.registration_hash).where(t.devices.c.tenant_id == tenant_id)
        ):
            self._rows[r.registration_hash] = self._rows.get(r.registration_hash, 0) + 1

    def __getitem__(self, registration_id: str) -> int:
        return self._rows.get(self._vault.lookup_hash("registration_id", registration_id), 0)
