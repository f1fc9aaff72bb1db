"""Identifiers and deletion at the service layer, as the Insider surface drives them.

Identifier deletion keeps at least one identifier; an identifier changes only to a value no one
else holds; a hard delete hides a person at once and its purge leaves no row; attribute deletion
removes only what it names, also while other writers race it. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from obliviate.domain.errors import (
    IdentifierInUse,
    IdentifierUnchanged,
    ProfileNotFound,
    SoleIdentifier,
)
from obliviate.domain.identifiers import Identifier
from obliviate.domain.profiles import Profile
from obliviate.jobs.worker import Worker
from obliviate.services import identity
from obliviate.services.identity import PersonInput
from tests.factories import uid
from tests.integration.identity.support import (  # noqa: F401
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
        # Its own key, the merged profile's and the device's: destroyed as the delete began.
        "keys": 3,
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
