"""Soft deletion, revival within the window, hard deletion and purging at the service layer, on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from obliviate.bootstrap import Container
from obliviate.domain.errors import DuplicateProfile, ProfileNotFound
from obliviate.domain.events import NewEvent
from obliviate.domain.tenants import Caller
from obliviate.jobs.worker import Worker
from obliviate.services import deletions, events, profiles
from obliviate.services.receipts import first_broken_receipt
from obliviate.storage import tables as t
from tests.factories import uid
from tests.support.clock import FakeClock
from tests.support.tenants import Tenant, sign_in

WINDOW = 7 * 86400.0
NO_ROWS = {
    "keys": 0,
    "tags": 0,
    "devices": 0,
    "events": 0,
    "identifiers": 0,
    "merges": 0,
    "profiles": 0,
}


@pytest.fixture
def caller(container: Container, tenant: Tenant) -> Caller:
    return sign_in(container, tenant, "gainsight", revival_window=WINDOW)


class Person:
    """Drives the services the way a surface does: one unit of work, then commit."""

    def __init__(self, container: Container, caller: Caller, clock: FakeClock) -> None:
        self.c, self.caller, self.clock = container, caller, clock
        self.tenant_id = caller.tenant.tenant_id

    def create(self, uuid: str, **attrs: Any) -> bool:
        with self.c.uow_factory(self.tenant_id) as uow:
            _, revived = profiles.create_profile(
                uow,
                uuid=uuid,
                attributes=attrs,
                now=self.clock.now_ms(),
                hasher=self.c.hasher,
            )
            uow.commit()
        return revived

    def update(self, uuid: str, **changes: Any) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            profiles.update_profile(
                uow,
                uuid=uuid,
                changes=changes,
                now=self.clock.now_ms(),
                hasher=self.c.hasher,
            )
            uow.commit()

    def event(self, uuid: str, name: str = "e") -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            events.record_event(
                uow,
                uuid=uuid,
                event=NewEvent(name, self.clock.now_ms(), {"n": 1}),
                now=self.clock.now_ms(),
            )
            uow.commit()

    def soft_delete(self, uuid: str) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            deletions.soft_delete_profile(
                uow, caller=self.caller, uuid=uuid, now=self.clock.now_ms()
            )
            uow.commit()

    def hard_delete(self, uuid: str) -> int | None:
        with self.c.uow_factory(self.tenant_id) as uow:
            accepted = deletions.hard_delete_profile(
                uow, caller=self.caller, uuid=uuid, now=self.clock.now_ms(), hasher=self.c.hasher
            )
            uow.commit()
        return accepted.job_id

    def get(self, uuid: str) -> profiles.ProfileView:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return profiles.get_profile(uow, uuid=uuid)

    def event_count(self, uuid: str) -> int:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            page = events.list_events(
                uow,
                uuid=uuid,
                start=None,
                end=None,
                name=None,
                after=None,
                limit=1000,
            )
        return page.total

    def rows_of(self, profile_id: int) -> dict[str, int]:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return uow.person_rows.count("profile", profile_id)


@pytest.fixture
def people(container: Container, caller: Caller, clock: FakeClock) -> Person:
    return Person(container, caller, clock)


def test_soft_deleted_profile_is_hidden_and_its_events_refused(people: Person) -> None:
    uuid = uid()
    people.create(uuid, email="a@example.com")
    people.event(uuid)
    people.soft_delete(uuid)
    with pytest.raises(ProfileNotFound):
        people.get(uuid)
    assert people.event_count(uuid) == 0
    with pytest.raises(ProfileNotFound):
        people.event(uuid)
    with pytest.raises(ProfileNotFound):
        people.soft_delete(uuid)


def test_soft_deleted_user_is_revived_with_history_within_window(
    people: Person, clock: FakeClock
) -> None:
    uuid = uid()
    people.create(uuid, email="a@example.com")
    for _ in range(3):
        people.event(uuid)
    people.soft_delete(uuid)
    clock.advance(WINDOW - 1)
    assert people.create(uuid, firstName="Ada") is True
    view = people.get(uuid)
    assert view.profile.attributes == {"email": "a@example.com", "firstName": "Ada"}
    assert people.event_count(uuid) == 3


def test_update_within_window_also_revives(people: Person, clock: FakeClock) -> None:
    uuid = uid()
    people.create(uuid, email="a@example.com")
    people.event(uuid)
    people.soft_delete(uuid)
    clock.advance(60)
    people.update(uuid, lastName="L")
    assert people.get(uuid).profile.attributes["lastName"] == "L"
    assert people.event_count(uuid) == 1


def test_after_window_a_create_starts_a_new_profile_without_history(
    people: Person, clock: FakeClock, clocked_worker: Worker
) -> None:
    uuid = uid()
    people.create(uuid)
    old_id = people.get(uuid).profile.profile_id
    people.event(uuid)
    people.soft_delete(uuid)
    clock.advance(WINDOW)
    assert people.create(uuid) is False
    fresh = people.get(uuid)
    assert fresh.profile.profile_id != old_id
    assert people.event_count(uuid) == 0
    clocked_worker.drain()
    assert people.rows_of(old_id) == NO_ROWS


def test_update_after_window_is_not_found(people: Person, clock: FakeClock) -> None:
    uuid = uid()
    people.create(uuid)
    people.soft_delete(uuid)
    clock.advance(WINDOW + 1)
    with pytest.raises(ProfileNotFound):
        people.update(uuid, firstName="x")


def test_expired_soft_deletes_are_purged_by_the_sweep_with_a_receipt(
    people: Person, clock: FakeClock, clocked_worker: Worker, container: Container
) -> None:
    uuid = uid()
    people.create(uuid)
    profile_id = people.get(uuid).profile.profile_id
    for _ in range(20):
        people.event(uuid)
    people.soft_delete(uuid)
    assert clocked_worker.sweep_expired() == 0
    clock.advance(WINDOW)
    assert clocked_worker.sweep_expired() >= 1
    clocked_worker.drain()
    assert people.rows_of(profile_id) == NO_ROWS
    with container.uow_factory(people.tenant_id, write=False) as uow:
        receipts = uow.receipts.all_in_order()
    assert [r["reason"] for r in receipts] == ["revival_window_ended"]
    assert receipts[0]["counts"] == {
        "aliases": 0,
        "keys": 1,
        "tags": 0,
        "devices": 0,
        "events": 20,
        "identifiers": 1,
        "merges": 0,
        "profiles": 1,
    }
    assert receipts[0]["surface"] == "gainsight"
    assert uuid not in str(receipts[0])


def test_hard_delete_hides_at_once_and_a_create_starts_fresh(
    people: Person, clocked_worker: Worker, container: Container
) -> None:
    uuid = uid()
    people.create(uuid)
    old_id = people.get(uuid).profile.profile_id
    for _ in range(15):
        people.event(uuid)
    job_id = people.hard_delete(uuid)
    assert job_id is not None
    with pytest.raises(ProfileNotFound):
        people.get(uuid)
    assert people.create(uuid) is False
    assert people.get(uuid).profile.profile_id != old_id
    assert people.event_count(uuid) == 0
    clocked_worker.drain()
    assert people.rows_of(old_id) == NO_ROWS
    with container.engine.connect() as conn:
        state = conn.execute(
            select(t.jobs.c.state, t.jobs.c.result).where(t.jobs.c.job_id == job_id)
        ).one()
    assert state.state == "completed"
    assert state.result["counts"] == {
        "aliases": 0,
        "keys": 1,
        "tags": 0,
        "devices": 0,
        "events": 15,
        "identifiers": 1,
        "merges": 0,
        "profiles": 1,
    }


def test_hard_delete_of_a_soft_deleted_profile_prevents_revival(
    people: Person, clock: FakeClock
) -> None:
    uuid = uid()
    people.create(uuid)
    people.event(uuid)
    people.soft_delete(uuid)
    people.hard_delete(uuid)
    clock.advance(1)
    assert people.create(uuid) is False
    assert people.event_count(uuid) == 0
    with pytest.raises(ProfileNotFound):
        people.hard_delete(uid())


def test_creating_an_active_profile_twice_is_a_duplicate(people: Person) -> None:
    uuid = uid()
    people.create(uuid)
    with pytest.raises(DuplicateProfile):
        people.create(uuid)


def test_receipts_form_an_unbroken_chain_per_tenant(
    people: Person, clocked_worker: Worker, container: Container
) -> None:
    for _ in range(4):
        uuid = uid()
        people.create(uuid)
        people.event(uuid)
        people.hard_delete(uuid)
    clocked_worker.drain()
    with container.uow_factory(people.tenant_id, write=False) as uow:
        receipts = uow.receipts.all_in_order()
    assert len(receipts) == 4
    assert first_broken_receipt(receipts) is None


def test_a_tenant_cannot_see_or_delete_another_tenants_profile(
    people: Person, container: Container, other_tenant: dict[str, Any], clock: FakeClock
) -> None:
    uuid = uid()
    people.create(uuid)
    theirs = sign_in(container, other_tenant, "gainsight", revival_window=WINDOW)
    intruder = Person(container, theirs, clock)
    with pytest.raises(ProfileNotFound):
        intruder.get(uuid)
    with pytest.raises(ProfileNotFound):
        intruder.hard_delete(uuid)
    with pytest.raises(ProfileNotFound):
        intruder.soft_delete(uuid)
    intruder.create(uuid)  # the same uuid is a different person in another tenant
    assert people.get(uuid).profile.profile_id != intruder.get(uuid).profile.profile_id
    with container.engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(t.identifiers)
            .where(t.identifiers.c.value_hash == container.vault.lookup_hash("uuid", uuid))
        ).scalar_one()
    assert count == 2
