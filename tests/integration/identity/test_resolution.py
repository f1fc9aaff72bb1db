"""Identity resolution at the service layer, as the Insider surface drives it.

Upsert finds a person by any identifier, creates one when none matches, merges the profiles that
several identifiers point at into the oldest active one, and revives a soft-deleted profile
within its window. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from obliviate.bootstrap import Container
from obliviate.domain.errors import (
    ProfileNotFound,
)
from obliviate.domain.profiles import ProfileState
from obliviate.jobs.worker import Worker
from tests.factories import uid
from tests.integration.identity.support import (
    NO_ROWS,
    WINDOW,
    Store,
    custom,
    email,
    event,
    pairs,
    phone,
    uuid,
)
from tests.support.clock import FakeClock
from tests.support.tenants import sign_in


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
    theirs = Store(
        container, sign_in(container, other_tenant, "insider", revival_window=WINDOW), clock
    )
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
