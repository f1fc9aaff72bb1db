"""SQL for suppressions: hashes of identifiers that must never be stored again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, String, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from obliviate.storage import tables as t
from obliviate.storage.ids import plain
from obliviate.storage.prepared import Prepared
from obliviate.storage.repositories.batched import ByKeys
from obliviate.storage.savepoints import savepoint

# Checked on every create and every deletion: built once (see profiles.py).
_SUPPRESSED = Prepared(
    select(t.suppressions.c.created_at).where(
        t.suppressions.c.tenant_id == bindparam("tenant"),
        t.suppressions.c.id_type == bindparam("id_type"),
        t.suppressions.c.value_hash == bindparam("value_hash"),
    )
)

_SUPPRESSED_ANY = ByKeys(
    lambda match: select(t.suppressions.c.value_hash).where(
        t.suppressions.c.tenant_id == bindparam("tenant"),
        t.suppressions.c.id_type == bindparam("id_type"),
        match(t.suppressions.c.value_hash),
    ),
    String,
)


class SqlSuppressions:
    def __init__(self, conn: Connection, tenant_id: str, *, key_id: str | None = None) -> None:
        self._conn = conn
        self._tenant = tenant_id
        # The deployment key the hashes given to ``add`` are made with (its id): after a key
        # rotation, tells how many suppressions still need each older key.
        self._key_id = key_id
        # (type, hash) -> suppressed, for what ``prefetch`` read: kept until a write.
        self._known: dict[tuple[str, str], bool] = {}

    def prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        wanted: dict[str, set[str]] = {}
        for id_type, value_hash in pairs:
            wanted.setdefault(id_type, set()).add(value_hash)
        known: dict[tuple[str, str], bool] = {}
        for id_type, hashes in wanted.items():
            known.update(((id_type, h), False) for h in hashes)
            params = {"tenant": self._tenant, "id_type": id_type}
            for row in _SUPPRESSED_ANY.rows(self._conn, sorted(hashes), params):
                known[id_type, row.value_hash] = True
        self._known = known

    def add(self, id_type: str, value_hash: str, *, now: int, job_id: int | None) -> bool:
        """Record a suppression; False when it was already there."""
        self._known = {}
        try:
            with savepoint(self._conn):
                self._conn.execute(
                    insert(t.suppressions).values(
                        tenant_id=self._tenant,
                        id_type=id_type,
                        value_hash=value_hash,
                        created_at=now,
                        job_id=job_id,
                        key_id=self._key_id,
                    )
                )
        except IntegrityError:
            return False
        return True

    def exists(self, id_type: str, value_hash: str) -> bool:
        known = self._known.get((id_type, value_hash))
        if known is not None:
            return known
        row = _SUPPRESSED.first(
            self._conn, {"tenant": self._tenant, "id_type": id_type, "value_hash": value_hash}
        )
        return row is not None

    def remove(self, id_type: str, value_hash: str) -> bool:
        self._known = {}
        result = self._conn.execute(
            delete(t.suppressions).where(
                t.suppressions.c.tenant_id == self._tenant,
                t.suppressions.c.id_type == id_type,
                t.suppressions.c.value_hash == value_hash,
            )
        )
        return bool(result.rowcount)

    def page(self, *, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        query = select(t.suppressions).where(t.suppressions.c.tenant_id == self._tenant)
        if after is not None:
            query = query.where(
                (t.suppressions.c.id_type > after[0])
                | (
                    (t.suppressions.c.id_type == after[0])
                    & (t.suppressions.c.value_hash > after[1])
                )
            )
        query = query.order_by(t.suppressions.c.id_type, t.suppressions.c.value_hash).limit(limit)
        return [plain(r) for r in self._conn.execute(query)]
