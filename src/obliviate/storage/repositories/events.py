"""SQL for events, bound to one tenant. An event is visible while its profile is active."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, tuple_

from obliviate.domain.events import NewEvent, StoredEvent
from obliviate.domain.profiles import ProfileState
from obliviate.storage import tables as t
from obliviate.storage.ids import new_id
from obliviate.storage.repositories.batched import PreparedMany
from obliviate.storage.sealing import Keyring

_INSERT_EVENT = PreparedMany(insert(t.events))


def _event(row: Row[Any], keys: Keyring) -> StoredEvent:
    body = keys.open_json(row.sealed_body)
    properties, context = body if body is not None else ({}, {})
    return StoredEvent(row.event_id, row.profile_id, row.name, row.occurred_at, properties, context)


class SqlEvents:
    def __init__(self, conn: Connection, tenant_id: str, keys: Keyring) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._keys = keys

    def _row(self, profile_id: int, event: NewEvent, now: int) -> dict[str, Any]:
        return {
            "tenant_id": self._tenant,
            "event_id": new_id(now),
            "profile_id": profile_id,
            "name": event.name,
            "occurred_at": event.occurred_at,
            "sealed_body": self._keys.seal_json(profile_id, [event.properties, event.context]),
        }

    def add(self, *, profile_id: int, event: NewEvent, now: int) -> StoredEvent:
        row = self._row(profile_id, event, now)
        _INSERT_EVENT.run(self._conn, row)
        return StoredEvent(
            row["event_id"],
            profile_id,
            event.name,
            event.occurred_at,
            event.properties,
            event.context,
        )

    def add_many(self, events: Sequence[tuple[int, NewEvent]], *, now: int) -> None:
        _INSERT_EVENT.run_many(self._conn, [self._row(pid, e, now) for pid, e in events])

    def _visible_query(
        self, profile_id: int | None, start: int | None, end: int | None, name: str | None
    ) -> Any:
        query = (
            select(t.events)
            .join(
                t.profiles,
                and_(
                    t.profiles.c.tenant_id == t.events.c.tenant_id,
                    t.profiles.c.profile_id == t.events.c.profile_id,
                ),
            )
            .where(
                t.events.c.tenant_id == self._tenant,
                t.profiles.c.state == ProfileState.ACTIVE.value,
            )
        )
        if profile_id is not None:
            query = query.where(t.events.c.profile_id == profile_id)
        if start is not None:
            query = query.where(t.events.c.occurred_at >= start)
        if end is not None:
            query = query.where(t.events.c.occurred_at <= end)
        if name is not None:
            query = query.where(t.events.c.name == name)
        return query

    def list_visible(
        self,
        *,
        profile_id: int | None,
        start: int | None,
        end: int | None,
        name: str | None,
        after: tuple[int, int] | None,
        limit: int,
        descending: bool = False,
    ) -> list[StoredEvent]:
        query = self._visible_query(profile_id, start, end, name)
        key = tuple_(t.events.c.occurred_at, t.events.c.event_id)
        if after is not None:
            query = query.where(key < after if descending else key > after)
        order = (t.events.c.occurred_at, t.events.c.event_id)
        query = query.order_by(*(c.desc() if descending else c for c in order)).limit(limit)
        return [_event(r, self._keys) for r in self._conn.execute(query)]

    def count_visible(
        self, *, profile_id: int | None, start: int | None, end: int | None, name: str | None
    ) -> int:
        inner = self._visible_query(profile_id, start, end, name).subquery()
        return int(self._conn.execute(select(func.count()).select_from(inner)).scalar_one())
