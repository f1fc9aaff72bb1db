"""SQL for devices, their tags and aliases, bound to one tenant.

A device is visible when it is active and either has no owner or an active owner: soft-deleting
a profile hides its devices without touching them, and reviving it brings them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.domain.devices import Device, DeviceState
from obliviate.domain.profiles import ProfileState
from obliviate.services.ports import AliasTaken, RetiredDevices
from obliviate.storage import tables as t
from obliviate.storage.ids import new_id
from obliviate.storage.prepared import Prepared
from obliviate.storage.savepoints import savepoint
from obliviate.storage.sealing import Keyring

d, dt, p = t.devices, t.device_tags, t.profiles


# What a device's sealed details hold: its registration id, timezone and info.
_REGISTRATION, _TIMEZONE, _INFO = "registration_id", "timezone", "info"
_SEALED_DETAILS = frozenset({_TIMEZONE, _INFO})


def _visible_statement() -> Any:
    owner = and_(p.c.tenant_id == d.c.tenant_id, p.c.profile_id == d.c.profile_id)
    return (
        select(d)
        .outerjoin(p, owner)
        .where(
            d.c.tenant_id == bindparam("tenant"),
            d.c.state == DeviceState.ACTIVE.value,
            or_(d.c.profile_id.is_(None), p.c.state == ProfileState.ACTIVE.value),
        )
    )


# The statements of the device routes (a read, a registration, a tag change), compiled once
# (storage/prepared.py): built and run through ``Connection.execute``, these were most of an
# EngageLab GET's time.
_VISIBLE_BY_REGISTRATION = Prepared(
    _visible_statement().where(d.c.registration_hash == bindparam("registration"))
)


def _live_by(column: Any, name: str) -> tuple[Prepared, Prepared]:
    """The active device whose ``column`` is the parameter ``name``: to read, and to lock."""
    statement = select(d).where(
        d.c.tenant_id == bindparam("tenant"),
        column == bindparam(name),
        d.c.state == DeviceState.ACTIVE.value,
    )
    return Prepared(statement), Prepared(statement.with_for_update())


_LIVE_BY_REGISTRATION, _LIVE_BY_REGISTRATION_FOR_UPDATE = _live_by(
    d.c.registration_hash, "registration"
)
_LIVE_BY_ID, _LIVE_BY_ID_FOR_UPDATE = _live_by(d.c.device_id, "device")
_INSERT_DEVICE = Prepared(insert(d))
_INSERT_TAG = Prepared(insert(dt))
_DETAILS = Prepared(
    select(d.c.sealed_details).where(
        d.c.tenant_id == bindparam("tenant"), d.c.device_id == bindparam("device")
    )
)
# The columns set are the parameters given beside ``tenant`` and ``device``.
_UPDATE_DEVICE = Prepared(
    update(d).where(d.c.tenant_id == bindparam("tenant"), d.c.device_id == bindparam("device"))
)
_TAGS_OF = Prepared(
    select(dt.c.sealed_tag).where(
        dt.c.tenant_id == bindparam("tenant"), dt.c.device_id == bindparam("device")
    )
)
_RELEASE_ALIAS = Prepared(
    update(d)
    .where(
        d.c.tenant_id == bindparam("tenant"),
        d.c.alias_hash == bindparam("alias"),
        d.c.device_id != bindparam("device"),
    )
    .values(alias_hash=None, sealed_alias=None, updated_at=bindparam("now"))
)


class SqlDevices:
    def __init__(self, conn: Connection, tenant_id: str, keys: Keyring) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._keys = keys
        self._hash = keys.vault.lookup_hash

    def _registration_hash(self, registration_id: str) -> str:
        return self._hash(_REGISTRATION, registration_id)

    def _alias_hash(self, alias: str) -> str:
        return self._hash("alias", alias)

    def _tag_hash(self, tag: str) -> str:
        return self._hash("tag", tag)

    def _device(self, row: Any) -> Device:
        details = self._keys.open_json(row.sealed_details) or {}
        alias = None if row.sealed_alias is None else self._keys.open_text(row.sealed_alias)
        return Device(
            device_id=row.device_id,
            registration_id=str(details.get(_REGISTRATION, "")),
            platform=row.platform,
            timezone=details.get(_TIMEZONE),
            info=details.get(_INFO) or {},
            alias=alias,
            profile_id=row.profile_id,
            updated_at=row.updated_at,
        )

    def _visible(self) -> Any:
        return _visible_statement().params(tenant=self._tenant)

    def _live_row(self, registration_id: str, *, for_update: bool) -> Any | None:
        statement = _LIVE_BY_REGISTRATION_FOR_UPDATE if for_update else _LIVE_BY_REGISTRATION
        return statement.first(
            self._conn,
            {"tenant": self._tenant, "registration": self._registration_hash(registration_id)},
        )

    def find_visible(self, registration_id: str) -> Device | None:
        row = _VISIBLE_BY_REGISTRATION.first(
            self._conn,
            {"tenant": self._tenant, "registration": self._registration_hash(registration_id)},
        )
        return None if row is None else self._device(row)

    def find_live(self, registration_id: str, *, for_update: bool = False) -> Device | None:
        """The active row for the id, visible or hidden behind a soft-deleted owner."""
        row = self._live_row(registration_id, for_update=for_update)
        return None if row is None else self._device(row)

    def live_by_id(self, device_id: int, *, for_update: bool = False) -> Device | None:
        """The active device with this internal id, visible or not."""
        statement = _LIVE_BY_ID_FOR_UPDATE if for_update else _LIVE_BY_ID
        row = statement.first(self._conn, {"tenant": self._tenant, "device": device_id})
        return None if row is None else self._device(row)

    def visible_many(self, registration_ids: Sequence[str]) -> list[Device]:
        if not registration_ids:
            return []
        hashes = [self._registration_hash(r) for r in registration_ids]
        rows = self._conn.execute(self._visible().where(d.c.registration_hash.in_(hashes)))
        return [self._device(r) for r in rows]

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
        self._keys.create(device_id, holder_id=device_id, now=now)
        details = {_REGISTRATION: registration_id, _TIMEZONE: timezone, _INFO: info or {}}
        _INSERT_DEVICE.run(
            self._conn,
            {
                "tenant_id": self._tenant,
                "device_id": device_id,
                "registration_hash": self._registration_hash(registration_id),
                "state": DeviceState.ACTIVE.value,
                "platform": platform,
                "sealed_details": self._keys.seal_json(device_id, details),
                "created_at": now,
                "updated_at": now,
            },
        )
        return Device(device_id, registration_id, platform, timezone, info or {}, None, None, now)

    def update_fields(self, device_id: int, *, now: int, **values: Any) -> None:
        columns: dict[str, Any] = {}
        for name, value in values.items():
            if name == "alias":
                columns["alias_hash"] = None if value is None else self._alias_hash(value)
                columns["sealed_alias"] = (
                    None if value is None else self._keys.seal_text(device_id, value)
                )
            elif name not in _SEALED_DETAILS:
                columns[name] = value
        if _SEALED_DETAILS & values.keys():
            row = _DETAILS.first(self._conn, {"tenant": self._tenant, "device": device_id})
            if row is not None:
                details = self._keys.open_json(row.sealed_details) or {}
                details.update({k: v for k, v in values.items() if k in _SEALED_DETAILS})
                columns["sealed_details"] = self._keys.seal_json(device_id, details)
        _UPDATE_DEVICE.run(
            self._conn,
            {"tenant": self._tenant, "device": device_id, "updated_at": now, **columns},
        )

    def tags_of(self, device_id: int) -> set[str]:
        rows = _TAGS_OF.rows(self._conn, {"tenant": self._tenant, "device": device_id})
        return {tag for r in rows if (tag := self._keys.open_text(r.sealed_tag)) is not None}

    def add_tags(self, device_id: int, tags: Sequence[str]) -> None:
        for tag in tags:
            _INSERT_TAG.run(
                self._conn,
                {
                    "tenant_id": self._tenant,
                    "device_id": device_id,
                    "tag_hash": self._tag_hash(tag),
                    "sealed_tag": self._keys.seal_text(device_id, tag),
                },
            )

    def remove_tags(self, device_id: int, tags: Sequence[str] | None) -> int:
        """Remove the given tags, or all of them when ``tags`` is None."""
        query = delete(dt).where(dt.c.tenant_id == self._tenant, dt.c.device_id == device_id)
        if tags is not None:
            if not tags:
                return 0
            query = query.where(dt.c.tag_hash.in_([self._tag_hash(tag) for tag in tags]))
        return int(self._conn.execute(query).rowcount)

    def bind_alias(self, device_id: int, alias: str, *, now: int) -> None:
        """Bind an alias, taking it from whichever device holds it."""
        _RELEASE_ALIAS.run(
            self._conn,
            {
                "tenant": self._tenant,
                "alias": self._alias_hash(alias),
                "device": device_id,
                "now": now,
            },
        )
        try:
            with savepoint(self._conn):
                self.update_fields(device_id, now=now, alias=alias)
        except IntegrityError as exc:
            # A concurrent request bound the same alias between our two statements.
            raise AliasTaken(alias) from exc

    def visible_with_alias(self, alias: str, platforms: Sequence[str]) -> list[Device]:
        query = self._visible().where(d.c.alias_hash == self._alias_hash(alias))
        if platforms:
            query = query.where(d.c.platform.in_(list(platforms)))
        return [self._device(r) for r in self._conn.execute(query)]

    def visible_tags(self) -> list[str]:
        visible = self._visible().subquery()
        rows = self._conn.execute(
            select(dt.c.sealed_tag)
            .join(visible, and_(visible.c.device_id == dt.c.device_id))
            .where(dt.c.tenant_id == self._tenant)
        )
        # Sealed under each device's key: opened and de-duplicated here, not in SQL.
        return sorted(
            {tag for r in rows if (tag := self._keys.open_text(r.sealed_tag)) is not None}
        )

    def count_tagged(self, tags: Sequence[str], platforms: Sequence[str]) -> dict[str, int]:
        visible = self._visible()
        if platforms:
            visible = visible.where(d.c.platform.in_(list(platforms)))
        sub = visible.subquery()
        by_hash = {self._tag_hash(tag): tag for tag in tags}
        rows = self._conn.execute(
            select(dt.c.tag_hash, func.count())
            .join(sub, sub.c.device_id == dt.c.device_id)
            .where(dt.c.tenant_id == self._tenant, dt.c.tag_hash.in_(list(by_hash)))
            .group_by(dt.c.tag_hash)
        )
        found = {by_hash[r[0]]: int(r[1]) for r in rows}
        return {tag: found.get(tag, 0) for tag in tags}

    def visible_device_ids_with_tag(self, tag: str, platforms: Sequence[str]) -> list[int]:
        visible = self._visible()
        if platforms:
            visible = visible.where(d.c.platform.in_(list(platforms)))
        sub = visible.subquery()
        rows = self._conn.execute(
            select(dt.c.device_id)
            .join(sub, sub.c.device_id == dt.c.device_id)
            .where(dt.c.tenant_id == self._tenant, dt.c.tag_hash == self._tag_hash(tag))
        )
        return [r.device_id for r in rows]

    def remove_tag_from(self, tag: str, device_ids: Sequence[int]) -> int:
        if not device_ids:
            return 0
        result = self._conn.execute(
            delete(dt).where(
                dt.c.tenant_id == self._tenant,
                dt.c.tag_hash == self._tag_hash(tag),
                dt.c.device_id.in_(list(device_ids)),
            )
        )
        return int(result.rowcount)

    def retire(self, device_id: int, *, now: int) -> int:
        """Hide a device for good and free its alias and registration id; 1 if it had an
        alias."""
        row = self._conn.execute(
            select(d.c.alias_hash).where(d.c.tenant_id == self._tenant, d.c.device_id == device_id)
        ).first()
        self.update_fields(device_id, now=now, state=DeviceState.DELETING.value, alias=None)
        return int(row is not None and row.alias_hash is not None)

    def shred(self, device_id: int) -> int:
        """Destroy the device's key: no copy of its sealed values can be opened any more."""
        return self._keys.destroy_held_by(device_id)

    def retire_owned_by(self, profile_id: int, *, now: int) -> RetiredDevices:
        """Retire every live device a profile owns: which ones, and how many aliases that
        released (one read of ids, nothing opened)."""
        owned = and_(
            d.c.tenant_id == self._tenant,
            d.c.profile_id == profile_id,
            d.c.state == DeviceState.ACTIVE.value,
        )
        rows = self._conn.execute(select(d.c.device_id, d.c.alias_hash).where(owned)).all()
        self._conn.execute(
            update(d)
            .where(owned)
            .values(
                state=DeviceState.DELETING.value, alias_hash=None, sealed_alias=None, updated_at=now
            )
        )
        return RetiredDevices(
            device_ids=tuple(int(r.device_id) for r in rows),
            aliases=sum(1 for r in rows if r.alias_hash is not None),
        )

    def owned_live(self, profile_id: int) -> list[Device]:
        """The live devices a profile owns, visible or not (its deletion takes them too)."""
        rows = self._conn.execute(
            select(d).where(
                d.c.tenant_id == self._tenant,
                d.c.profile_id == profile_id,
                d.c.state == DeviceState.ACTIVE.value,
            )
        )
        return [self._device(r) for r in rows]
