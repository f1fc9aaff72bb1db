"""A request whose work enqueues a purge wakes the in-process worker, whichever handler ran it.

Setting a device (EngageLab) or putting it (native) whose owner's revival window has ended
starts that owner's purge on sight; neither handler says so, and the worker still wakes at once
instead of at its next poll.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container, create_app, create_worker
from obliviate.jobs.worker import Worker
from obliviate.storage import tables as t
from tests.factories import gainsight_user
from tests.support.clock import wait_until_revival_window_ends
from tests.support.headers import el_headers, gs_headers, native_headers
from tests.support.rows import tenant_id_of
from tests.support.tenants import Tenant

UUID = "owner-of-a-phone"
PHONE = "phone-of-the-owner"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A worker that polls rarely: only a wake-up makes it look at once.
    return {"revival_window": "1s", "worker_poll_interval": 3600}


@pytest.fixture
def worker(container: Container) -> Worker:
    return create_worker(container)


@pytest.fixture
def woken_client(container: Container, worker: Worker) -> Iterator[TestClient]:
    with TestClient(create_app(container, worker=worker)) as client:
        yield client


def soft_deleted_owner_past_its_window(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    created = client.post("/v1/users", json=gainsight_user(UUID), headers=gs_headers(tenant))
    assert created.status_code == 201, created.text
    put = client.put(
        f"/api/v1/devices/{PHONE}", json={"platform": "android"}, headers=native_headers(tenant)
    )
    assert put.status_code == 201, put.text
    owned = client.put(f"/api/v1/profiles/{UUID}/devices/{PHONE}", headers=native_headers(tenant))
    assert owned.status_code == 200, owned.text
    deleted = client.delete(f"/v1/users/{UUID}", headers=gs_headers(tenant))
    assert deleted.status_code == 200, deleted.text
    wait_until_revival_window_ends(container, tenant_id_of(container, tenant))


def purges_of(container: Container, tenant: Tenant) -> list[str]:
    with container.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.jobs.c.kind).where(t.jobs.c.tenant_id == tenant_id_of(container, tenant))
            ).scalars()
        )


SET_DEVICE: dict[str, Callable[[TestClient, Tenant], Any]] = {
    "engagelab-set-device": lambda client, tenant: client.post(
        f"/v4/devices/{PHONE}", json={"tags": {"add": ["news"]}}, headers=el_headers(tenant)
    ),
    "native-put-device": lambda client, tenant: client.put(
        f"/api/v1/devices/{PHONE}", json={"platform": "ios"}, headers=native_headers(tenant)
    ),
}


@pytest.mark.parametrize("route", sorted(SET_DEVICE))
def test_setting_a_device_of_an_expired_owner_wakes_the_worker_for_the_owners_purge(
    woken_client: TestClient, container: Container, tenant: Tenant, worker: Worker, route: str
) -> None:
    soft_deleted_owner_past_its_window(woken_client, container, tenant)
    worker.wake.clear()
    assert purges_of(container, tenant) == []

    response = SET_DEVICE[route](woken_client, tenant)

    assert response.status_code in (200, 201), response.text
    assert purges_of(container, tenant) == ["purge_profile"]
    assert worker.wake.is_set()


def test_a_read_wakes_no_worker(woken_client: TestClient, tenant: Tenant, worker: Worker) -> None:
    worker.wake.clear()
    response = woken_client.get(f"/v1/users/{UUID}", headers=gs_headers(tenant))
    assert response.status_code == 404
    assert not worker.wake.is_set()
