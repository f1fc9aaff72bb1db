"""One person's export document, streamed as JSON chunks.

The document is the export's own format (SPEC §5.10), the same on the native API, the console
and the command line, so it is made here beside the use case rather than in one surface.

Every read is short and by key: a head (subject, identifiers, attributes, row counts), the
events one page per read transaction (keyset on ix_events_profile_time), then a tail (devices,
merges, suppressions, receipts). No read holds a transaction, the SQLite writer or the group
committer while the client drains the stream, and memory stays that of one page. The price:
pages are not one snapshot, so an event recorded mid-export may or may not be in it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from obliviate.domain.devices import REGISTRATION_ID
from obliviate.domain.errors import ProfileNotFound
from obliviate.domain.exports import (
    ExportedDevice,
    ExportedEvent,
    ExportedMerge,
    ExportedReceipt,
    ExportHead,
    ExportSubject,
    ExportTail,
    section_of,
)
from obliviate.domain.identifiers import Identifier, IdentifierType, uuid_identifier
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.domain.tenants import Caller
from obliviate.services import audit
from obliviate.services.batches.subjects import holders
from obliviate.services.ports import Clock, SubjectHasher, Transactions, UnitOfWork

# Events per read: large enough that a million take ~500 short transactions, small enough
# that a page (decoded and encoded) stays a few MB.
EVENTS_PAGE = 2000
UUID = IdentifierType.UUID.value
# Told how many events were just sent.
Progress = Callable[[int], None]


def encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        # Integers past 64 bits, or nesting deeper than orjson's 255 levels (accepted input is
        # bounded at 32; only a record stored before that bound could be deeper).
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def head_of(uow: UnitOfWork, profile: Profile) -> ExportHead:
    pid = profile.profile_id
    identifiers = tuple(sorted(uow.profiles.identifiers_of(pid)))
    counts = uow.person_rows.count("profile", pid)
    for kind in counts:
        # Raises for a deletion target the export would leave out.
        section_of(kind)
    uuid = next((v for t, v in identifiers if t == UUID), "")
    subject = ExportSubject(
        profile_id=pid,
        uuid=uuid,
        state=profile.state.value,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        deleted_at=profile.deleted_at,
        revivable_until=profile.revivable_until,
    )
    return ExportHead(subject, identifiers, profile.attributes, counts)


def find_exportable(uow: UnitOfWork, uuid: str) -> Profile:
    """The profile a uuid names, active or soft-deleted; a hard-deleted one is gone."""
    ident = uuid_identifier(uuid)
    profile = uow.profiles.find_by_identifier(ident.id_type, ident.value)
    if profile is None or profile.state is ProfileState.PURGING:
        raise ProfileNotFound(ident.id_type, ident.value)
    return profile


def tail_of(uow: UnitOfWork, head: ExportHead, hasher: SubjectHasher) -> ExportTail:
    pid = head.subject.profile_id
    devices = tuple(uow.exports.devices_of(pid))
    suppressed = tuple(
        (t, v)
        for t, v in head.identifiers
        if any(uow.suppressions.exists(t, h) for h in hasher.all_hashes(t, v))
    )
    # Receipts name their subject by the keyed hash of a uuid (profiles) or a registration id
    # (devices): any of the person's, under any key still accepted.
    named = [*head.identifiers, *((REGISTRATION_ID, d.registration_id) for d in devices)]
    hashes = [h for t, v in named for h in hasher.all_hashes(t, v)]
    return ExportTail(
        devices=devices,
        merges=tuple(uow.exports.merges_into(pid)),
        suppressed=suppressed,
        receipts=tuple(uow.exports.deletion_receipts_about(hashes)),
    )


def _subject_json(s: ExportSubject) -> dict[str, Any]:
    return {
        "uuid": s.uuid,
        "state": s.state,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "deleted_at": s.deleted_at,
        "revivable_until": s.revivable_until,
    }


def _event_json(e: ExportedEvent) -> dict[str, Any]:
    return {
        "id": str(e.event_id),
        "name": e.name,
        "timestamp": e.occurred_at,
        "properties": e.properties,
        "context": e.context,
    }


def _device_json(d: ExportedDevice) -> dict[str, Any]:
    return {
        "registration_id": d.registration_id,
        "platform": d.platform,
        "timezone": d.timezone,
        "info": d.info,
        "tags": list(d.tags),
        "alias": d.alias,
    }


def _merge_json(m: ExportedMerge) -> dict[str, Any]:
    return {
        "merged_profile": str(m.merged_profile_id),
        "moved": dict(sorted(m.moved.items())),
        "at": m.created_at,
    }


def _receipt_json(r: ExportedReceipt) -> dict[str, Any]:
    return {
        "receipt_id": r.receipt_id,
        "reason": r.reason,
        "surface": r.surface,
        "counts": dict(sorted(r.counts.items())),
        "requested_at": r.requested_at,
        "completed_at": r.completed_at,
        "erased_at": r.erased_at,
    }


def _pairs(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"type": t, "value": v} for t, v in pairs]


async def document_chunks(
    transactions: Transactions,
    *,
    tenant_id: str,
    head: ExportHead,
    hasher: SubjectHasher,
    page_size: int = EVENTS_PAGE,
    progress: Progress | None = None,
) -> AsyncIterator[bytes]:
    """The export document of a person whose head is read, as JSON chunks; ``progress`` is
    told how many events each page sent (the command line's bar)."""
    pid = head.subject.profile_id
    yield b'{"subject":' + encode(_subject_json(head.subject))
    yield b',"identifiers":' + encode(_pairs(head.identifiers))
    yield b',"attributes":' + encode(head.attributes) + b',"events":['
    after: tuple[int, int] | None = None
    first = True
    while True:
        page = await transactions.read(tenant_id, _page_reader(pid, after, page_size))
        if page:
            body = b",".join(encode(_event_json(e)) for e in page)
            yield body if first else b"," + body
            first = False
            after = (page[-1].occurred_at, page[-1].event_id)
            if progress is not None:
                progress(len(page))
        if len(page) < page_size:
            break
    tail = await transactions.read(tenant_id, lambda uow: tail_of(uow, head, hasher))
    yield b'],"devices":' + encode([_device_json(d) for d in tail.devices])
    yield b',"merges":' + encode([_merge_json(m) for m in tail.merges])
    yield b',"suppressed":' + encode(_pairs(tail.suppressed))
    yield b',"receipts":' + encode([_receipt_json(r) for r in tail.receipts]) + b"}"


def _page_reader(
    profile_id: int, after: tuple[int, int] | None, limit: int
) -> Callable[[UnitOfWork], list[ExportedEvent]]:
    def read(uow: UnitOfWork) -> list[ExportedEvent]:
        return uow.exports.events_page(profile_id, after=after, limit=limit)

    return read


async def open_profile_export(
    transactions: Transactions,
    *,
    caller: Caller,
    uuid: str,
    hasher: SubjectHasher,
    clock: Clock,
    page_size: int = EVENTS_PAGE,
    progress: Progress | None = None,
) -> AsyncIterator[bytes]:
    """Everything held on the person ``uuid`` names, as JSON chunks (bytes) to send as they
    come. Raises ``ProfileNotFound`` (unknown, or hard-deleted) before any chunk exists, and
    records the export in the audit chain before handing the stream over: a disclosure is
    recorded before its first byte leaves."""
    tenant_id = caller.tenant.tenant_id

    def read(uow: UnitOfWork) -> ExportHead:
        return head_of(uow, find_exportable(uow, uuid))

    head = await transactions.read(tenant_id, read)
    requested_at = clock.now_ms()
    subject_hash = hasher(UUID, uuid_identifier(uuid).value)
    await transactions.write(
        tenant_id,
        lambda uow: audit.record_export(
            uow,
            surface=caller.surface.value,
            credential_ref=caller.credential_ref,
            subject_hash=subject_hash,
            counts=head.counts,
            requested_at=requested_at,
            now=clock.now_ms(),
        ),
    )
    return document_chunks(
        transactions,
        tenant_id=tenant_id,
        head=head,
        hasher=hasher,
        page_size=page_size,
        progress=progress,
    )


def events_held(uow: UnitOfWork, uuid: str) -> int:
    """How many events an export of ``uuid`` will send (for a progress bar)."""
    profile = find_exportable(uow, uuid)
    return uow.person_rows.count("profile", profile.profile_id).get("events", 0)


def uuids_named(uow: UnitOfWork, ident: Identifier) -> list[str]:
    """The uuid of each exportable profile an identifier names now (an email also as the
    email attribute of several Gainsight users): how the command line finds whom to export."""
    found = holders(uow, ident.id_type, uow.profiles.lookup_hash(ident.id_type, ident.value))
    live = sorted({p.profile_id for p in found if p.state is not ProfileState.PURGING})
    uuids = uow.profiles.uuids_of(live)
    return [uuids[pid] for pid in live if pid in uuids]
