"""EngageLab device deletes pass the mass-deletion guard.

A burst of ``DELETE /v4/devices/{rid}`` is refused past the device allowance, a share of the
tenant's devices at the start of the last 60 minutes, unless the request carries
``X-Obliviate-Confirm-Mass-Delete: yes``. Devices and profiles have allowances of their own,
and a device purged with its owning profile is that profile's deletion, not a device's.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.clock import FakeClock
from tests.support.headers import el_headers, native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import (
    INVALID,
    assert_error,
    assert_ok,
    delete_device,
    device_is_gone,
    get_device,
    set_device,
)
from tests.surfaces.native.support import API, CONFIRM, create_profile, own_device

HOUR = 3600.0
MINUTE = 60.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # 100 devices: an allowance of max(10, 10% of 100) = 10.
    return {"mass_delete_floor": 10, "mass_delete_share": 0.1}


@pytest.fixture
def clock(container: Container, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The app's clock, moved by hand."""
    fake = FakeClock()
    monkeypatch.setattr(container.clock, "now_ms", fake.now_ms)
    return fake


def devices(client: TestClient, tenant: Tenant, prefix: str, count: int) -> list[str]:
    rids = [f"{prefix}-{n}" for n in range(count)]
    for rid in rids:
        set_device(client, tenant, rid, add=["t"])
    return rids


def delete(client: TestClient, tenant: Tenant, rid: str, **headers: str) -> httpx2.Response:
    return client.delete(f"/v4/devices/{rid}", headers={**el_headers(tenant), **headers})


def assert_refused(response: httpx2.Response, *, recent: int, allowed: int) -> None:
    message = assert_error(response, 400, INVALID)
    assert f"mass-deletion guard: {recent} " in message, message
    assert f"the {allowed} allowed" in message, message
    assert "X-Obliviate-Confirm-Mass-Delete: yes" in message, message


def test_a_burst_deleting_every_device_is_refused_past_the_allowance_unless_confirmed(
    client: TestClient, container: Container, tenant: Tenant, clock: FakeClock
) -> None:
    rids = devices(client, tenant, "d", 100)
    clock.advance(HOUR)
    for rid in rids[:10]:
        delete_device(client, tenant, rid)
    before = snapshot(container)
    assert_refused(delete(client, tenant, rids[10]), recent=11, allowed=10)
    assert snapshot(container) == before
    assert get_device(client, tenant, rids[10]) == {"tags": ["t"], "alias": ""}
    for rid in rids[10:]:
        assert_ok(delete(client, tenant, rid, **CONFIRM), {"success": True})
    assert all(device_is_gone(client, tenant, rid) for rid in rids)


def test_devices_registered_just_before_a_burst_do_not_raise_the_allowance(
    client: TestClient, tenant: Tenant, clock: FakeClock
) -> None:
    old = devices(client, tenant, "old", 100)
    clock.advance(HOUR)
    # 150 more would make it 25 if they counted.
    fillers = devices(client, tenant, "filler", 150)
    for rid in old[:10]:
        delete_device(client, tenant, rid)
    assert_refused(delete(client, tenant, old[10]), recent=11, allowed=10)
    assert_refused(delete(client, tenant, fillers[0]), recent=11, allowed=10)


def test_a_device_burst_across_a_clock_hour_boundary_is_refused_until_60_minutes_pass(
    client: TestClient, tenant: Tenant, clock: FakeClock
) -> None:
    rids = devices(client, tenant, "d", 100)
    clock.advance(HOUR)
    # Half a minute before the next clock hour: the old guard's window ended there.
    clock.now += 3_600_000 - clock.now % 3_600_000 - 30_000
    for rid in rids[:10]:
        delete_device(client, tenant, rid)
    clock.advance(MINUTE)
    assert_refused(delete(client, tenant, rids[10]), recent=11, allowed=10)
    clock.advance(58 * MINUTE)
    assert_refused(delete(client, tenant, rids[10]), recent=11, allowed=10)
    clock.advance(MINUTE)
    # 90 devices are left: still 10.
    for rid in rids[10:20]:
        delete_device(client, tenant, rid)
    assert_refused(delete(client, tenant, rids[20]), recent=11, allowed=10)


def test_devices_and_profiles_each_have_their_own_allowance(
    client: TestClient, tenant: Tenant, clock: FakeClock
) -> None:
    rids = devices(client, tenant, "d", 20)
    for n in range(20):
        create_profile(client, tenant, f"p-{n}")
    for n in range(10):
        own_device(client, tenant, f"p-{n}", f"owned-{n}")
    clock.advance(HOUR)
    # Deleting profiles purges the devices they own: that is the profiles' deletion alone.
    for n in range(10):
        hard = client.delete(f"{API}/profiles/p-{n}?mode=hard", headers=native_headers(tenant))
        assert hard.status_code == 202, hard.text
    for rid in rids[:10]:
        delete_device(client, tenant, rid)
    assert_refused(delete(client, tenant, rids[10]), recent=11, allowed=10)
    refused = client.delete(f"{API}/profiles/p-10", headers=native_headers(tenant))
    assert refused.status_code == 409, refused.text
    assert refused.json()["allowed"] == 10
