"""The accounts of one tenant (organisations, not people: see domain/accounts.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.domain.accounts import Account
from obliviate.storage import tables as t
from obliviate.storage.savepoints import savepoint


def _account(row: Any) -> Account:
    return Account(row.account_id, dict(row.details), row.created_at, row.updated_at)


class SqlAccounts:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def get(self, account_id: str, *, for_update: bool = False) -> Account | None:
        query = select(t.accounts).where(
            t.accounts.c.tenant_id == self._tenant, t.accounts.c.account_id == account_id
        )
        row = self._conn.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _account(row)

    def insert(self, account: Account) -> bool:
        """False when the tenant already has an account with this id."""
        try:
            with savepoint(self._conn):
                self._conn.execute(
                    insert(t.accounts).values(
                        tenant_id=self._tenant,
                        account_id=account.account_id,
                        details=account.attributes,
                        created_at=account.created_at,
                        updated_at=account.updated_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def save(self, account: Account) -> None:
        self._conn.execute(
            update(t.accounts)
            .where(
                t.accounts.c.tenant_id == self._tenant,
                t.accounts.c.account_id == account.account_id,
            )
            .values(details=account.attributes, updated_at=account.updated_at)
        )

    def delete(self, account_id: str) -> bool:
        result = self._conn.execute(
            delete(t.accounts).where(
                t.accounts.c.tenant_id == self._tenant, t.accounts.c.account_id == account_id
            )
        )
        return bool(result.rowcount)

    def page(self, *, after: str | None, limit: int) -> list[Account]:
        """Accounts in id order, from just after ``after``."""
        query = select(t.accounts).where(t.accounts.c.tenant_id == self._tenant)
        if after is not None:
            query = query.where(t.accounts.c.account_id > after)
        query = query.order_by(t.accounts.c.account_id).limit(limit)
        return [_account(row) for row in self._conn.execute(query)]
