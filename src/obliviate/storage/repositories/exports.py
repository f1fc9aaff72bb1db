"""SQL for subject access exports: a person's rows as an export gives them back, bound to one
tenant. Unlike the surfaces' reads these see a soft-deleted person too (domain/exports.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, tuple_

from obliviate.domain.devices import DeviceState
from obliviate.domain.exports import (
    EXPORT_REASON,
    ExportedDevice,
    ExportedEvent,
    ExportedMerge,
    ExportedReceipt,
)
from obliviate.storage import tables as t
from obliviate.storage.ids import new_id
from obliviate.storage.sealing import Keyring

e, d, dt, m, r = t.events, t.devices, t.device_tags, t.merges, t.receipts


class SqlExports:
    def __init__(self, conn: Connection, tenant_id: str, keys: Keyring) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._keys = keys

    def events_page(
        self, profile_id: int, *, after: tuple[int, int] | None, limit: int
    ) -> list[ExportedEvent]:
        """The profile's events in (time, id) order from just after ``after``: a page by key
        on ix_events_profile_time, so each page costs the same however deep the history."""
        query = select(e.c.event_id, e.c.name, e.c.occurred_at, e.c.sealed_body).where(
            e.c.tenant_id == self._tenant, e.c.profile_id == profile_id
        )
        if after is not None:
            query = query.where(tuple_(e.c.occurred_at, e.c.event_id) > after)
        query = query.order_by(e.c.occurred_at, e.c.event_id).limit(limit)
        page: list[ExportedEvent] = []
        for row in self._conn.execute(query):
            body = self._keys.open_json(row.sealed_body)
            # A body whose key is destroyed is erased: nothing of it is held any more.
            properties, context = body if body is not None else ({}, {})
            page.append(ExportedEvent(row.event_id, row.name, row.occurred_at, properties, context))
        return page

    def devices_of(self, profile_id: int) -> list[ExportedDevice]:
        """The live devices the profile owns, each with its tags, alias, info and timezone (a
        deleted device is on its way out with its own purge job)."""
        rows = self._conn.execute(
            select(d)
            .where(
                d.c.tenant_id == self._tenant,
                d.c.profile_id == profile_id,
                d.c.state == DeviceState.ACTIVE.value,
            )
            .order_by(d.c.device_id)
        ).all()
        tags = self._tags_of([row.device_id for row in rows])
        found: list[ExportedDevice] = []
        for row in rows:
            details: dict[str, Any] = self._keys.open_json(row.sealed_details) or {}
            alias = None if row.sealed_alias is None else self._keys.open_text(row.sealed_alias)
            found.append(
                ExportedDevice(
                    device_id=row.device_id,
                    registration_id=str(details.get("registration_id", "")),
                    platform=row.platform,
                    timezone=details.get("timezone"),
                    info=details.get("info") or {},
                    tags=tuple(sorted(tags.get(row.device_id, ()))),
                    alias=alias,
                )
            )
        return found

    def _tags_of(self, device_ids: Sequence[int]) -> dict[int, list[str]]:
        if not device_ids:
            return {}
        rows = self._conn.execute(
            select(dt.c.device_id, dt.c.sealed_tag).where(
                dt.c.tenant_id == self._tenant, dt.c.device_id.in_(list(device_ids))
            )
        )
        tags: dict[int, list[str]] = {}
        for row in rows:
            tag = self._keys.open_text(row.sealed_tag)
            if tag is not None:
                tags.setdefault(row.device_id, []).append(tag)
        return tags

    def merges_into(self, profile_id: int) -> list[ExportedMerge]:
        rows = self._conn.execute(
            select(m.c.merged_profile_id, m.c.moved, m.c.created_at)
            .where(m.c.tenant_id == self._tenant, m.c.survivor_profile_id == profile_id)
            .order_by(m.c.created_at, m.c.merge_id)
        )
        return [
            ExportedMerge(row.merged_profile_id, dict(row.moved or {}), row.created_at)
            for row in rows
        ]

    def deletion_receipts_about(self, subject_hashes: Sequence[str]) -> list[ExportedReceipt]:
        """Receipts of deletions whose subject is one of these keyed hashes. Receipts are few
        (one per completed deletion) and have no index on the hash: filtered in SQL by it."""
        if not subject_hashes:
            return []
        rows = self._conn.execute(
            select(r)
            .where(
                r.c.tenant_id == self._tenant,
                r.c.subject_hash.in_(sorted(set(subject_hashes))),
                r.c.reason != EXPORT_REASON,
            )
            .order_by(r.c.seq)
        )
        return [
            ExportedReceipt(
                receipt_id=row.receipt_id,
                reason=row.reason,
                surface=row.surface,
                counts=dict(row.counts or {}),
                requested_at=row.requested_at,
                completed_at=row.completed_at,
                erased_at=row.erased_at,
            )
            for row in rows
        ]

    def new_record_id(self, now: int) -> int:
        """An id for an export's audit record (its place of a job id in the receipt)."""
        return new_id(now)
