"""accounts (the organisations users belong to); profiles found by their account's hash

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:00:00.000000

The profiles that already name an account in their (sealed) attributes get its lookup hash,
which needs the deployment keys, as 0006 did; a database without profiles needs none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(512), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "account_id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("account_hash", sa.String(64), nullable=True))
    op.create_index("ix_profiles_account_hash", "profiles", ["tenant_id", "account_hash"])
    _link_existing_profiles()


def _link_existing_profiles() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT 1 FROM profiles LIMIT 1")).first() is None:
        return
    # Imported here: the storage modules are only needed when there is data to read.
    from obliviate.domain.accounts import account_of_attributes
    from obliviate.storage import tables as t
    from obliviate.storage.deployment_keys import vault_for_migration
    from obliviate.storage.repositories.codec import ACCOUNT_LINK
    from obliviate.storage.sealing import Keyring

    vault = vault_for_migration(
        conn,
        context.config.attributes.get("deployment_keys"),
        needs="profiles to link to their accounts",
    )
    rings: dict[str, Keyring] = {}
    rows = conn.execute(
        sa.select(t.profiles.c.tenant_id, t.profiles.c.profile_id, t.profiles.c.attributes)
    ).all()
    for row in rows:
        ring = rings.setdefault(row.tenant_id, Keyring(conn, row.tenant_id, vault))
        attributes = ring.open_json(bytes(row.attributes)) or {}
        account = account_of_attributes(attributes) if isinstance(attributes, dict) else None
        if account is not None:
            conn.execute(
                sa.update(t.profiles)
                .where(
                    t.profiles.c.tenant_id == row.tenant_id,
                    t.profiles.c.profile_id == row.profile_id,
                )
                .values(account_hash=vault.lookup_hash(ACCOUNT_LINK, account))
            )


def downgrade() -> None:
    op.drop_index("ix_profiles_account_hash", table_name="profiles")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("account_hash")
    op.drop_table("accounts")
