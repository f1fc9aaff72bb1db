"""Replaying forget-log entries onto a database that predates them, on SQLite and PostgreSQL.

The entries are written here as the log holds them (ids, lookup hashes, suppression hashes),
so these tests pin the replay whatever the services record; the round trip through the
services, the log and a real backup is in tests/system/test_backup_restore.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from obliviate.bootstrap import Container
from obliviate.domain.errors import ProfileNotFound, Suppressed
from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.domain.identifiers import Identifier
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.domain.tenants import Caller
from obliviate.jobs.worker import Worker
from obliviate.services import devices, identity, profiles, suppression
from obliviate.services.forgetting import ReplaySummary, replay
from obliviate.storage import tables as t
from tests.factories import uid
from tests.support.clock import FakeClock
from tests.support.tenants import Tenant, sign_in

WINDOW = 3600.0
HOUR_MS = 3_600_000


@pytest.fixture
def caller(container: Container, tenant: Tenant) -> Caller:
    return sign_in(container, tenant, "gainsight", revival_window=WINDOW)


class Db:
    """The database a backup restored: people made through the services, entries replayed."""

    def __init__(self, container: Container, caller: Caller, clock: FakeClock) -> None:
        self.c, self.tenant, self.clock = container, caller.tenant, clock
        self.tenant_id = caller.tenant.tenant_id

    def person(
        self, email: str | None = None, attributes: dict[str, Any] | None = None
    ) -> tuple[str, int]:
        """A person with a uuid and, given ``email``, an email identifier: (uuid, profile id)."""
        uuid = uid()
        idents = [Identifier("uuid", uuid)]
        if email is not None:
            idents.append(Identifier("email", email))
        with self.c.uow_factory(self.tenant_id) as uow:
            done = identity.upsert_person(
                uow,
                tenant=self.tenant,
                person=identity.PersonInput(idents, attributes or {}),
                now=self.clock.now_ms(),
                hasher=self.c.hasher,
            )
            uow.commit()
        return uuid, done.profile_id

    def device(self, registration_id: str, owner: str | None = None) -> int:
        with self.c.uow_factory(self.tenant_id) as uow:
            device, _ = devices.put_device(
                uow,
                registration_id=registration_id,
                platform="android",
                timezone="Europe/Paris",
                info={"model": "x"},
                now=self.clock.now_ms(),
                hasher=self.c.hasher,
            )
            if owner is not None:
                devices.set_owner(
                    uow,
                    uuid=owner,
                    registration_id=registration_id,
                    now=self.clock.now_ms(),
                )
            uow.commit()
        return device.device_id

    def profile(self, profile_id: int) -> Profile | None:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return uow.profiles.get(profile_id)

    def lookup_hash(self, id_type: str, value: str) -> str:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return uow.profiles.lookup_hash(id_type, value)

    def visible(self, uuid: str) -> bool:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            try:
                profiles.get_profile(uow, uuid=uuid)
            except ProfileNotFound:
                return False
        return True

    def device_visible(self, registration_id: str) -> bool:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return uow.devices.find_visible(registration_id) is not None

    def suppressed(self, id_type: str, value: str) -> bool:
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            return suppression.is_suppressed(
                uow, ident=Identifier(id_type, value), hasher=self.c.hasher
            )

    def jobs(self) -> int:
        with self.c.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(t.jobs.c.tenant_id == self.tenant_id)
                ).scalar_one()
            )

    def entry(self, kind: ForgetKind, **fields: Any) -> ForgetEntry:
        return ForgetEntry(kind, tenant_id=self.tenant_id, at=self.clock.now_ms(), **fields)

    def replay(self, *entries: ForgetEntry) -> ReplaySummary:
        return replay(self.c.uow_factory, entries, hasher=self.c.hasher, now=self.clock.now_ms())


@pytest.fixture
def db(container: Container, caller: Caller, clock: FakeClock) -> Db:
    return Db(container, caller, clock)


def test_a_hard_delete_entry_purges_the_person_and_their_devices_once(
    db: Db, worker: Worker
) -> None:
    uuid, pid = db.person("gone@example.com")
    kept, _ = db.person("kept@example.com")
    owned = db.device("rid-owned", owner=uuid)
    # As the log has it: the person and the devices they owned.
    entry = db.entry(ForgetKind.HARD_DELETE, profile_ids=(pid,), device_ids=(owned,))

    first = db.replay(entry)
    assert (first.entries, first.profiles_purged, first.unchanged) == (1, 1, 0)
    # The person's purge takes the device: no second purge of it.
    assert (first.devices_purged, db.jobs()) == (0, 1)
    assert not db.visible(uuid)
    assert not db.device_visible("rid-owned")
    assert db.visible(kept)
    jobs = db.jobs()

    second = db.replay(entry)
    assert (second.entries, second.changes, second.unchanged) == (1, 0, 1)
    assert db.jobs() == jobs

    worker.drain()
    assert db.profile(pid) is None
    assert db.visible(kept)


def test_a_hard_delete_entry_also_takes_a_device_the_backup_did_not_yet_show_as_theirs(
    db: Db,
) -> None:
    _uuid, pid = db.person()
    device_id = db.device("rid-unowned-in-backup")
    done = db.replay(db.entry(ForgetKind.HARD_DELETE, profile_ids=(pid,), device_ids=(device_id,)))
    assert (done.profiles_purged, done.devices_purged) == (1, 1)
    assert not db.device_visible("rid-unowned-in-backup")


def test_a_hard_delete_entry_with_suppress_suppresses_what_the_backup_knows_of_them(
    db: Db,
) -> None:
    _uuid, pid = db.person("banned@example.com")
    db.replay(db.entry(ForgetKind.HARD_DELETE, profile_ids=(pid,), suppress=True))
    assert db.suppressed("email", "banned@example.com")
    with pytest.raises(Suppressed):
        db.person("banned@example.com")


def test_a_soft_delete_entry_hides_the_person_until_the_logged_deadline(
    db: Db, clock: FakeClock
) -> None:
    uuid, pid = db.person()
    until = clock.now_ms() + HOUR_MS
    entry = db.entry(ForgetKind.SOFT_DELETE, profile_ids=(pid,), revivable_until=until)
    assert db.replay(entry).profiles_soft_deleted == 1
    profile = db.profile(pid)
    assert profile is not None
    assert (profile.state, profile.revivable_until) == (ProfileState.SOFT_DELETED, until)
    assert not db.visible(uuid)
    assert db.replay(entry).changes == 0


def test_a_soft_delete_whose_window_ended_before_the_restore_is_purged(
    db: Db, clock: FakeClock
) -> None:
    _uuid, pid = db.person()
    entry = db.entry(
        ForgetKind.SOFT_DELETE, profile_ids=(pid,), revivable_until=clock.now_ms() + 1000
    )
    clock.advance(2)
    assert db.replay(entry).profiles_purged == 1
    profile = db.profile(pid)
    assert profile is not None
    assert profile.state is ProfileState.PURGING
    assert db.replay(entry).changes == 0


def test_a_revive_entry_after_a_soft_delete_entry_leaves_the_person_visible(
    db: Db, clock: FakeClock
) -> None:
    uuid, pid = db.person()
    soft = db.entry(
        ForgetKind.SOFT_DELETE, profile_ids=(pid,), revivable_until=clock.now_ms() + HOUR_MS
    )
    clock.advance(1)
    revive = db.entry(ForgetKind.REVIVE, profile_ids=(pid,))
    done = db.replay(soft, revive)
    assert (done.profiles_soft_deleted, done.profiles_revived) == (1, 1)
    assert db.visible(uuid)


def test_a_batch_entry_finds_its_subjects_by_lookup_hash_as_identifier_and_as_attribute(
    db: Db,
) -> None:
    by_identifier, _ = db.person("shared@example.com")
    # A Gainsight user holding the email only as its ``email`` attribute.
    gainsight_user, _ = db.person(attributes={"email": "shared@example.com"})
    bystander, _ = db.person("other@example.com", {"email": "other@example.com"})
    entry = db.entry(
        ForgetKind.SUBJECTS_DELETE,
        hashes=(("email", db.lookup_hash("email", "shared@example.com")),),
        mode="hard",
        suppress=True,
    )
    done = db.replay(entry)
    assert done.profiles_purged == 2
    assert not db.visible(by_identifier)
    assert not db.visible(gainsight_user)
    assert db.visible(bystander)
    assert db.suppressed("email", "shared@example.com")
    assert db.replay(entry).changes == 0


def test_a_batch_entry_leaves_alone_a_person_created_after_it_with_the_same_email(
    db: Db, clock: FakeClock
) -> None:
    # The backup was taken a moment after the batch, and holds the person re-created since.
    entry = db.entry(
        ForgetKind.SUBJECTS_DELETE,
        hashes=(("email", db.lookup_hash("email", "back@example.com")),),
        mode="hard",
    )
    clock.advance(1)
    again, _ = db.person("back@example.com")
    assert db.replay(entry).changes == 0
    assert db.visible(again)


def test_a_soft_batch_entry_hides_its_active_subjects_until_the_logged_deadline(
    db: Db, clock: FakeClock
) -> None:
    uuid, pid = db.person("soft@example.com")
    until = clock.now_ms() + HOUR_MS
    entry = db.entry(
        ForgetKind.SUBJECTS_DELETE,
        hashes=(("email", db.lookup_hash("email", "soft@example.com")),),
        mode="soft",
        revivable_until=until,
    )
    assert db.replay(entry).profiles_soft_deleted == 1
    profile = db.profile(pid)
    assert profile is not None
    assert profile.revivable_until == until
    assert not db.visible(uuid)


def test_a_soft_batch_entry_leaves_the_deadline_of_someone_already_soft_deleted(
    db: Db, clock: FakeClock
) -> None:
    _uuid, pid = db.person("twice@example.com")
    first = clock.now_ms() + HOUR_MS
    db.replay(db.entry(ForgetKind.SOFT_DELETE, profile_ids=(pid,), revivable_until=first))
    batch = db.entry(
        ForgetKind.SUBJECTS_DELETE,
        hashes=(("email", db.lookup_hash("email", "twice@example.com")),),
        mode="soft",
        revivable_until=first + HOUR_MS,
    )
    assert db.replay(batch).changes == 0
    profile = db.profile(pid)
    assert profile is not None
    assert profile.revivable_until == first


def test_suppress_and_unsuppress_entries_replay_in_order(db: Db) -> None:
    first = db.c.hasher("email", "first@example.com")
    second = db.c.hasher("email", "second@example.com")
    done = db.replay(
        db.entry(ForgetKind.SUPPRESS, hashes=(("email", first), ("email", second))),
        db.entry(ForgetKind.UNSUPPRESS, hashes=(("email", second),)),
    )
    assert (done.suppressions_added, done.suppressions_removed) == (2, 1)
    assert db.suppressed("email", "first@example.com")
    assert not db.suppressed("email", "second@example.com")
    with pytest.raises(Suppressed):
        db.person("first@example.com")
    db.person("second@example.com")
    again = db.replay(db.entry(ForgetKind.SUPPRESS, hashes=(("email", first),)))
    assert again.changes == 0


def test_a_device_delete_entry_hides_the_device_and_enqueues_its_purge(
    db: Db, worker: Worker
) -> None:
    device_id = db.device("rid-gone")
    db.device("rid-kept")
    done = db.replay(db.entry(ForgetKind.DEVICE_DELETE, device_ids=(device_id,)))
    assert done.devices_purged == 1
    assert not db.device_visible("rid-gone")
    assert db.device_visible("rid-kept")
    worker.drain()
    assert db.replay(db.entry(ForgetKind.DEVICE_DELETE, device_ids=(device_id,))).changes == 0


def test_a_device_delete_entry_replayed_twice_before_the_purge_runs_enqueues_one_purge(
    db: Db,
) -> None:
    entry = db.entry(ForgetKind.DEVICE_DELETE, device_ids=(db.device("rid-twice"),))
    db.replay(entry)
    assert db.replay(entry).changes == 0


def test_entries_naming_no_one_the_backup_holds_change_nothing(db: Db) -> None:
    kept, _ = db.person("kept@example.com")
    done = db.replay(
        db.entry(ForgetKind.HARD_DELETE, profile_ids=(12345,)),
        db.entry(ForgetKind.SOFT_DELETE, profile_ids=(12346,), revivable_until=1),
        db.entry(ForgetKind.DEVICE_DELETE, device_ids=(12347,)),
        db.entry(
            ForgetKind.SUBJECTS_DELETE,
            hashes=(("email", db.lookup_hash("email", "nobody@example.com")),),
            mode="hard",
        ),
    )
    assert (done.entries, done.unchanged, done.changes) == (4, 4, 0)
    assert db.visible(kept)
    assert db.jobs() == 0
