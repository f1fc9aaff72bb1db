"""Identity resolution at the service layer (SPEC §1 Identifiers, §2, §3.3; issue 4).

Upsert finds a person by any identifier, creates one when none matches, merges the profiles that
several identifiers point at into the oldest active one, and revives a soft-deleted profile
within its window. Identifier deletion keeps at least one identifier. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from obliviate.bootstrap import Container
from obliviate.domain.errors import (
    IdentifierInUse,
    IdentifierUnchanged,
    ProfileNotFound,
    SoleIdentifier,
)
from obliviate.domain.events import NewEvent
from obliviate.domain.identifiers import Identifier, identifier
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.domain.tenants import Caller
from obliviate.jobs.worker import Worker, WorkerConfig
from obliviate.services import deletions, devices, identity
from obliviate.services.devices import DeviceChange
from obliviate.services.identity import PersonInput, UpsertOutcome
from obliviate.services.tenants import Authenticator
from obliviate.storage import tables as t
from obliviate.storage.deletion_targets import PROFILE_TARGETS
from tests.conftest import FakeClock
from tests.factories import uid

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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def caller(container: Container, tenant: dict[str, Any]) -> Caller:
    auth = Authenticator(container.engine, default_revival_window=WINDOW)
    creds = tenant["insider"]
    return auth.insider(creds["partner_name"], creds["request_token"])


@pytest.fixture
def clocked_worker(container: Container, clock: FakeClock) -> Worker:
    config = WorkerConfig(
        poll_interval=0.01,
        purge_interval=0.0,
        lease_ms=60_000,
        max_attempts=3,
        backoff_base=0.0,
        backoff_max=0.0,
        purge_batch_size=7,
    )
    return Worker(
        engine=container.engine,
        uow_factory=container.uow_factory,
        hasher=container.hasher,
        clock=clock,
        config=config,
    )


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
            return identity.find_person(uow, tenant=self.tenant, identifiers=idents)

    def delete_identifier(self, ident: Identifier) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            identity.delete_identifier(
                uow, tenant=self.tenant, ident=ident, now=self.clock.now_ms()
            )
            uow.commit()

    def change_identifier(self, old: Identifier, new: Identifier) -> None:
        with self.c.uow_factory(self.tenant_id) as uow:
            identity.change_identifier(
                uow, tenant=self.tenant, old=old, new=new, now=self.clock.now_ms()
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
                tenant=self.tenant,
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
                tenant=self.tenant,
                registration_id=registration_id,
                change=DeviceChange(add=tags),
                now=now,
                hasher=self.c.hasher,
            )
            devices.set_owner(
                uow, tenant=self.tenant, uuid=uuid_value, registration_id=registration_id, now=now
            )
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
        with self.c.engine.connect() as conn:
            rows = conn.execute(
                select(t.devices.c.registration_id)
                .where(
                    t.devices.c.tenant_id == self.tenant_id, t.devices.c.profile_id == profile_id
                )
                .order_by(t.devices.c.registration_id)
            )
            return [r.registration_id for r in rows]

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


@pytest.fixture
def store(container: Container, caller: Caller, clock: FakeClock) -> Store:
    return Store(container, caller, clock)


# --- create and add-to ------------------------------------------------------------------------


def test_upsert_with_unknown_identifiers_creates_one_profile_holding_all_of_them(
    store: Store, clock: FakeClock
) -> None:
    idents = (email("Ada@Example.com"), phone("+6598765432"), custom("loyalty", "xyz123"))
    outcome = store.upsert(
        *idents,
        attributes={"name": "Ada", "custom": {"tier": "gold"}},
        events=[event("login", clock.now_ms())],
    )
    assert outcome.created is True
    assert outcome.revived is False
    assert outcome.merged == ()
    assert store.identifiers_of(outcome.profile_id) == [
        ("custom.loyalty", "xyz123"),
        ("email", "ada@example.com"),
        ("phone_number", "+6598765432"),
    ]
    profile = store.find(email("ada@example.com"))
    assert profile.profile_id == outcome.profile_id
    assert profile.state is ProfileState.ACTIVE
    assert profile.attributes == {"name": "Ada", "custom": {"tier": "gold"}}
    assert store.event_names(outcome.profile_id) == ["login"]


def test_each_identifier_alone_finds_the_created_profile(store: Store) -> None:
    idents = (uuid(uid()), email(f"{uid()}@example.com"), custom("crm", uid()))
    created = store.upsert(*idents)
    for ident in idents:
        assert store.find(ident).profile_id == created.profile_id


def test_a_new_identifier_sent_with_a_known_one_joins_the_existing_profile(
    store: Store, clock: FakeClock
) -> None:
    known = email(f"{uid()}@example.com")
    first = store.upsert(
        known,
        attributes={"name": "Ada", "custom": {"tier": "gold", "seats": 3}},
        events=[event("login", clock.now_ms())],
    )
    clock.advance(60)
    added = (phone("+441234567890"), custom("loyalty", "abc"))
    second = store.upsert(
        *added,
        known,
        attributes={"surname": "Lovelace", "custom": {"tier": "platinum"}},
        events=[event("purchase", clock.now_ms(), amount=3)],
    )
    assert second.profile_id == first.profile_id
    assert (second.created, second.revived, second.merged) == (False, False, ())
    assert store.identifiers_of(first.profile_id) == pairs(known, *added)
    assert store.find(phone("+441234567890")).attributes == {
        "name": "Ada",
        "surname": "Lovelace",
        "custom": {"tier": "platinum", "seats": 3},
    }
    assert store.event_names(first.profile_id) == ["login", "purchase"]
    assert store.merges() == []


def test_identifiers_resolve_only_within_their_own_tenant(
    store: Store, container: Container, clock: FakeClock, other_tenant: dict[str, Any]
) -> None:
    shared = email(f"{uid()}@example.com")
    mine = store.upsert(shared, attributes={"name": "mine"})
    auth = Authenticator(container.engine, default_revival_window=WINDOW)
    creds = other_tenant["insider"]
    theirs = Store(container, auth.insider(creds["partner_name"], creds["request_token"]), clock)
    outcome = theirs.upsert(shared, attributes={"name": "theirs"})
    assert outcome.created is True
    assert outcome.profile_id != mine.profile_id
    assert store.find(shared).attributes == {"name": "mine"}
    assert theirs.find(shared).attributes == {"name": "theirs"}


def test_an_upsert_with_ten_thousand_events_stores_every_one(
    store: Store, clock: FakeClock
) -> None:
    # Nothing caps the events of one Insider user but the 5 MB body (about 80,000 of these);
    # every row of one request is written at the same ``now``.
    start = clock.now_ms()
    created = store.upsert(
        email(f"{uid()}@example.com"), events=[event("view", start - k) for k in range(10_000)]
    )
    assert store.rows_of(created.profile_id)["events"] == 10_000


# --- merges -----------------------------------------------------------------------------------


def test_two_profiles_named_by_one_upsert_merge_into_the_oldest(
    store: Store, clock: FakeClock
) -> None:
    old_uuid, young_uuid = uid(), uid()
    old_email, young_phone = email(f"{uid()}@example.com"), phone("+15551234567")
    old = store.upsert(
        uuid(old_uuid),
        old_email,
        attributes={"name": "Old", "custom": {"tier": "gold"}},
        events=[event("old-1", clock.now_ms())],
    )
    store.own_device(old_uuid, "rid-old", ["news"])
    clock.advance(10)
    young = store.upsert(
        uuid(young_uuid),
        young_phone,
        attributes={"name": "Young", "surname": "Y", "custom": {"tier": "bronze", "seats": 2}},
        events=[event("young-1", clock.now_ms()), event("young-2", clock.now_ms() + 1)],
    )
    store.own_device(young_uuid, "rid-young", ["sale", "vip"])
    clock.advance(10)

    # The younger profile's identifier comes first: the survivor is chosen by age, not order.
    merged = store.upsert(
        young_phone,
        old_email,
        attributes={"email_optin": True},
        events=[event("after-merge", clock.now_ms())],
    )

    assert merged.profile_id == old.profile_id
    assert (merged.created, merged.revived, merged.merged) == (False, False, (young.profile_id,))
    assert store.identifiers_of(old.profile_id) == pairs(
        uuid(old_uuid), old_email, uuid(young_uuid), young_phone
    )
    survivor = store.find(young_phone)
    assert survivor.profile_id == old.profile_id
    # The survivor's values win; the merged profile fills what it lacks; the upsert goes on top.
    assert survivor.attributes == {
        "name": "Old",
        "surname": "Y",
        "custom": {"tier": "gold", "seats": 2},
        "email_optin": True,
    }
    assert sorted(store.event_names(old.profile_id)) == [
        "after-merge",
        "old-1",
        "young-1",
        "young-2",
    ]
    assert store.owned_devices(old.profile_id) == ["rid-old", "rid-young"]
    assert store.rows_of(young.profile_id) == NO_ROWS
    assert store.merges() == [
        (
            old.profile_id,
            young.profile_id,
            {"identifiers": 2, "events": 2, "devices": 1, "merges": 0},
        )
    ]


def test_three_profiles_merge_into_the_oldest_with_one_merge_record_each(
    store: Store, clock: FakeClock
) -> None:
    idents = [email(f"{uid()}@example.com"), phone("+4915112345678"), custom("crm", uid())]
    created = []
    for n, ident in enumerate(idents):
        created.append(
            store.upsert(
                ident,
                attributes={f"from_{n}": n, "name": f"p{n}"},
                events=[event(f"e{n}", clock.now_ms() + k) for k in range(n + 1)],
            )
        )
        clock.advance(5)
    oldest, middle, youngest = (c.profile_id for c in created)

    outcome = store.upsert(*reversed(idents))

    assert outcome.profile_id == oldest
    assert sorted(outcome.merged) == sorted([middle, youngest])
    assert store.identifiers_of(oldest) == pairs(*idents)
    assert store.find(idents[2]).attributes == {
        "name": "p0",
        "from_0": 0,
        "from_1": 1,
        "from_2": 2,
    }
    assert sorted(store.event_names(oldest)) == ["e0", "e1", "e1", "e2", "e2", "e2"]
    for gone in (middle, youngest):
        assert store.rows_of(gone) == NO_ROWS
    assert sorted((s, m) for s, m, _ in store.merges()) == sorted(
        [(oldest, middle), (oldest, youngest)]
    )
    assert store.rows_of(oldest)["merges"] == 2


def test_merge_records_follow_the_survivor_of_a_later_merge_and_are_purged_with_it(
    store: Store, clock: FakeClock, clocked_worker: Worker
) -> None:
    first, second, third = email(f"{uid()}@example.com"), phone("+33612345678"), custom("k", "v")
    oldest = store.upsert(first).profile_id
    clock.advance(1)
    middle = store.upsert(second).profile_id
    clock.advance(1)
    youngest = store.upsert(third).profile_id
    clock.advance(1)
    assert store.upsert(second, third).merged == (youngest,)
    clock.advance(1)
    assert store.upsert(first, second).merged == (middle,)

    assert [(s, m) for s, m, _ in store.merges()] == [(oldest, youngest), (oldest, middle)]
    assert store.rows_of(middle) == NO_ROWS
    store.hard_delete(third)
    clocked_worker.drain()
    assert store.rows_of(oldest) == NO_ROWS
    assert store.merges() == []


# --- revival and soft-deleted profiles ---------------------------------------------------------


def test_soft_deleted_profile_is_revived_with_its_events_by_an_upsert_within_the_window(
    store: Store, clock: FakeClock
) -> None:
    person_uuid, person_email = uid(), email(f"{uid()}@example.com")
    created = store.upsert(
        uuid(person_uuid),
        person_email,
        attributes={"name": "Ada"},
        events=[event("a", clock.now_ms()), event("b", clock.now_ms() + 1)],
    )
    store.soft_delete(person_uuid)
    with pytest.raises(ProfileNotFound):
        store.find(person_email)
    assert store.event_names(created.profile_id) == []

    clock.advance(WINDOW - 1)
    outcome = store.upsert(person_email, attributes={"surname": "Lovelace"})

    assert outcome.profile_id == created.profile_id
    assert (outcome.created, outcome.revived, outcome.merged) == (False, True, ())
    revived = store.find(uuid(person_uuid))
    assert revived.state is ProfileState.ACTIVE
    assert revived.revivable_until is None
    assert revived.attributes == {"name": "Ada", "surname": "Lovelace"}
    assert store.event_names(created.profile_id) == ["a", "b"]
    assert store.identifiers_of(created.profile_id) == pairs(uuid(person_uuid), person_email)


def test_active_profile_absorbs_the_history_of_a_soft_deleted_one_within_the_window(
    store: Store, clock: FakeClock
) -> None:
    hidden_uuid = uid()
    hidden = store.upsert(
        uuid(hidden_uuid),
        attributes={"name": "Hidden", "city": "Paris"},
        events=[event("hidden-1", clock.now_ms()), event("hidden-2", clock.now_ms() + 1)],
    )
    store.own_device(hidden_uuid, "rid-hidden", ["news"])
    clock.advance(10)
    active_email = email(f"{uid()}@example.com")
    active = store.upsert(
        active_email, attributes={"name": "Active"}, events=[event("active-1", clock.now_ms())]
    )
    clock.advance(10)
    store.soft_delete(hidden_uuid)
    clock.advance(60)

    # The soft-deleted profile is older, but an active profile beats a hidden one.
    outcome = store.upsert(uuid(hidden_uuid), active_email)

    assert outcome.profile_id == active.profile_id
    assert (outcome.created, outcome.revived, outcome.merged) == (
        False,
        False,
        (hidden.profile_id,),
    )
    assert store.find(uuid(hidden_uuid)).profile_id == active.profile_id
    assert store.find(active_email).attributes == {"name": "Active", "city": "Paris"}
    assert sorted(store.event_names(active.profile_id)) == ["active-1", "hidden-1", "hidden-2"]
    assert store.owned_devices(active.profile_id) == ["rid-hidden"]
    assert store.rows_of(hidden.profile_id) == NO_ROWS
    assert [(s, m) for s, m, _ in store.merges()] == [(active.profile_id, hidden.profile_id)]


def test_two_soft_deleted_profiles_merge_into_the_oldest_which_is_revived(
    store: Store, clock: FakeClock
) -> None:
    old_uuid, young_uuid = uid(), uid()
    old = store.upsert(uuid(old_uuid), events=[event("old", clock.now_ms())])
    clock.advance(1)
    young = store.upsert(uuid(young_uuid), events=[event("young", clock.now_ms())])
    store.soft_delete(old_uuid)
    store.soft_delete(young_uuid)
    clock.advance(60)

    outcome = store.upsert(uuid(young_uuid), uuid(old_uuid))

    assert outcome.profile_id == old.profile_id
    assert (outcome.created, outcome.revived, outcome.merged) == (False, True, (young.profile_id,))
    assert store.find(uuid(young_uuid)).state is ProfileState.ACTIVE
    assert sorted(store.event_names(old.profile_id)) == ["old", "young"]


def test_expired_soft_deleted_profile_is_purged_not_revived_and_a_fresh_profile_is_made(
    store: Store, clock: FakeClock, clocked_worker: Worker
) -> None:
    person_uuid, person_email = uid(), email(f"{uid()}@example.com")
    expired = store.upsert(
        uuid(person_uuid),
        person_email,
        attributes={"name": "Gone"},
        events=[event("old", clock.now_ms())],
    )
    store.soft_delete(person_uuid)
    clock.advance(WINDOW)

    outcome = store.upsert(person_email, attributes={"name": "New"})

    assert outcome.created is True
    assert outcome.revived is False
    assert outcome.merged == ()
    assert outcome.profile_id != expired.profile_id
    fresh = store.find(person_email)
    assert fresh.profile_id == outcome.profile_id
    assert fresh.attributes == {"name": "New"}
    assert store.event_names(fresh.profile_id) == []
    assert store.identifiers_of(fresh.profile_id) == pairs(person_email)
    with pytest.raises(ProfileNotFound):
        store.find(uuid(person_uuid))
    clocked_worker.drain()
    assert store.rows_of(expired.profile_id) == NO_ROWS
    receipts = store.receipts()
    assert [r["reason"] for r in receipts] == ["revival_window_ended"]
    assert receipts[0]["counts"]["events"] == 1
    assert receipts[0]["counts"]["identifiers"] == 2
    assert receipts[0]["counts"]["profiles"] == 1
    assert store.merges() == []


def test_expired_soft_deleted_profile_is_not_merged_into_an_active_one(
    store: Store, clock: FakeClock, clocked_worker: Worker
) -> None:
    expired_uuid, expired_email = uid(), email(f"{uid()}@example.com")
    expired = store.upsert(
        uuid(expired_uuid), expired_email, events=[event("expired", clock.now_ms())]
    )
    store.soft_delete(expired_uuid)
    active_phone = phone("+6591234567")
    active = store.upsert(active_phone, events=[event("active", clock.now_ms())])
    clock.advance(WINDOW + 1)

    outcome = store.upsert(expired_email, active_phone)

    assert outcome.profile_id == active.profile_id
    assert (outcome.created, outcome.revived, outcome.merged) == (False, False, ())
    assert store.identifiers_of(active.profile_id) == pairs(expired_email, active_phone)
    assert store.event_names(active.profile_id) == ["active"]
    with pytest.raises(ProfileNotFound):
        store.find(uuid(expired_uuid))
    clocked_worker.drain()
    assert store.rows_of(expired.profile_id) == NO_ROWS
    assert store.merges() == []


# --- identifier deletion: the sole-identifier rule ----------------------------------------------


def test_the_sole_identifier_of_a_profile_cannot_be_deleted(store: Store) -> None:
    only = custom("loyalty", uid())
    created = store.upsert(only)
    with pytest.raises(SoleIdentifier):
        store.delete_identifier(only)
    assert store.find(only).profile_id == created.profile_id
    assert store.identifiers_of(created.profile_id) == pairs(only)


def test_after_merging_two_single_identifier_profiles_one_may_go_but_not_the_last(
    store: Store, clock: FakeClock
) -> None:
    first, second = email(f"{uid()}@example.com"), phone("+6598765432")
    survivor = store.upsert(first).profile_id
    clock.advance(1)
    store.upsert(second)
    clock.advance(1)
    assert len(store.upsert(first, second).merged) == 1

    store.delete_identifier(first)

    with pytest.raises(ProfileNotFound):
        store.find(first)
    assert store.find(second).profile_id == survivor
    with pytest.raises(SoleIdentifier):
        store.delete_identifier(second)
    assert store.identifiers_of(survivor) == pairs(second)


def test_deleting_an_identifier_removes_only_that_value(store: Store) -> None:
    person_uuid, person_email = uuid(uid()), email(f"{uid()}@example.com")
    loyalty = custom("loyalty", "xyz123")
    created = store.upsert(person_uuid, person_email, loyalty)
    store.delete_identifier(loyalty)
    assert store.identifiers_of(created.profile_id) == pairs(person_uuid, person_email)
    with pytest.raises(ProfileNotFound):
        store.find(loyalty)
    # The value is free again: sent alone it starts a new profile.
    assert store.upsert(loyalty).created is True


def test_deleting_an_unknown_or_hidden_identifier_is_not_found(store: Store) -> None:
    with pytest.raises(ProfileNotFound):
        store.delete_identifier(email("nobody@example.com"))
    hidden_uuid, hidden_email = uid(), email(f"{uid()}@example.com")
    store.upsert(uuid(hidden_uuid), hidden_email)
    store.soft_delete(hidden_uuid)
    with pytest.raises(ProfileNotFound):
        store.delete_identifier(hidden_email)


# --- identifier change ---------------------------------------------------------------------------


def test_changing_an_identifier_to_the_same_value_is_refused_as_unchanged(store: Store) -> None:
    person_email = email(f"{uid()}@example.com")
    store.upsert(person_email, phone("+6598765432"))
    with pytest.raises(IdentifierUnchanged):
        store.change_identifier(person_email, email(person_email.value.upper()))


def test_changing_an_identifier_to_one_another_profile_holds_is_refused(store: Store) -> None:
    mine, theirs = email(f"{uid()}@example.com"), email(f"{uid()}@example.com")
    me = store.upsert(mine).profile_id
    them = store.upsert(theirs).profile_id
    with pytest.raises(IdentifierInUse):
        store.change_identifier(mine, theirs)
    assert store.identifiers_of(me) == pairs(mine)
    assert store.identifiers_of(them) == pairs(theirs)


def test_changing_an_identifier_moves_the_profile_to_the_new_value(
    store: Store, clock: FakeClock
) -> None:
    old, new = email(f"{uid()}@example.com"), email(f"{uid()}@example.com")
    created = store.upsert(old, events=[event("kept", clock.now_ms())])
    store.change_identifier(old, new)
    assert store.find(new).profile_id == created.profile_id
    with pytest.raises(ProfileNotFound):
        store.find(old)
    assert store.identifiers_of(created.profile_id) == pairs(new)
    assert store.event_names(created.profile_id) == ["kept"]


def test_changing_an_unknown_identifier_is_not_found(store: Store) -> None:
    with pytest.raises(ProfileNotFound):
        store.change_identifier(email("nobody@example.com"), email("somebody@example.com"))


# --- hard delete and attribute delete -----------------------------------------------------------


def test_hard_delete_hides_at_once_and_the_purge_leaves_no_row_in_any_target(
    store: Store, clock: FakeClock, clocked_worker: Worker
) -> None:
    person_uuid, person_email = uid(), email(f"{uid()}@example.com")
    other = phone("+6598765432")
    doomed = store.upsert(
        uuid(person_uuid),
        person_email,
        events=[event("e", clock.now_ms() + k) for k in range(12)],
    ).profile_id
    store.own_device(person_uuid, "rid-doomed", ["news", "sale"])
    clock.advance(1)
    store.upsert(other, events=[event("other", clock.now_ms())])
    clock.advance(1)
    store.upsert(person_email, other)  # one merge record, so every target holds a row
    assert all(n > 0 for n in store.rows_of(doomed).values()), store.rows_of(doomed)

    jobs = store.hard_delete(person_email)

    assert len(jobs) == 1
    for ident in (uuid(person_uuid), person_email, other):
        with pytest.raises(ProfileNotFound):
            store.find(ident)
    clocked_worker.drain()
    assert store.rows_of(doomed) == NO_ROWS
    receipts = store.receipts()
    assert len(receipts) == 1
    receipt = receipts[0]
    assert receipt["reason"] == "hard_delete"
    assert receipt["surface"] == "insider"
    assert receipt["counts"] == {
        "aliases": 0,
        "tags": 2,
        "devices": 1,
        "events": 13,
        "identifiers": 3,
        "merges": 1,
        "profiles": 1,
    }
    assert person_uuid not in str(receipt)
    assert person_email.value not in str(receipt)


def test_after_a_hard_delete_an_upsert_makes_a_new_profile_without_history(
    store: Store, clock: FakeClock
) -> None:
    person_email = email(f"{uid()}@example.com")
    old = store.upsert(person_email, attributes={"name": "Old"}, events=[event("e", 1)])
    store.hard_delete(person_email)
    with pytest.raises(ProfileNotFound):
        store.hard_delete(person_email)
    clock.advance(1)
    fresh = store.upsert(person_email)
    assert fresh.created is True
    assert fresh.profile_id != old.profile_id
    assert store.find(person_email).attributes == {}
    assert store.event_names(fresh.profile_id) == []


def test_hard_delete_of_unknown_identifiers_is_not_found(store: Store) -> None:
    with pytest.raises(ProfileNotFound):
        store.hard_delete(email("nobody@example.com"), phone("+6598765432"))


def test_attribute_delete_removes_whole_and_custom_names_and_keeps_the_rest(
    store: Store,
) -> None:
    person = email(f"{uid()}@example.com")
    store.upsert(
        person,
        attributes={
            "name": "Ada",
            "surname": "Lovelace",
            "age": 36,
            "custom": {"tier": "gold", "seats": 3, "name": "kept"},
        },
    )
    store.delete_attributes(person, names=["surname", "age", "absent"], custom_names=["tier"])
    assert store.find(person).attributes == {
        "name": "Ada",
        "custom": {"seats": 3, "name": "kept"},
    }


def test_attribute_delete_of_an_unknown_person_is_not_found(store: Store) -> None:
    with pytest.raises(ProfileNotFound):
        store.delete_attributes(email("nobody@example.com"), names=["name"], custom_names=[])


# --- writers racing each other (PostgreSQL runs them truly at once) -----------------------------


class Racer:
    """Another writer, started from inside a transaction of the test and given a second to
    finish: it does unless that transaction holds what it needs, as a writer must (on SQLite
    the in-process writer lock makes it wait; on PostgreSQL only a row lock does)."""

    def __init__(self, action: Callable[[], object]) -> None:
        self._action = action
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self._action()
        except BaseException as exc:  # reported by finish(), not lost in the thread
            self._errors.append(exc)

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def start_and_wait(self) -> None:
        self._thread.start()
        self._thread.join(timeout=1.0)

    def finish(self) -> None:
        if self.started:
            self._thread.join()
        assert self._errors == []


def delete_age_while(
    store: Store, monkeypatch: pytest.MonkeyPatch, person: Identifier, racer: Racer
) -> None:
    """Delete the ``age`` attribute; ``racer`` runs between the delete's read and its write."""
    try:
        with store.c.uow_factory(store.tenant_id) as uow:
            save = uow.profiles.save

            def save_after_the_racer(profile: Profile) -> None:
                racer.start_and_wait()
                save(profile)

            monkeypatch.setattr(uow.profiles, "save", save_after_the_racer)
            identity.delete_attributes(
                uow,
                tenant=store.tenant,
                identifiers=[person],
                names=["age"],
                custom_names=[],
                now=store.clock.now_ms(),
            )
            uow.commit()
    finally:
        racer.finish()


