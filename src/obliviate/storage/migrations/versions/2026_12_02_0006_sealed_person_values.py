"""person values sealed under per-person keys, looked up by keyed hash; receipts' erasure time

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:00:00.000000

The person tables are rebuilt: each row is read, its values sealed under its person's new key
(storage/sealing.py) and written to the new table. That needs the deployment keys (passed by
``migrate(engine, keys=...)``); a database holding person rows refuses to migrate without them.
"""

import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy import Connection

from obliviate.domain.identifiers import stored_email_of_attributes

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSON_TABLES = ("profiles", "identifiers", "events", "devices", "device_tags")
_CHUNK = 1000


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _rows(conn: Connection, table: str) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def _create_tables() -> None:
    op.create_table(
        "erasure_keys",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("holder_id", sa.BigInteger(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", name=op.f("pk_erasure_keys")),
    )
    op.create_index("ix_erasure_keys_holder", "erasure_keys", ["tenant_id", "holder_id"])
    op.create_table(
        "profiles",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attributes", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.Column("revivable_until", sa.BigInteger(), nullable=True),
        sa.Column("deletion_request", sa.JSON(), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "profile_id", name=op.f("pk_profiles")),
    )
    op.create_index("ix_profiles_expiry", "profiles", ["state", "revivable_until"])
    op.create_index("ix_profiles_email_hash", "profiles", ["tenant_id", "email_hash"])
    op.create_table(
        "identifiers",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("id_type", sa.String(length=64), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_value", sa.LargeBinary(), nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id_type", "value_hash", name=op.f("pk_identifiers")),
    )
    op.create_index("ix_identifiers_profile", "identifiers", ["tenant_id", "profile_id"])
    op.create_table(
        "events",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("profile_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("sealed_body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name=op.f("pk_events")),
    )
    op.create_index(
        "ix_events_profile_time", "events", ["tenant_id", "profile_id", "occurred_at", "event_id"]
    )
    op.create_table(
        "devices",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("registration_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=True),
        sa.Column("sealed_details", sa.LargeBinary(), nullable=False),
        sa.Column("alias_hash", sa.String(length=64), nullable=True),
        sa.Column("sealed_alias", sa.LargeBinary(), nullable=True),
        sa.Column("profile_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "device_id", name=op.f("pk_devices")),
    )
    op.create_index(
        "uq_devices_live_registration",
        "devices",
        ["tenant_id", "registration_hash"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_index("uq_devices_alias_hash", "devices", ["tenant_id", "alias_hash"], unique=True)
    op.create_index("ix_devices_owner", "devices", ["tenant_id", "profile_id"])
    op.create_table(
        "device_tags",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tag_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_tag", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "device_id", "tag_hash", name=op.f("pk_device_tags")),
    )
    op.create_index("ix_device_tags_tag_hash", "device_tags", ["tenant_id", "tag_hash"])


def _unfinished_batches(conn: Connection) -> list[dict[str, Any]]:
    """Batch jobs still holding subject values (they held them until they ended)."""
    rows = conn.execute(
        sa.text("SELECT tenant_id, job_id, payload FROM jobs WHERE kind = 'deletion_batch'")
    )
    found = []
    for r in rows:
        payload = _json(r.payload) or {}
        if any(s.get("value") is not None for s in payload.get("subjects", [])):
            found.append({"tenant_id": r.tenant_id, "job_id": r.job_id, "payload": payload})
    return found


def upgrade() -> None:
    conn = op.get_bind()
    old = {name: _rows(conn, name) for name in _PERSON_TABLES}
    batches = _unfinished_batches(conn)
    for name in _PERSON_TABLES:
        op.drop_table(name)
    _create_tables()
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.BigInteger(), nullable=True))
    if any(old.values()) or batches:
        vault = _seal(conn, old)
        _hash_batch_values(conn, batches, vault)


def _hash_batch_values(conn: Connection, batches: list[dict[str, Any]], vault: Any) -> None:
    """An unfinished batch finds its subjects by lookup hash now, never by value."""
    jobs = sa.table(
        "jobs", sa.column("tenant_id"), sa.column("job_id"), sa.column("payload", sa.JSON)
    )
    for batch in batches:
        payload = batch["payload"]
        for subject in payload["subjects"]:
            value = subject.pop("value", None)
            subject["lookup_hash"] = (
                None if value is None else vault.lookup_hash(subject["type"], value)
            )
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.tenant_id == batch["tenant_id"], jobs.c.job_id == batch["job_id"])
            .values(payload=payload)
        )


def _seal(conn: Connection, old: dict[str, list[dict[str, Any]]]) -> Any:
    # Imported here: the storage modules are only needed when there is data to seal.
    from obliviate.storage import tables as t
    from obliviate.storage.deployment_keys import vault_for_migration
    from obliviate.storage.sealing import Keyring

    vault = vault_for_migration(
        conn, context.config.attributes.get("deployment_keys"), needs="person data to seal"
    )
    now = int(time.time() * 1000)
    rings: dict[str, Keyring] = {}

    def ring(tenant_id: str) -> Keyring:
        if tenant_id not in rings:
            rings[tenant_id] = Keyring(conn, tenant_id, vault)
        return rings[tenant_id]

    profiles = []
    for r in old["profiles"]:
        keyring = ring(r["tenant_id"])
        keyring.create(r["profile_id"], holder_id=r["profile_id"], now=now)
        attributes = _json(r["attributes"]) or {}
        email = stored_email_of_attributes(attributes)
        profiles.append(
            {
                "tenant_id": r["tenant_id"],
                "profile_id": r["profile_id"],
                "state": r["state"],
                "attributes": keyring.seal_json(r["profile_id"], attributes),
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
                "deleted_at": r["deleted_at"],
                "revivable_until": r["revivable_until"],
                "deletion_request": _json(r["deletion_request"]),
                "email_hash": None if email is None else vault.lookup_hash("email", email),
            }
        )
    for chunk in _chunks(profiles):
        conn.execute(sa.insert(t.profiles), chunk)
    known = {(p["tenant_id"], p["profile_id"]) for p in profiles}
    identifiers = [
        {
            "tenant_id": r["tenant_id"],
            "id_type": r["id_type"],
            "value_hash": vault.lookup_hash(r["id_type"], r["value"]),
            "sealed_value": ring(r["tenant_id"]).seal_text(r["profile_id"], r["value"]),
            "profile_id": r["profile_id"],
            "created_at": r["created_at"],
        }
        for r in old["identifiers"]
        if (r["tenant_id"], r["profile_id"]) in known
    ]
    for chunk in _chunks(identifiers):
        conn.execute(sa.insert(t.identifiers), chunk)
    events = [
        {
            "tenant_id": r["tenant_id"],
            "event_id": r["event_id"],
            "profile_id": r["profile_id"],
            "name": r["name"],
            "occurred_at": r["occurred_at"],
            "sealed_body": ring(r["tenant_id"]).seal_json(
                r["profile_id"], [_json(r["properties"]) or {}, _json(r["context"]) or {}]
            ),
        }
        for r in old["events"]
        if (r["tenant_id"], r["profile_id"]) in known
    ]
    for chunk in _chunks(events):
        conn.execute(sa.insert(t.events), chunk)
    devices = []
    for r in old["devices"]:
        keyring = ring(r["tenant_id"])
        keyring.create(r["device_id"], holder_id=r["device_id"], now=now)
        details = {
            "registration_id": r["registration_id"],
            "timezone": r["timezone"],
            "info": _json(r["info"]) or {},
        }
        devices.append(
            {
                "tenant_id": r["tenant_id"],
                "device_id": r["device_id"],
                "registration_hash": vault.lookup_hash("registration_id", r["registration_id"]),
                "state": r["state"],
                "platform": r["platform"],
                "sealed_details": keyring.seal_json(r["device_id"], details),
                "alias_hash": None
                if r["alias"] is None
                else vault.lookup_hash("alias", r["alias"]),
                "sealed_alias": (
                    None if r["alias"] is None else keyring.seal_text(r["device_id"], r["alias"])
                ),
                "profile_id": r["profile_id"],
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
            }
        )
    for chunk in _chunks(devices):
        conn.execute(sa.insert(t.devices), chunk)
    tags = [
        {
            "tenant_id": r["tenant_id"],
            "device_id": r["device_id"],
            "tag_hash": vault.lookup_hash("tag", r["tag"]),
            "sealed_tag": ring(r["tenant_id"]).seal_text(r["device_id"], r["tag"]),
        }
        for r in old["device_tags"]
    ]
    for chunk in _chunks(tags):
        conn.execute(sa.insert(t.device_tags), chunk)
    # People whose purge had begun keep no key: their rows are only waiting to go.
    for r in old["profiles"]:
        if r["state"] == "purging":
            ring(r["tenant_id"]).destroy_held_by(r["profile_id"])
    for r in old["devices"]:
        if r["state"] != "active":
            ring(r["tenant_id"]).destroy_held_by(r["device_id"])
    return vault


def downgrade() -> None:
    # The values are sealed: going back would need every key opened and every row rewritten
    # in the clear, which is exactly what this revision exists to prevent.
    raise NotImplementedError("revision 0006 cannot be downgraded")
