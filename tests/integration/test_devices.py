"""Devices, tags and aliases at the service layer, and their fate when their owner is deleted."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from obliviate.bootstrap import Container
from obliviate.domain.devices import MAX_TAGS_PER_DEVICE
from obliviate.domain.errors import DeviceNotFound, ProfileNotFound, ValidationError
from obliviate.domain.tenants import Caller
from obliviate.jobs.worker import Worker
from obliviate.services import deletions, devices, profiles
from obliviate.services.devices import DeviceChange
from obliviate.storage import tables as t
from tests.factories import uid
from tests.support.clock import FakeClock
from tests.support.tenants import Tenant, sign_in

WINDOW = 3600.0


@pytest.fixture
def caller(container: Container, tenant: Tenant) -> Caller:
    return sign_in(container, tenant, "engagelab", revival_window=WINDOW)


class Devices:
    def __init__(self, container: Container, caller: Caller, clock: FakeClock) -> None:
        self.c, self.caller, self.clock = container, caller, clock
        self.tenant = caller.tenant

    def write(self, fn: Any) -> Any:
        with self.c.uow_factory(self.tenant.tenant_id) as uow:
            result = fn(uow, self.clock.now_ms())
            uow.commit()
        return result

    def read(self, fn: Any) -> Any:
        with self.c.uow_factory(self.tenant.tenant_id, write=False) as uow:
            return fn(uow)

    def set(self, rid: str, **change: Any) -> None:
        self.write(
            lambda uow, now: devices.set_device(
                uow,
                registration_id=rid,
                change=DeviceChange(**change),
                now=now,
                hasher=self.c.hasher,
            )
        )

    def get(self, rid: str) -> devices.DeviceView:
        result: devices.DeviceView = self.read(
            lambda uow: devices.get_device(uow, registration_id=rid)
        )
        return result

    def delete(self, rid: str) -> int:
        job: int = self.write(
            lambda uow, now: devices.delete_device(
                uow, caller=self.caller, registration_id=rid, now=now, hasher=self.c.hasher
            )
        )
        return job

    def alias(self, alias: str) -> list[str]:
        found: list[str] = self.read(
            lambda uow: devices.alias_devices(uow, alias=alias, platforms=[])
        )
        return found

    def count(self, *tags: str, platforms: tuple[str, ...] = ()) -> dict[str, int]:
        counts: dict[str, int] = self.read(
            lambda uow: devices.count_tags(uow, tags=list(tags), platforms=list(platforms))
        )
        return counts


@pytest.fixture
def dev(container: Container, caller: Caller, clock: FakeClock) -> Devices:
    return Devices(container, caller, clock)


def _rows(container: Container, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_setting_tags_registers_the_device_and_add_remove_apply(dev: Devices) -> None:
    rid = uid("rid")
    dev.set(rid, add=["a", "b", "c"])
    dev.set(rid, add=["d"], remove=["a", "zz"])
    assert dev.get(rid).tags == ["b", "c", "d"]
    dev.set(rid, clear_tags=True)
    assert dev.get(rid).tags == []


def test_binding_an_alias_held_by_another_device_moves_it(dev: Devices) -> None:
    one, two = uid("rid"), uid("rid")
    alias = uid("al").replace("-", "_")
    dev.set(one, alias=alias)
    dev.set(two, alias=alias)
    assert dev.alias(alias) == [two]
    assert dev.get(one).device.alias is None
    dev.set(two, alias="")
    assert dev.alias(alias) == []


def test_a_device_holds_at_most_one_hundred_tags(dev: Devices) -> None:
    rid = uid("rid")
    dev.set(rid, add=[f"t{i}" for i in range(MAX_TAGS_PER_DEVICE)])
    with pytest.raises(ValidationError):
        dev.set(rid, add=["one_more"])
    assert len(dev.get(rid).tags) == MAX_TAGS_PER_DEVICE
    dev.set(rid, add=["one_more"], remove=["t0"])
    assert "one_more" in dev.get(rid).tags


@pytest.mark.parametrize("label", ["", "a b", "x" * 41, "é", "tag/x", "标" * 14])
def test_bad_tags_and_aliases_are_refused(dev: Devices, label: str) -> None:
    with pytest.raises(ValidationError):
        dev.set(uid("rid"), add=[label])
    if label:  # an empty alias means "unbind", not a bad alias
        with pytest.raises(ValidationError):
            dev.set(uid("rid"), alias=label)


@pytest.mark.parametrize("label", ["标签", "vip_1", "a@b.c", "#$&*+=!", "x" * 40, "标" * 13])
def test_allowed_tags_include_cjk_and_symbols(dev: Devices, label: str) -> None:
    rid = uid("rid")
    dev.set(rid, add=[label])
    assert dev.get(rid).tags == [label]


def test_deleted_device_vanishes_at_once_and_is_purged_with_a_receipt(
    dev: Devices, container: Container, worker: Worker
) -> None:
    rid = uid("rid")
    alias = uid("al").replace("-", "_")
    dev.set(rid, add=["x1", "x2"], alias=alias)
    job_id = dev.delete(rid)
    with pytest.raises(DeviceNotFound):
        dev.get(rid)
    assert dev.alias(alias) == []
    assert dev.count("x1", "x2") == {"x1": 0, "x2": 0}
    with pytest.raises(DeviceNotFound):
        dev.delete(rid)
    worker.drain()
    assert _rows(container, t.devices, tenant_id=dev.tenant.tenant_id) == 0
    assert _rows(container, t.device_tags, tenant_id=dev.tenant.tenant_id) == 0
    with container.engine.connect() as conn:
        job = conn.execute(select(t.jobs).where(t.jobs.c.job_id == job_id)).one()
        receipt = conn.execute(select(t.receipts).where(t.receipts.c.job_id == job_id)).one()
    assert job.state == "completed"
    assert receipt.counts == {"aliases": 1, "devices": 1, "keys": 1, "tags": 2}
    assert rid not in str(tuple(receipt))
    assert rid not in str(job.payload)


def test_a_deleted_registration_id_can_register_again_fresh(dev: Devices) -> None:
    rid = uid("rid")
    dev.set(rid, add=["old"])
    dev.delete(rid)
    dev.set(rid, add=["new"])
    assert dev.get(rid).tags == ["new"]


class Owner:
    def __init__(self, container: Container, tenant: dict[str, Any], clock: FakeClock) -> None:
        self.caller = sign_in(container, tenant, "gainsight", revival_window=WINDOW)
        self.c, self.clock = container, clock

    def run(self, fn: Any) -> None:
        with self.c.uow_factory(self.caller.tenant.tenant_id) as uow:
            fn(uow, self.clock.now_ms())
            uow.commit()

    def create(self, uuid: str) -> None:
        self.run(
            lambda uow, now: profiles.create_profile(
                uow,
                uuid=uuid,
                attributes={},
                now=now,
                hasher=self.c.hasher,
            )
        )

    def own(self, uuid: str, rid: str) -> None:
        self.run(lambda uow, now: devices.set_owner(uow, uuid=uuid, registration_id=rid, now=now))

    def soft_delete(self, uuid: str) -> None:
        self.run(
            lambda uow, now: deletions.soft_delete_profile(
                uow, caller=self.caller, uuid=uuid, now=now
            )
        )

    def hard_delete(self, uuid: str) -> None:
        self.run(
            lambda uow, now: deletions.hard_delete_profile(
                uow, caller=self.caller, uuid=uuid, now=now, hasher=self.c.hasher
            )
        )

    def revive(self, uuid: str) -> None:
        self.run(
            lambda uow, now: profiles.update_profile(
                uow,
                uuid=uuid,
                changes={},
                now=now,
                hasher=self.c.hasher,
            )
        )


@pytest.fixture
def owner(container: Container, tenant: dict[str, Any], clock: FakeClock) -> Owner:
    return Owner(container, tenant, clock)


def test_soft_deleting_the_owner_hides_its_devices_and_revival_restores_them(
    dev: Devices, owner: Owner
) -> None:
    uuid, rid = uid(), uid("rid")
    alias = uid("al").replace("-", "_")
    owner.create(uuid)
    dev.set(rid, add=["fan"], alias=alias)
    owner.own(uuid, rid)
    owner.soft_delete(uuid)
    with pytest.raises(DeviceNotFound):
        dev.get(rid)
    assert dev.alias(alias) == []
    assert dev.count("fan") == {"fan": 0}
    with pytest.raises(DeviceNotFound):
        dev.set(rid, add=["x"])  # hidden, not new: nobody may touch it meanwhile
    owner.revive(uuid)
    view = dev.get(rid)
    assert view.tags == ["fan"]
    assert view.device.alias == alias


def test_hard_deleting_the_owner_purges_its_devices(
    dev: Devices, owner: Owner, container: Container, worker: Worker
) -> None:
    uuid, rid, other = uid(), uid("rid"), uid("rid")
    owner.create(uuid)
    dev.set(rid, add=["a", "b"], alias=uid("al").replace("-", "_"))
    dev.set(other, add=["a"])
    owner.own(uuid, rid)
    owner.hard_delete(uuid)
    with pytest.raises(DeviceNotFound):
        dev.get(rid)
    assert dev.get(other).tags == ["a"]
    worker.drain()
    assert _rows(container, t.devices, tenant_id=dev.tenant.tenant_id) == 1
    assert _rows(container, t.device_tags, tenant_id=dev.tenant.tenant_id) == 1
    with container.engine.connect() as conn:
        receipt = conn.execute(
            select(t.receipts)
            .where(t.receipts.c.tenant_id == dev.tenant.tenant_id)
            .order_by(t.receipts.c.seq.desc())
        ).first()
    assert receipt is not None
    assert receipt.counts["devices"] == 1
    assert receipt.counts["tags"] == 2
    assert receipt.counts["aliases"] == 1
    dev.set(rid, add=["fresh"])
    assert dev.get(rid).tags == ["fresh"]


def test_ownership_needs_an_active_profile_and_a_visible_device(dev: Devices, owner: Owner) -> None:
    rid = uid("rid")
    dev.set(rid)
    with pytest.raises(ProfileNotFound):
        owner.own(uid(), rid)
    uuid = uid()
    owner.create(uuid)
    with pytest.raises(DeviceNotFound):
        owner.own(uuid, uid("rid"))


def test_concurrent_first_registrations_of_one_id_make_one_device(
    dev: Devices, container: Container
) -> None:
    import threading

    rid = uid("rid")
    errors: list[BaseException] = []

    def register(tag: str) -> None:
        try:
            dev.set(rid, add=[tag])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    rid_hash = container.vault.lookup_hash("registration_id", rid)
    assert (
        _rows(container, t.devices, tenant_id=dev.tenant.tenant_id, registration_hash=rid_hash) == 1
    )
    assert dev.get(rid).tags == [f"t{i}" for i in range(8)]