def test_attribute_delete_racing_a_soft_delete_does_not_bring_the_profile_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    person_uuid = uid()
    store.upsert(uuid(person_uuid), attributes={"name": "Ada", "age": 36})
    racer = Racer(lambda: store.soft_delete(person_uuid))
    delete_age_while(store, monkeypatch, uuid(person_uuid), racer)
    # Either order is fine, but the soft delete that was acknowledged must hold.
    with pytest.raises(ProfileNotFound):
        store.find(uuid(person_uuid))


def test_attribute_delete_racing_an_upsert_keeps_what_the_upsert_wrote(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = email(f"{uid()}@example.com")
    store.upsert(person, attributes={"name": "Ada", "age": 36})
    racer = Racer(lambda: store.upsert(person, attributes={"city": "London"}))
    delete_age_while(store, monkeypatch, person, racer)
    assert store.find(person).attributes == {"name": "Ada", "city": "London"}


def test_concurrent_upserts_naming_two_profiles_in_opposite_orders_both_succeed(
    store: Store, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    first, second = email(f"{uid()}@example.com"), phone("+6598765432")
    survivor = store.upsert(first).profile_id
    clock.advance(1)
    store.upsert(second)
    clock.advance(1)
    racer = Racer(lambda: store.upsert(second, first))
    try:
        with store.c.uow_factory(store.tenant_id) as uow:
            find = uow.profiles.find_by_identifier

            def find_then_let_the_racer_in(
                id_type: str, value: str, *, for_update: bool = False
            ) -> Profile | None:
                found = find(id_type, value, for_update=for_update)
                if not racer.started:
                    # Between this upsert's first look-up and its second, the other one starts.
                    racer.start_and_wait()
                return found

            monkeypatch.setattr(uow.profiles, "find_by_identifier", find_then_let_the_racer_in)
            person = PersonInput(identifiers=[first, second])
            identity.upsert_person(
                uow, tenant=store.tenant, person=person, now=clock.now_ms(), hasher=store.c.hasher
            )
            uow.commit()
    finally:
        racer.finish()
    assert store.find(second).profile_id == survivor
    assert store.identifiers_of(survivor) == pairs(first, second)
