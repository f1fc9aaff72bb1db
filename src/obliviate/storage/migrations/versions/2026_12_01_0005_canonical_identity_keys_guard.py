"""canonical identity, deployment key fingerprint, sliding guard, token use

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:40:00.000000
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from obliviate.domain.errors import ValidationError
from obliviate.domain.identifiers import identifier, stored_email_of_attributes

log = logging.getLogger("obliviate.migrations")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployment",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("fact", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment")),
    )
    op.create_table(
        "deletion_tally",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("minute", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("deletions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "minute", name=op.f("pk_deletion_tally")),
    )
    op.drop_table("deletion_counters")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=512), nullable=True))
        batch_op.create_index("ix_profiles_email", ["tenant_id", "email"], unique=False)
    op.create_index("ix_merges_merged", "merges", ["tenant_id", "merged_profile_id"])
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    _canonical_data()


_BATCH = 1000


def _canonical_data() -> None:
    """Rows written before identifiers had one canonical form: index each profile's email
    attribute, and rewrite each identifier to its canonical form, so that deletions and
    suppressions by any spelling find them. A value whose canonical form another row of the
    tenant already holds, or that has none, is left as it was and counted in the log."""
    conn = op.get_bind()
    profiles = sa.table(
        "profiles",
        sa.column("tenant_id", sa.String),
        sa.column("profile_id", sa.BigInteger),
        sa.column("attributes", sa.JSON),
        sa.column("email", sa.String),
    )
    after: tuple[str, int] = ("", -1)
    while True:
        rows = conn.execute(
            sa.select(profiles.c.tenant_id, profiles.c.profile_id, profiles.c.attributes)
            .where(sa.tuple_(profiles.c.tenant_id, profiles.c.profile_id) > sa.tuple_(*after))
            .order_by(profiles.c.tenant_id, profiles.c.profile_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for tenant_id, profile_id, attributes in rows:
            email = stored_email_of_attributes(attributes or {})
            if email is not None:
                conn.execute(
                    sa.update(profiles)
                    .where(profiles.c.tenant_id == tenant_id, profiles.c.profile_id == profile_id)
                    .values(email=email)
                )
        after = (rows[-1][0], rows[-1][1])
    identifiers = sa.table(
        "identifiers",
        sa.column("tenant_id", sa.String),
        sa.column("id_type", sa.String),
        sa.column("value", sa.String),
    )
    kept = 0
    key: tuple[str, str, str] = ("", "", "")
    while True:
        rows = conn.execute(
            sa.select(identifiers.c.tenant_id, identifiers.c.id_type, identifiers.c.value)
            .where(
                sa.tuple_(identifiers.c.tenant_id, identifiers.c.id_type, identifiers.c.value)
                > sa.tuple_(*key)
            )
            .order_by(identifiers.c.tenant_id, identifiers.c.id_type, identifiers.c.value)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for tenant_id, id_type, value in rows:
            try:
                canonical = identifier(id_type, value).value
            except ValidationError:
                kept += 1
                continue
            if canonical == value:
                continue
            taken = conn.execute(
                sa.select(sa.func.count())
                .select_from(identifiers)
                .where(
                    identifiers.c.tenant_id == tenant_id,
                    identifiers.c.id_type == id_type,
                    identifiers.c.value == canonical,
                )
            ).scalar_one()
            if taken:
                kept += 1
                continue
            conn.execute(
                sa.update(identifiers)
                .where(
                    identifiers.c.tenant_id == tenant_id,
                    identifiers.c.id_type == id_type,
                    identifiers.c.value == value,
                )
                .values(value=canonical)
            )
        key = (rows[-1][0], rows[-1][1], rows[-1][2])
    if kept:
        # Counts only: never a person's value in a log.
        log.warning("%d identifiers have no free canonical form and were kept as written", kept)


def downgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_column("key_id")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
    op.drop_index("ix_merges_merged", table_name="merges")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_profiles_email")
        batch_op.drop_column("email")
    op.create_table(
        "deletion_counters",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("deletions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "hour", name=op.f("pk_deletion_counters")),
    )
    op.drop_table("deletion_tally")
    op.drop_table("deployment")
