"""``DELETE /v4/devices/{rid}`` on the wire, as the vendor documents its delete call.

The device, its tags, alias binding, info and timezone vanish from every read at once; a durable
job purges the rows and writes one receipt.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.support.headers import el_headers, native_headers
from tests.support.rows import jobs_of, receipts_of, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import (
    INVALID,
    alias_ids,
    all_tags,
    assert_error,
    assert_ok,
    delete_device,
    device_is_gone,
    device_rows,
    get_device,
    has_tag,
    set_device,
    tags_count,
)

RID = "abc123"
NEIGHBOUR = "def456"


@pytest.fixture
def doomed(client: TestClient, tenant: Tenant) -> str:
    """A device with two tags, an alias, a platform, a timezone and info."""
    response = client.put(
        f"/api/v1/devices/{RID}",
        json={"platform": "android", "timezone": "Asia/Singapore", "info": {"model": "X1"}},
        headers=native_headers(tenant),
    )
    assert response.status_code == 201, response.text
    set_device(client, tenant, RID, add=["news", "vip"], alias="owner1")
    set_device(client, tenant, NEIGHBOUR, add=["news"])
    return RID


def test_delete_answers_success_true_exactly_as_the_vendor_does(
    client: TestClient, tenant: Tenant, doomed: str
) -> None:
    response = client.delete(
        f"/v4/devices/{doomed}", headers={**el_headers(tenant), "Accept": "application/json"}
    )
    assert_ok(response, {"success": True})


def test_deleted_device_vanishes_from_every_read_at_once(
    client: TestClient, tenant: Tenant, doomed: str
) -> None:
    delete_device(client, tenant, doomed)
    assert device_is_gone(client, tenant, doomed)
    assert tags_count(client, tenant, ["news", "vip"]) == {"news": 1, "vip": 0}
    assert tags_count(client, tenant, ["news", "vip"], "android") == {"news": 0, "vip": 0}
    assert alias_ids(client, tenant, "owner1") == []
    assert not has_tag(client, tenant, "vip", doomed)
    assert not has_tag(client, tenant, "news", doomed)
    assert has_tag(client, tenant, "news", NEIGHBOUR)
    assert all_tags(client, tenant) == ["news"]
    status = client.post(
        "/v4/devices/status", json={"registration_ids": [doomed]}, headers=el_headers(tenant)
    )
    assert_ok(status, [])
    native = client.get(f"/api/v1/devices/{doomed}", headers=native_headers(tenant))
    assert native.status_code == 404


def test_deleting_a_device_leaves_its_neighbours_untouched(
    client: TestClient, tenant: Tenant, doomed: str
) -> None:
    delete_device(client, tenant, doomed)
    assert get_device(client, tenant, NEIGHBOUR) == {"tags": ["news"], "alias": ""}


def test_second_delete_is_404_code_27002_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container, doomed: str
) -> None:
    delete_device(client, tenant, doomed)
    before = snapshot(container)
    response = client.delete(f"/v4/devices/{doomed}", headers=el_headers(tenant))
    assert_error(response, 404, INVALID)
    assert snapshot(container) == before


def test_delete_of_an_unknown_device_is_404_code_27002_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    response = client.delete("/v4/devices/never-seen", headers=el_headers(tenant))
    assert_error(response, 404, INVALID)
    assert snapshot(container) == before


@pytest.mark.parametrize("change", ["add", "remove"])
def test_tagging_a_deleted_device_is_404_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container, doomed: str, change: str
) -> None:
    delete_device(client, tenant, doomed)
    before = snapshot(container)
    body = {"registration_ids": {change: [doomed]}}
    response = client.post("/v4/tags/vip", json=body, headers=el_headers(tenant))
    assert_error(response, 404, INVALID)
    assert snapshot(container) == before


def test_a_new_registration_of_a_deleted_id_starts_empty(
    client: TestClient, tenant: Tenant, doomed: str
) -> None:
    delete_device(client, tenant, doomed)
    set_device(client, tenant, doomed)
    assert get_device(client, tenant, doomed) == {"tags": [], "alias": ""}
    assert tags_count(client, tenant, ["news", "vip"]) == {"news": 1, "vip": 0}
    native = client.get(f"/api/v1/devices/{doomed}", headers=native_headers(tenant)).json()
    assert native["platform"] is None
    assert native["timezone"] is None
    assert native["info"] == {}


def test_the_deleted_devices_alias_is_free_for_another_device_at_once(
    client: TestClient, tenant: Tenant, doomed: str
) -> None:
    delete_device(client, tenant, doomed)
    set_device(client, tenant, NEIGHBOUR, alias="owner1")
    assert alias_ids(client, tenant, "owner1") == [NEIGHBOUR]
    set_device(client, tenant, doomed, alias="owner1")
    assert alias_ids(client, tenant, "owner1") == [doomed]


def test_purge_job_completes_and_writes_one_device_delete_receipt(
    client: TestClient, tenant: Tenant, container: Container, worker: Worker, doomed: str
) -> None:
    tenant_id = tenant_id_of(container, tenant)
    delete_device(client, tenant, doomed)
    [queued] = jobs_of(container, tenant_id)
    assert queued["state"] == "queued"
    assert device_rows(container, tenant_id, doomed) == {"devices": 1, "device_tags": 2}

    worker.drain()

    [job] = jobs_of(container, tenant_id)
    assert job["state"] == "completed"
    assert device_rows(container, tenant_id, doomed) == {"devices": 0, "device_tags": 0}
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["job_id"] == job["job_id"]
    assert receipt["reason"] == "device_delete"
    assert receipt["surface"] == "engagelab"
    assert receipt["counts"] == {"aliases": 1, "keys": 1, "tags": 2, "devices": 1}
    # Receipts keep a keyed hash of the subject, never the registration id itself.
    assert doomed not in repr(receipt)
    assert doomed not in repr(job["payload"])
    assert device_is_gone(client, tenant, doomed)
    assert get_device(client, tenant, NEIGHBOUR) == {"tags": ["news"], "alias": ""}


def test_purge_of_a_device_without_alias_or_tags_counts_only_the_device(
    client: TestClient, tenant: Tenant, container: Container, worker: Worker
) -> None:
    set_device(client, tenant, "bare1")
    delete_device(client, tenant, "bare1")
    worker.drain()
    [receipt] = receipts_of(container, tenant_id_of(container, tenant))
    assert receipt["counts"] == {"aliases": 0, "keys": 1, "tags": 0, "devices": 1}


def test_purging_the_old_device_leaves_a_new_registration_of_the_same_id_alone(
    client: TestClient, tenant: Tenant, container: Container, worker: Worker, doomed: str
) -> None:
    delete_device(client, tenant, doomed)
    set_device(client, tenant, doomed, add=["fresh"], alias="owner1")
    worker.drain()
    tenant_id = tenant_id_of(container, tenant)
    assert device_rows(container, tenant_id, doomed) == {"devices": 1, "device_tags": 1}
    assert get_device(client, tenant, doomed) == {"tags": ["fresh"], "alias": "owner1"}
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["counts"] == {"aliases": 1, "keys": 1, "tags": 2, "devices": 1}


def test_each_deleted_device_gets_its_own_job_and_receipt(
    client: TestClient, tenant: Tenant, container: Container, worker: Worker, doomed: str
) -> None:
    delete_device(client, tenant, doomed)
    delete_device(client, tenant, NEIGHBOUR)
    worker.drain()
    tenant_id = tenant_id_of(container, tenant)
    jobs = jobs_of(container, tenant_id)
    assert [j["state"] for j in jobs] == ["completed", "completed"]
    receipts = receipts_of(container, tenant_id)
    assert sorted(r["job_id"] for r in receipts) == sorted(j["job_id"] for j in jobs)
    assert all_tags(client, tenant) == []
