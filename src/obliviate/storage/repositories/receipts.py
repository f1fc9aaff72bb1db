"""SQL for deletion receipts, one hash chain per tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from obliviate.storage import tables as t
from obliviate.storage.ids import plain


class SqlReceipts:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def last_link(self) -> tuple[int, str] | None:
        # Writers of one tenant's chain queue on the tenant row (PostgreSQL; SQLite has one
        # writer anyway), so two purges never race for the same place in the chain.
        self._conn.execute(
            select(t.tenants.c.tenant_id)
            .where(t.tenants.c.tenant_id == self._tenant)
            .with_for_update()
        )
        row = self._conn.execute(
            select(t.receipts.c.seq, t.receipts.c.hash)
            .where(t.receipts.c.tenant_id == self._tenant)
            .order_by(t.receipts.c.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else (int(row.seq), str(row.hash))

    def append(self, record: dict[str, Any]) -> None:
        self._conn.execute(insert(t.receipts).values(tenant_id=self._tenant, **record))

    def by_id(self, receipt_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            select(t.receipts).where(
                t.receipts.c.tenant_id == self._tenant, t.receipts.c.receipt_id == receipt_id
            )
        ).first()
        return None if row is None else plain(row)

    def completed_since(self, since: int, *, after_seq: int, limit: int) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(t.receipts)
            .where(
                t.receipts.c.tenant_id == self._tenant,
                t.receipts.c.completed_at >= since,
                t.receipts.c.seq > after_seq,
            )
            .order_by(t.receipts.c.seq)
            .limit(limit)
        )
        return [plain(row) for row in rows]

    def all_in_order(self) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(t.receipts)
            .where(t.receipts.c.tenant_id == self._tenant)
            .order_by(t.receipts.c.seq)
        )
        return [plain(row) for row in rows]
