"""SQL for devices, their tags and aliases, bound to one tenant.

A device is visible when it is active and either has no owner or an active owner: soft-deleting
a profile hides its devices without touching them, and reviving it brings them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.domain.devices import Device, DeviceState
from obliviate.domain.profiles import ProfileState
from obliviate.services.ports import AliasTaken
from obliviate.storage import tables as t
from obliviate.storage.ids import new_id
from obliviate.storage.savepoints import savepoint

d, dt, p = t.devices, t.device_tags, t.profiles


def _device(row: Row[Any]) -> Device:
    return Device(
        device_id=row.device_id,
        registration_id=row.registration_id,
        platform=row.platform,
        timezone=row.timezone,
        info=row.info,
        alias=row.alias,
        profile_id=row.profile_id,
        updated_at=row.updated_at,
    )


class SqlDevices:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def _visible(self) -> Any:
        owner = and_(p.c.tenant_id == d.c.tenant_id, p.c.profile_id == d.c.profile_id)
        return (
            select(d)
            .outerjoin(p, owner)
            .where(
                d.c.tenant_id == self._tenant,
                d.c.state == DeviceState.ACTIVE.value,
                or_(d.c.profile_id.is_(None), p.c.state == ProfileState.ACTIVE.value),
            )
        )

    def _live_row(self, registration_id: str, *, for_update: bool) -> Row[Any] | None:
        query = select(d).where(
            d.c.tenant_id == self._tenant,
            d.c.registration_id == registration_id,
            d.c.state == DeviceState.ACTIVE.value,
        )
        if for_update:
            query = query.with_for_update()
        return self._conn.execute(query).first()

    def find_visible(self, registration_id: str) -> Device | None:
        row = self._conn.execute(
            self._visible().where(d.c.registration_id == registration_id)
        ).first()
        return None if row is None else _device(row)

    def find_live(self, registration_id: str, *, for_update: bool = False) -> Device | None:
        """The active row for the id, visible or hidden behind a soft-deleted owner."""
        row = self._live_row(registration_id, for_update=for_update)
        return None if row is None else _device(row)

    def visible_many(self, registration_ids: Sequence[str]) -> list[Device]:
        if not registration_ids:
            return []
        rows = self._conn.execute(
            self._visible().where(d.c.registration_id.in_(list(registration_ids)))
        )
        return [_device(r) for r in rows]

    def register(
        self,
        *,
        registration_id: str,
        now: int,
        platform: str | None = None,
        timezone: str | None = None,
        info: dict[str, Any] | None = None,
    ) -> Device | None:
        """Insert a new live device; None when a concurrent request registered it first."""
        try:
            with savepoint(self._conn):
                return self._insert(registration_id, now, platform, timezone, info)
        except IntegrityError:
            return None

    def _insert(
        self,
        registration_id: str,
        now: int,
        platform: str | None,
        timezone: str | None,
        info: dict[str, Any] | None,
    ) -> Device:
        device_id = new_id(now)
        self._conn.execute(
            insert(d).values(
                tenant_id=self._tenant,
                device_id=device_id,
                registration_id=registration_id,
                state=DeviceState.ACTIVE.value,
                platform=platform,
                timezone=timezone,
                info=info or {},
                created_at=now,
                updated_at=now,
            )
        )
        return Device(device_id, registration_id, platform, timezone, info or {}, None, None, now)

    def update_fields(self, device_id: int, *, now: int, **values: Any) -> None:
        self._conn.execute(
            update(d)
            .where(d.c.tenant_id == self._tenant, d.c.device_id == device_id)
            .values(updated_at=now, **values)
        )

    def tags_of(self, device_id: int) -> set[str]:
        rows = self._conn.execute(
            select(dt.c.tag).where(dt.c.tenant_id == self._tenant, dt.c.device_id == device_id)
        )
        return {r.tag for r in rows}

    def add_tags(self, device_id: int, tags: Sequence[str]) -> None:
        if tags:
            self._conn.execute(
                insert(dt),
                [{"tenant_id": self._tenant, "device_id": device_id, "tag": tag} for tag in tags],
            )

    def remove_tags(self, device_id: int, tags: Sequence[str] | None) -> int:
        """Remove the given tags, or all of them when ``tags`` is None."""
        query = delete(dt).where(dt.c.tenant_id == self._tenant, dt.c.device_id == device_id)
        if tags is not None:
            if not tags:
                return 0
            query = query.where(dt.c.tag.in_(list(tags)))
        return int(self._conn.execute(query).rowcount)

    def bind_alias(self, device_id: int, alias: str, *, now: int) -> None:
        """Bind an alias, taking it from whichever device holds it."""
        self._conn.execute(
            update(d)
            .where(d.c.tenant_id == self._tenant, d.c.alias == alias, d.c.device_id != device_id)
            .values(alias=None, updated_at=now)
        )
        try:
            with savepoint(self._conn):
                self.update_fields(device_id, now=now, alias=alias)
        except IntegrityError as exc:
            # A concurrent request bound the same alias between our two statements.
            raise AliasTaken(alias) from exc

    def visible_with_alias(self, alias: str, platforms: Sequence[str]) -> list[Device]:
        query = self._visible().where(d.c.alias == alias)
        if platforms:
            query = query.where(d.c.platform.in_(list(platforms)))
        return [_device(r) for r in self._conn.execute(query)]

    def visible_tags(self) -> list[str]:
        visible = self._visible().subquery()
        rows = self._conn.execute(
            select(dt.c.tag)
            .join(visible, and_(visible.c.device_id == dt.c.device_id))
            .where(dt.c.tenant_id == self._tenant)
            .distinct()
            .order_by(dt.c.tag)
        )
        return [r.tag for r in rows]

    def count_tagged(self, tags: Sequence[str], platforms: Sequence[str]) -> dict[str, int]:
        visible = self._visible()
        if platforms:
            visible = visible.where(d.c.platform.in_(list(platforms)))
        sub = visible.subquery()
        rows = self._conn.execute(
            select(dt.c.tag, func.count())
            .join(sub, sub.c.device_id == dt.c.device_id)
            .where(dt.c.tenant_id == self._tenant, dt.c.tag.in_(list(tags)))
            .group_by(dt.c.tag)
        )
        found = {r[0]: int(r[1]) for r in rows}
        return {tag: found.get(tag, 0) for tag in tags}

    def visible_device_ids_with_tag(self, tag: str, platforms: Sequence[str]) -> list[int]:
        visible = self._visible()
        if platforms:
            visible = visible.where(d.c.platform.in_(list(platforms)))
        sub = visible.subquery()
        rows = self._conn.execute(
            select(dt.c.device_id)
            .join(sub, sub.c.device_id == dt.c.device_id)
            .where(dt.c.tenant_id == self._tenant, dt.c.tag == tag)
        )
        return [r.device_id for r in rows]

    def remove_tag_from(self, tag: str, device_ids: Sequence[int]) -> int:
        if not device_ids:
            return 0
        result = self._conn.execute(
            delete(dt).where(
                dt.c.tenant_id == self._tenant,
                dt.c.tag == tag,
                dt.c.device_id.in_(list(device_ids)),
            )
        )
        return int(result.rowcount)

    def retire(self, device_id: int, *, now: int) -> int:
        """Hide a device for good and free its alias and registration id; 1 if it had an alias."""
        row = self._conn.execute(
            select(d.c.alias).where(d.c.tenant_id == self._tenant, d.c.device_id == device_id)
        ).first()
        self.update_fields(device_id, now=now, state=DeviceState.DELETING.value, alias=None)
        return int(row is not None and row.alias is not None)

    def retire_owned_by(self, profile_id: int, *, now: int) -> int:
        """Retire every device a profile owns; returns how many aliases were released."""
        owned = and_(
            d.c.tenant_id == self._tenant,
            d.c.profile_id == profile_id,
            d.c.state == DeviceState.ACTIVE.value,
        )
        aliases = self._conn.execute(
            select(func.count()).select_from(d).where(owned, d.c.alias.is_not(None))
        ).scalar_one()
        self._conn.execute(
            update(d)
            .where(owned)
            .values(state=DeviceState.DELETING.value, alias=None, updated_at=now)
        )
        return int(aliases)

    def owned_live(self, profile_id: int) -> list[Device]:
        """The live devices a profile owns, visible or not (its deletion takes them too)."""
        rows = self._conn.execute(
            select(d).where(
                d.c.tenant_id == self._tenant,
                d.c.profile_id == profile_id,
                d.c.state == DeviceState.ACTIVE.value,
            )
        )
        return [_device(r) for r in rows]
