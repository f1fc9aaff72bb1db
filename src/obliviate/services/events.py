"""Recording and reading a person's events."""

from __future__ import annotations

from dataclasses import dataclass

from obliviate.domain.errors import ProfileNotFound
from obliviate.domain.events import NewEvent, StoredEvent
from obliviate.domain.identifiers import IdentifierType, uuid_value
from obliviate.domain.profiles import ProfileState
from obliviate.services.ports import UnitOfWork

UUID = IdentifierType.UUID.value


@dataclass(frozen=True, slots=True)
class EventView:
    event: StoredEvent
    uuid: str


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[EventView]
    total: int


def record_event(uow: UnitOfWork, *, uuid: str, event: NewEvent, now: int) -> EventView:
    """Store an event of an active profile; a hidden profile's events are refused, not kept."""
    uuid = uuid_value(uuid)
    profile = uow.profiles.find_by_identifier(UUID, uuid, for_update=True)
    if profile is None or profile.state is not ProfileState.ACTIVE:
        raise ProfileNotFound(UUID, uuid)
    stored = uow.events.add(profile_id=profile.profile_id, event=event, now=now)
    return EventView(stored, uuid)


def list_events(
    uow: UnitOfWork,
    *,
    uuid: str | None,
    start: int | None,
    end: int | None,
    name: str | None,
    after: tuple[int, int] | None,
    limit: int,
    descending: bool = False,
) -> EventPage:
    profile_id: int | None = None
    if uuid is not None:
        profile = uow.profiles.find_by_identifier(UUID, uuid_value(uuid))
        if profile is None or profile.state is not ProfileState.ACTIVE:
            return EventPage([], 0)
        profile_id = profile.profile_id
    found = uow.events.list_visible(
        profile_id=profile_id,
        start=start,
        end=end,
        name=name,
        after=after,
        limit=limit,
        descending=descending,
    )
    uuids = uow.profiles.uuids_of(sorted({e.profile_id for e in found}))
    total = uow.events.count_visible(profile_id=profile_id, start=start, end=end, name=name)
    return EventPage([EventView(e, uuids.get(e.profile_id, "")) for e in found], total)


def events_of_profile(
    uow: UnitOfWork,
    *,
    profile_id: int,
    name: str,
    start: int | None,
    end: int | None,
    limit: int,
) -> list[StoredEvent]:
    return uow.events.list_visible(
        profile_id=profile_id, start=start, end=end, name=name, after=None, limit=limit
    )


def record_events(uow: UnitOfWork, *, uuid: str, batch: list[NewEvent], now: int) -> int:
    """Store a batch of events of one active profile, all or none."""
    uuid = uuid_value(uuid)
    profile = uow.profiles.find_by_identifier(UUID, uuid, for_update=True)
    if profile is None or profile.state is not ProfileState.ACTIVE:
        raise ProfileNotFound(UUID, uuid)
    for event in batch:
        uow.events.add(profile_id=profile.profile_id, event=event, now=now)
    return len(batch)
