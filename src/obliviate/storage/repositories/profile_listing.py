"""Listing, counting and sweeping profiles: their part of ``SqlProfiles``, and the one
cross-tenant read of the table (which tenants have soft deletes to purge)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from obliviate.domain.profiles import Profile, ProfileState
from obliviate.services.ports import ProfileFilter
from obliviate.storage import tables as t
from obliviate.storage.repositories.codec import (
    decode_profile,
    json_text,
    profiles_with_key,
)
from obliviate.storage.repositories.staging import StagedRows


class ProfileListing(StagedRows):
    def _active_query(self, flt: ProfileFilter) -> Any:
        query = profiles_with_key().where(
            t.profiles.c.tenant_id == self._tenant,
            t.profiles.c.state == ProfileState.ACTIVE.value,
        )
        for id_type, value in flt.identifiers:
            query = query.where(
                t.profiles.c.profile_id.in_(
                    select(t.identifiers.c.profile_id).where(
                        t.identifiers.c.tenant_id == self._tenant,
                        t.identifiers.c.id_type == id_type,
                        t.identifiers.c.value_hash == self._hash(id_type, value),
                    )
                )
            )
        return query

    @staticmethod
    def _matches(profile: Profile, flt: ProfileFilter) -> bool:
        # Attributes are sealed, so their filter runs here, on the opened values.
        for key, value in flt.attributes:
            held = profile.attributes.get(key)
            if held is None or (held if isinstance(held, str) else json_text(held)) != value:
                return False
        return True

    def list_active(
        self, flt: ProfileFilter, *, after: int | None, limit: int, descending: bool
    ) -> list[Profile]:
        self._settle()
        key = t.profiles.c.profile_id
        found: list[Profile] = []
        while len(found) < limit:
            query = self._active_query(flt)
            if after is not None:
                query = query.where(key < after if descending else key > after)
            # Without an attribute filter every row read is kept; with one, read ahead.
            chunk = limit if not flt.attributes else max(limit, 500)
            query = query.order_by(key.desc() if descending else key.asc()).limit(chunk)
            rows = list(self._conn.execute(query))
            for row in rows:
                profile = decode_profile(row, self._keys)
                if self._matches(profile, flt):
                    found.append(profile)
                    if len(found) == limit:
                        break
            if len(rows) < chunk:
                break
            after = int(rows[-1].profile_id)
        return found

    def count_active(self, flt: ProfileFilter) -> int:
        self._settle()
        if not flt.attributes:
            inner = self._active_query(flt).subquery()
            return int(self._conn.execute(select(func.count()).select_from(inner)).scalar_one())
        return sum(
            1
            for row in self._conn.execute(self._active_query(flt))
            if self._matches(decode_profile(row, self._keys), flt)
        )

    def expired_soft_deleted(self, *, now: int, limit: int) -> list[Profile]:
        self._settle()
        rows = self._conn.execute(
            select(t.profiles)
            .where(
                t.profiles.c.tenant_id == self._tenant,
                t.profiles.c.state == ProfileState.SOFT_DELETED.value,
                t.profiles.c.revivable_until <= now,
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [decode_profile(row, self._keys) for row in rows]


def tenants_with_expired_profiles(conn: Connection, *, now: int, limit: int) -> list[str]:
    """Tenants holding a soft delete whose revival window has ended."""
    rows = conn.execute(
        select(t.profiles.c.tenant_id)
        .where(
            t.profiles.c.state == ProfileState.SOFT_DELETED.value,
            t.profiles.c.revivable_until <= now,
        )
        .distinct()
        .limit(limit)
    )
    return [str(r.tenant_id) for r in rows]
