"""Helpers of the identity tests: identifier builders, and a store that drives the identity
services the way the Insider surface does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from obliviate.bootstrap import Container
from obliviate.domain.events import NewEvent
from obliviate.domain.identifiers import Identifier, identifier
from obliviate.domain.profiles import Profile
from obliviate.domain.tenants import Caller
from obliviate.services import deletions, devices, identity
from obliviate.services.devices import DeviceChange
from obliviate.services.identity import PersonInput, UpsertOutcome
from obliviate.storage import tables as t
from obliviate.storage.deletion_targets import PROFILE_TARGETS
from tests.support.clock import FakeClock

WINDOW = 7 * 86400.0
NO_ROWS = {target.kind: 0 for target in PROFILE_TARGETS}


def email(value: str) -> Identifier:
    return identifier("email", value)


def phone(value: str) -> Identifier:
    return identifier("phone_number", value)


def uuid(value: str) -> Identifier:
    return identifier("uuid", value)


def custom(name: str, value: str) -> Identifier:
    return identifier(f"custom.{name}", value)


def pairs(*idents: Identifier) -> list[tuple[str, str]]:
    """Identifiers as ``identifiers_of`` lists them: sorted (type, value) pairs."""
    return sorted((i.id_type, i.value) for i in idents)


def event(name: str, at: int, **params: Any) -> NewEvent:
    return NewEvent(name, at, params, {"source": "insider"})


class Store:
    """Drives the identity services the way the Insider surface does: one unit of work each,
    committed by the caller."""

    def __init__(self, container: Container, caller: Caller, clock: FakeClock) -> None:
        self.c, self.caller, self.clock = container, caller, clock
        self.tenant = caller.tenant
        self.tenant_id = caller.tenant.tenant_id

    def upsert(
        self,
        *idents: Identifier,
        attributes: dict[str, Any] | None = None,
        events: Sequence[NewEvent] = (),
    ) -> UpsertOutcome:
        person = PersonInput(identifiers=idents, attributes=attributes or {}, events=events)
        with self.c.uow_factory(self.tenant_id) as uow:
            outcome = identity.upsert_person(
                uow,
                tenant=self.tenant,
                person=person,
                now=self.clock.now_ms(),
                hasher=self.c.hasher,
            )
            uow.commit()
        return outcome

    def find(self, *idents: Identifier) -> Profile:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return identity.find_person(uow, identifiers=idents)

    def delete_identifier(self, ident: Identifier) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            identity.delete_identifier(uow, ident=ident, now=self.clock.now_ms())
            uow.commit()

    def change_identifier(self, old: Identifier, new: Identifier) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            identity.change_identifier(
                uow,
                old=old,
                new=new,
                now=self.clock.now_ms(),
                hasher=self.c.hasher,
            )
            uow.commit()

    def hard_delete(self, *idents: Identifier) -> list[int]:
        with self.c.uow_factory(self.tenant_id) as uow:
            jobs = identity.hard_delete_person(
                uow,
                caller=self.caller,
                identifiers=idents,
                now=self.clock.now_ms(),
                hasher=self.c.hasher,
            )
            uow.commit()
        return jobs

    def delete_attributes(
        self, ident: Identifier, names: Sequence[str], custom_names: Sequence[str]
    ) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            identity.delete_attributes(
                uow,
                identifiers=[ident],
                names=names,
                custom_names=custom_names,
                now=self.clock.now_ms(),
            )
            uow.commit()

    def soft_delete(self, uuid_value: str) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            deletions.soft_delete_profile(
                uow, caller=self.caller, uuid=uuid_value, now=self.clock.now_ms()
            )
            uow.commit()

    def own_device(self, uuid_value: str, registration_id: str, tags: Sequence[str]) -> None:
        """A tagged device owned by the profile with this uuid (as the native API sets it)."""
        now = self.clock.now_ms()
        with self.c.uow_factory(self.tenant_id) as uow:
            devices.set_device(
                uow,
                registration_id=registration_id,
                change=DeviceChange(add=tags),
                now=now,
                hasher=self.c.hasher,
            )
            devices.set_owner(uow, uuid=uuid_value, registration_id=registration_id, now=now)
            uow.commit()

    def identifiers_of(self, profile_id: int) -> list[tuple[str, str]]:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return uow.profiles.identifiers_of(profile_id)

    def event_names(self, profile_id: int) -> list[str]:
        """Names of the profile's visible events, oldest first."""
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            found = uow.events.list_visible(
                profile_id=profile_id, start=None, end=None, name=None, after=None, limit=1000
            )
        return [e.name for e in found]

    def rows_of(self, profile_id: int) -> dict[str, int]:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return uow.person_rows.count("profile", profile_id)

    def owned_devices(self, profile_id: int) -> list[str]:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return sorted(d.registration_id for d in uow.devices.owned_live(profile_id))

    def merges(self) -> list[tuple[int, int, dict[str, int]]]:
        """(survivor, merged, moved) of every recorded merge, oldest first."""
        with self.c.engine.connect() as conn:
            rows = conn.execute(
                select(t.merges)
                .where(t.merges.c.tenant_id == self.tenant_id)
                .order_by(t.merges.c.created_at, t.merges.c.merge_id)
            )
            return [(r.survivor_profile_id, r.merged_profile_id, dict(r.moved)) for r in rows]

    def receipts(self) -> list[dict[str, Any]]:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return uow.receipts.all_in_order()
