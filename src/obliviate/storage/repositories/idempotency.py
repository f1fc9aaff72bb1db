"""SQL for idempotency keys: the answer a request got, kept for its retries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from obliviate.storage import tables as t
from obliviate.storage.ids import plain


class SqlIdempotency:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            select(t.idempotency_keys)
            .where(t.idempotency_keys.c.tenant_id == self._tenant, t.idempotency_keys.c.key == key)
            .with_for_update()
        ).first()
        return None if row is None else plain(row)

    def forget(self, key: str) -> None:
        self._conn.execute(
            delete(t.idempotency_keys).where(
                t.idempotency_keys.c.tenant_id == self._tenant, t.idempotency_keys.c.key == key
            )
        )

    def remember(
        self, key: str, *, request_hash: str, status: int, response: Any, now: int
    ) -> None:
        self._conn.execute(
            insert(t.idempotency_keys).values(
                tenant_id=self._tenant,
                key=key,
                request_hash=request_hash,
                status=status,
                response=response,
                created_at=now,
            )
        )
