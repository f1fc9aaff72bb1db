"""The schema. Every table carries ``tenant_id`` and has it first in its primary key."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("revival_window_seconds", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("surface", String(16), primary_key=True),
    # SHA-256 of the secret; the secret itself is shown once and never stored.
    Column("secret_hash", String(64), primary_key=True),
    # The non-secret half where a surface has one (EngageLab app_key, Insider partner name).
    Column("public_id", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    # Native tokens only: the scopes it grants (read, write, delete, admin).
    Column("scopes", JSON, nullable=True),
    # Native tokens: when it last authenticated (written at most once per auth cache period).
    Column("last_used_at", BigInteger, nullable=True),
    Index("ix_credentials_lookup", "surface", "secret_hash"),
    Index("ix_credentials_public", "surface", "public_id"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("profile_id", BigInteger, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),
    # Sealed (storage/sealing.py): the JSON object of attributes.
    Column("attributes", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    Column("revivable_until", BigInteger, nullable=True),
    Column("deletion_request", JSON, nullable=True),
    # The lookup hash of the canonical ``email`` attribute: an email deletion, suppression or
    # export covers profiles holding it here as well as as an identifier. Not unique: several
    # Gainsight users may share one email.
    Column("email_hash", String(64), nullable=True),
    # The lookup hash of the ``accountId`` attribute: an account's users are counted and found
    # here, so the link lives, and dies, with the user's own row.
    Column("account_hash", String(64), nullable=True),
    Index("ix_profiles_expiry", "state", "revivable_until"),
    Index("ix_profiles_email_hash", "tenant_id", "email_hash"),
    Index("ix_profiles_account_hash", "tenant_id", "account_hash"),
)

# Organisations a tenant's users belong to (Gainsight PX accounts). No person data: see
# domain/accounts.py and storage/deletion_targets.py.
accounts = Table(
    "accounts",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("account_id", String(512), primary_key=True),
    # What describes the organisation (name, firmographics, custom attributes).
    Column("details", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

identifiers = Table(
    "identifiers",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("id_type", String(64), primary_key=True),
    # The lookup hash of the canonical value; the value itself only sealed.
    Column("value_hash", String(64), primary_key=True),
    Column("sealed_value", LargeBinary, nullable=False),
    Column("profile_id", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_identifiers_profile", "tenant_id", "profile_id"),
)

events = Table(
    "events",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("event_id", BigInteger, primary_key=True, autoincrement=False),
    Column("profile_id", BigInteger, nullable=False),
    Column("name", String(255), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    # Sealed: the JSON array [properties, context].
    Column("sealed_body", LargeBinary, nullable=False),
    Index("ix_events_profile_time", "tenant_id", "profile_id", "occurred_at", "event_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("job_id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    # Internal ids and keyed hashes, and, only while a batch deletion is unfinished, the
    # canonical identifier values it must resolve when it runs (erased when it ends).
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", BigInteger, nullable=False),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("result", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_jobs_claim", "state", "run_after"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    # Position in the tenant's chain; the key makes two writers race on it, not fork it.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("receipt_id", String(32), nullable=False, unique=True),
    Column("job_id", BigInteger, nullable=False),
    Column("surface", String(16), nullable=False),
    Column("credential_ref", String(64), nullable=False),
    Column("subject_hash", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("counts", JSON, nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # When the person's bytes were made unreadable on disk (hashed into the receipt when set).
    Column("erased_at", BigInteger, nullable=True),
    Index("ix_receipts_job", "tenant_id", "job_id", unique=True),
)

devices = Table(
    "devices",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("device_id", BigInteger, primary_key=True, autoincrement=False),
    Column("registration_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("platform", String(16), nullable=True),
    # Sealed: the JSON object {registration_id, timezone, info}.
    Column("sealed_details", LargeBinary, nullable=False),
    # Unique where set: an alias names at most one device. Released (NULL) on deletion.
    Column("alias_hash", String(64), nullable=True),
    Column("sealed_alias", LargeBinary, nullable=True),
    Column("profile_id", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # A deleted device keeps its row until purged; a new registration may reuse the id at once.
    Index(
        "uq_devices_live_registration",
        "tenant_id",
        "registration_hash",
        unique=True,
        sqlite_where=text("state = 'active'"),
        postgresql_where=text("state = 'active'"),
    ),
    Index("uq_devices_alias_hash", "tenant_id", "alias_hash", unique=True),
    Index("ix_devices_owner", "tenant_id", "profile_id"),
)

device_tags = Table(
    "device_tags",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("device_id", BigInteger, primary_key=True, autoincrement=False),
    Column("tag_hash", String(64), primary_key=True),
    Column("sealed_tag", LargeBinary, nullable=False),
    Index("ix_device_tags_tag_hash", "tenant_id", "tag_hash"),
)

# One key per profile and per device (key_id is that profile's or device's id), wrapped under
# the vault key. ``holder_id`` is who the key dies with: the device itself, or, after a
# merge, the surviving profile. The only table a purge must clean physically
# (storage/erasure.py): every other copy of a person's values is sealed under a key here.
erasure_keys = Table(
    "erasure_keys",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("key_id", BigInteger, primary_key=True, autoincrement=False),
    Column("holder_id", BigInteger, nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_erasure_keys_holder", "tenant_id", "holder_id"),
)

merges = Table(
    "merges",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("merge_id", BigInteger, primary_key=True, autoincrement=False),
    Column("survivor_profile_id", BigInteger, nullable=False),
    Column("merged_profile_id", BigInteger, nullable=False),
    # What moved to the survivor, per kind.
    Column("moved", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_merges_survivor", "tenant_id", "survivor_profile_id"),
    # A deletion submitted before a merge follows its subject to the survivor.
    Index("ix_merges_merged", "tenant_id", "merged_profile_id"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("id_type", String(64), primary_key=True),
    # The keyed hash of the value: a suppression must outlive the person, not expose them.
    Column("value_hash", String(64), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("job_id", BigInteger, nullable=True),
    # Which deployment key made the hash (a prefix of its fingerprint): rotation keeps old
    # suppressions working and can tell which key each one needs.
    Column("key_id", String(16), nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

deletion_tally = Table(
    "deletion_tally",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    # What was removed: "profiles" or "devices"; each kind has its own allowance.
    Column("kind", String(16), primary_key=True),
    # Start of the minute (epoch ms) the deletions fell in; the guard sums the last 60.
    Column("minute", BigInteger, primary_key=True, autoincrement=False),
    Column("deletions", Integer, nullable=False),
)

# Facts of the whole deployment, not of a tenant (the secret key's fingerprint): the one table
# without a tenant_id, and it holds nothing of any person.
deployment = Table(
    "deployment",
    metadata,
    Column("name", String(64), primary_key=True),
    # A fingerprint of a key (never the key, never a person's value).
    Column("fact", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

DEPLOYMENT_TABLES = frozenset({deployment.name})
