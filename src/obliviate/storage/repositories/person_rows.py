"""A subject's rows across every registered deletion target (storage/deletion_targets.py)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, literal_column, select, tuple_
from sqlalchemy.sql.elements import ColumnClause

from obliviate.storage.deletion_targets import TARGETS_BY_SUBJECT


class SqlPersonRows:
    """Counting and removing a subject's rows across the registered deletion targets."""

    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def kinds(self, subject_kind: str) -> tuple[str, ...]:
        return tuple(target.kind for target in TARGETS_BY_SUBJECT[subject_kind])

    def count(self, subject_kind: str, subject_id: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for target in TARGETS_BY_SUBJECT[subject_kind]:
            query = (
                select(func.count())
                .select_from(target.table)
                .where(target.rows_of(self._tenant, subject_id))
            )
            counts[target.kind] = int(self._conn.execute(query).scalar_one())
        return counts

    def delete_batch(self, subject_kind: str, kind: str, subject_id: int, limit: int) -> int:
        """Delete up to ``limit`` rows of one target; a bounded batch keeps each commit short."""
        target = next(x for x in TARGETS_BY_SUBJECT[subject_kind] if x.kind == kind)
        table = target.table
        rows = target.rows_of(self._tenant, subject_id)
        if self._conn.dialect.name == "sqlite":
            # By rowid: one b-tree lookup per row fewer than by the composite primary key
            # (measured ~25% more rows/s in the purge of a long history).
            rowid: ColumnClause[int] = literal_column("rowid")
            chosen_rowids = select(rowid).select_from(table).where(rows).limit(limit)
            result = self._conn.execute(delete(table).where(rowid.in_(chosen_rowids)))
            return int(result.rowcount)
        pk = list(table.primary_key.columns)
        chosen = select(*pk).where(rows).limit(limit)
        result = self._conn.execute(delete(table).where(tuple_(*pk).in_(chosen)))
        return int(result.rowcount)
