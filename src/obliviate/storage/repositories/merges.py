"""SQL for merges (the ``merges`` table, and moving a merged profile's rows to its survivor):
their part of ``SqlProfiles``."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select, update

from obliviate.services.ports import FoldedPeople
from obliviate.storage import tables as t
from obliviate.storage.ids import new_id
from obliviate.storage.prepared import Prepared
from obliviate.storage.repositories.staging import StagedRows

# Built once, like the hot-path statements of profiles.py.
_SURVIVOR_OF = Prepared(
    select(t.merges.c.survivor_profile_id).where(
        t.merges.c.tenant_id == bindparam("tenant"),
        t.merges.c.merged_profile_id == bindparam("profile_id"),
    )
)
_MERGED_INTO = Prepared(
    select(t.merges.c.merged_profile_id).where(
        t.merges.c.tenant_id == bindparam("tenant"),
        t.merges.c.survivor_profile_id == bindparam("profile_id"),
    )
)
# One round trip for both counts of how many people a profile stands for.
_FOLDED = Prepared(
    select(
        select(func.count())
        .select_from(t.merges)
        .where(
            t.merges.c.tenant_id == bindparam("tenant"),
            t.merges.c.survivor_profile_id == bindparam("profile_id"),
        )
        .scalar_subquery()
        .label("merged"),
        select(func.count())
        .select_from(t.identifiers)
        .where(
            t.identifiers.c.tenant_id == bindparam("tenant"),
            t.identifiers.c.profile_id == bindparam("profile_id"),
            t.identifiers.c.id_type == bindparam("uuid_type"),
        )
        .scalar_subquery()
        .label("uuids"),
    )
)


class MergeRows(StagedRows):
    def survivor_of(self, profile_id: int) -> int | None:
        """The profile that absorbed ``profile_id`` in a merge, if one did."""
        row = _SURVIVOR_OF.first(self._conn, {"tenant": self._tenant, "profile_id": profile_id})
        return None if row is None else int(row.survivor_profile_id)

    def merged_into(self, profile_id: int) -> list[int]:
        """Every profile folded into ``profile_id`` (merges are re-pointed to each new
        survivor, so this is the whole chain)."""
        rows = _MERGED_INTO.rows(self._conn, {"tenant": self._tenant, "profile_id": profile_id})
        return sorted(int(r.merged_profile_id) for r in rows)

    def folded(self, profile_id: int) -> FoldedPeople:
        row = _FOLDED.first(
            self._conn, {"tenant": self._tenant, "profile_id": profile_id, "uuid_type": "uuid"}
        )
        merged, uuids = (0, 0) if row is None else (int(row.merged), int(row.uuids))
        if self._stage is not None:
            # Held-back identifiers count (merges are never held back).
            uuids += sum(1 for kind, _ in self._stage.pending_of(profile_id) if kind == "uuid")
        return FoldedPeople(merged=merged, uuids=uuids)

    def absorb(self, *, survivor_id: int, merged_id: int, now: int) -> dict[str, int]:
        """Move everything of ``merged_id`` to ``survivor_id``, drop its row, record the merge.

        The moved rows stay sealed under the merged profile's key, which the survivor now
        holds: its purge destroys that key too."""
        stage = self._settle()
        moved: dict[str, int] = {}
        for table, kind in (
            (t.identifiers, "identifiers"),
            (t.events, "events"),
            (t.devices, "devices"),
            (t.merges, "merges"),
        ):
            column = "survivor_profile_id" if table is t.merges else "profile_id"
            result = self._conn.execute(
                update(table)
                .where(table.c.tenant_id == self._tenant, table.c[column] == merged_id)
                .values({column: survivor_id})
            )
            moved[kind] = int(result.rowcount)
        self._keys.hand_over(from_holder=merged_id, to_holder=survivor_id)
        self._conn.execute(
            delete(t.profiles).where(
                t.profiles.c.tenant_id == self._tenant, t.profiles.c.profile_id == merged_id
            )
        )
        self._conn.execute(
            insert(t.merges).values(
                tenant_id=self._tenant,
                merge_id=new_id(now),
                survivor_profile_id=survivor_id,
                merged_profile_id=merged_id,
                moved=moved,
                created_at=now,
            )
        )
        if stage is not None:
            stage.moved(merged_id, survivor_id)
            stage.put(stage.profiles, merged_id, None)
        return moved
