"""Devices owned by a profile follow it through soft deletion, revival and hard deletion.

Ownership is set natively (``PUT /api/v1/profiles/{uuid}/devices/{rid}``) on a profile created
through Gainsight. Soft-deleting the profile hides its devices from every EngageLab read; reviving
it brings them back with tags and alias; a hard delete purges them. Deleting a device through
EngageLab leaves its owner alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.factories import gainsight_user
from tests.support.clock import wait_until_revival_window_ends
from tests.support.headers import el_headers, gs_headers, native_headers
from tests.support.rows import jobs_of, receipts_of, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import (
    INVALID,
    alias_ids,
    all_tags,
    assert_error,
    delete_device,
    device_is_gone,
    device_rows,
    get_device,
    has_tag,
    set_device,
    tags_count,
)

UUID = "owner-1"
OWNED = "owned-phone"
STRAY = "stray-phone"
OWNED_TAGS = ["news", "sale", "vip"]
DELETED_BODY = {"body": {}, "statusCode": "200", "statusCodeValue": 200}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"revival_window": "2s"}


@pytest.fixture
def owner(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    """A Gainsight user owning one tagged, aliased android device; a stray device beside it."""
    created = client.post("/v1/users", json=gainsight_user(UUID), headers=gs_headers(tenant))
    assert created.status_code == 201, created.text
    put = client.put(
        f"/api/v1/devices/{OWNED}",
        json={"platform": "android", "timezone": "Europe/Berlin", "info": {"os": "14"}},
        headers=native_headers(tenant),
    )
    assert put.status_code == 201, put.text
    set_device(client, tenant, OWNED, add=OWNED_TAGS, alias="owner_alias")
    set_device(client, tenant, STRAY, add=["news"], alias="stray")
    owned = client.put(f"/api/v1/profiles/{UUID}/devices/{OWNED}", headers=native_headers(tenant))
    assert owned.status_code == 200, owned.text
    assert owned.json() == {"uuid": UUID, "registration_id": OWNED}
    user: dict[str, Any] = created.json()
    return user


def gainsight_delete(client: TestClient, tenant: Tenant, *, hard: bool) -> None:
    query = "?hardDelete=true" if hard else ""
    response = client.delete(f"/v1/users/{UUID}{query}", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    assert response.json() == DELETED_BODY


def assert_owned_device_hidden(client: TestClient, tenant: Tenant) -> None:
    assert device_is_gone(client, tenant, OWNED)
    assert tags_count(client, tenant, OWNED_TAGS) == {"news": 1, "sale": 0, "vip": 0}
    assert tags_count(client, tenant, ["news"], "android") == {"news": 0}
    assert alias_ids(client, tenant, "owner_alias") == []
    assert not has_tag(client, tenant, "vip", OWNED)
    assert all_tags(client, tenant) == ["news"]
    status = client.post(
        "/v4/devices/status", json={"registration_ids": [OWNED]}, headers=el_headers(tenant)
    )
    assert status.json() == []
    native = client.get(f"/api/v1/devices/{OWNED}", headers=native_headers(tenant))
    assert native.status_code == 404


def wait_until_window_ends(container: Container, tenant: Tenant) -> None:
    wait_until_revival_window_ends(container, tenant_id_of(container, tenant))


def assert_stray_untouched(client: TestClient, tenant: Tenant) -> None:
    assert get_device(client, tenant, STRAY) == {"tags": ["news"], "alias": "stray"}


# --- ownership -----------------------------------------------------------------------------


@pytest.mark.usefixtures("owner")
def test_owning_a_device_changes_none_of_its_engagelab_reads(
    client: TestClient, tenant: Tenant
) -> None:
    assert get_device(client, tenant, OWNED) == {"tags": OWNED_TAGS, "alias": "owner_alias"}
    assert tags_count(client, tenant, OWNED_TAGS) == {"news": 2, "sale": 1, "vip": 1}


@pytest.mark.parametrize(
    ("uuid", "rid"), [("nobody", OWNED), (UUID, "no-such-phone")], ids=["profile", "device"]
)
@pytest.mark.usefixtures("owner")
def test_owning_with_an_unknown_profile_or_device_is_404_and_changes_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    uuid: str,
    rid: str,
) -> None:
    before = snapshot(container)
    response = client.put(f"/api/v1/profiles/{uuid}/devices/{rid}", headers=native_headers(tenant))
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert snapshot(container) == before


# --- soft delete and revival ---------------------------------------------------------------


@pytest.mark.usefixtures("owner")
def test_soft_deleting_the_owner_hides_its_devices_from_every_read(
    client: TestClient, tenant: Tenant
) -> None:
    gainsight_delete(client, tenant, hard=False)
    assert_owned_device_hidden(client, tenant)
    assert_stray_untouched(client, tenant)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"/v4/devices/{OWNED}", {"tags": {"add": ["x"]}, "alias": "x"}),
        ("POST", f"/v4/devices/{OWNED}", {"tags": ""}),
        ("DELETE", f"/v4/devices/{OWNED}", None),
        ("POST", "/v4/tags/vip", {"registration_ids": {"remove": [OWNED]}}),
        ("POST", "/v4/tags/new", {"registration_ids": {"add": [OWNED]}}),
    ],
    ids=["set", "clear-tags", "delete", "untag", "tag"],
)
@pytest.mark.usefixtures("owner")
def test_writes_to_a_hidden_device_are_404_and_change_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    gainsight_delete(client, tenant, hard=False)
    before = snapshot(container)
    response = client.request(method, path, json=body, headers=el_headers(tenant))
    assert_error(response, 404, INVALID)
    assert snapshot(container) == before


@pytest.mark.usefixtures("owner")
def test_tag_and_alias_deletes_leave_a_hidden_device_as_it_was(
    client: TestClient, tenant: Tenant
) -> None:
    gainsight_delete(client, tenant, hard=False)
    assert client.delete("/v4/tags/vip", headers=el_headers(tenant)).status_code == 200
    assert client.delete("/v4/aliases/owner_alias", headers=el_headers(tenant)).status_code == 200
    assert client.put(f"/v1/users/{UUID}", json={}, headers=gs_headers(tenant)).status_code == 204
    assert get_device(client, tenant, OWNED) == {"tags": OWNED_TAGS, "alias": "owner_alias"}


@pytest.mark.parametrize("via", ["put", "post"])
@pytest.mark.usefixtures("owner")
def test_reviving_the_owner_brings_its_devices_back_with_tags_and_alias(
    client: TestClient, tenant: Tenant, via: str
) -> None:
    gainsight_delete(client, tenant, hard=False)
    if via == "put":
        revived = client.put(
            f"/v1/users/{UUID}", json={"firstName": "Back"}, headers=gs_headers(tenant)
        )
        assert revived.status_code == 204, revived.text
    else:
        revived = client.post("/v1/users", json=gainsight_user(UUID), headers=gs_headers(tenant))
        assert revived.status_code == 201, revived.text
    assert get_device(client, tenant, OWNED) == {"tags": OWNED_TAGS, "alias": "owner_alias"}
    assert tags_count(client, tenant, OWNED_TAGS) == {"news": 2, "sale": 1, "vip": 1}
    assert tags_count(client, tenant, ["vip"], "android") == {"vip": 1}
    assert alias_ids(client, tenant, "owner_alias") == [OWNED]
    assert has_tag(client, tenant, "vip", OWNED)
    native = client.get(f"/api/v1/devices/{OWNED}", headers=native_headers(tenant)).json()
    assert native["timezone"] == "Europe/Berlin"
    assert native["info"] == {"os": "14"}
    assert_stray_untouched(client, tenant)


@pytest.mark.usefixtures("owner")
def test_when_the_window_ends_the_sweep_purges_the_owned_device(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
) -> None:
    gainsight_delete(client, tenant, hard=False)
    tenant_id = tenant_id_of(container, tenant)
    wait_until_window_ends(container, tenant)
    # Other tests' tenants share the PostgreSQL database: their expired profiles may be swept too.
    assert worker.sweep_expired() >= 1
    worker.drain()
    assert device_rows(container, tenant_id, OWNED) == {"devices": 0, "device_tags": 0}
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["reason"] == "revival_window_ended"
    assert receipt["counts"]["devices"] == 1
    assert receipt["counts"]["tags"] == len(OWNED_TAGS)
    assert receipt["counts"]["aliases"] == 1
    assert_stray_untouched(client, tenant)


# --- hard delete ---------------------------------------------------------------------------


@pytest.mark.usefixtures("owner")
def test_hard_deleting_the_owner_hides_its_devices_at_once(
    client: TestClient, tenant: Tenant
) -> None:
    gainsight_delete(client, tenant, hard=True)
    assert_owned_device_hidden(client, tenant)
    assert_stray_untouched(client, tenant)


@pytest.mark.usefixtures("owner")
def test_hard_deleting_the_owner_purges_its_devices_and_counts_them_in_the_receipt(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
) -> None:
    tenant_id = tenant_id_of(container, tenant)
    gainsight_delete(client, tenant, hard=True)
    worker.drain()
    assert device_rows(container, tenant_id, OWNED) == {"devices": 0, "device_tags": 0}
    assert device_rows(container, tenant_id, STRAY) == {"devices": 1, "device_tags": 1}
    [job] = jobs_of(container, tenant_id)
    assert job["state"] == "completed"
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["reason"] == "hard_delete"
    assert receipt["surface"] == "gainsight"
    assert receipt["counts"]["devices"] == 1
    assert receipt["counts"]["tags"] == len(OWNED_TAGS)
    assert receipt["counts"]["aliases"] == 1
    assert receipt["counts"]["profiles"] == 1
    assert_stray_untouched(client, tenant)


@pytest.mark.usefixtures("owner")
def test_the_id_of_a_purged_owned_device_registers_again_fresh(
    client: TestClient,
    worker: Worker,
    tenant: Tenant,
) -> None:
    gainsight_delete(client, tenant, hard=True)
    worker.drain()
    set_device(client, tenant, OWNED)
    assert get_device(client, tenant, OWNED) == {"tags": [], "alias": ""}
    native = client.get(f"/api/v1/devices/{OWNED}", headers=native_headers(tenant)).json()
    assert native["platform"] is None
    assert native["timezone"] is None
    assert native["info"] == {}
    set_device(client, tenant, OWNED, alias="owner_alias")
    assert alias_ids(client, tenant, "owner_alias") == [OWNED]


@pytest.mark.usefixtures("owner")
def test_the_id_registers_again_fresh_before_the_purge_and_the_purge_spares_it(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
) -> None:
    gainsight_delete(client, tenant, hard=True)
    set_device(client, tenant, OWNED, add=["fresh"], alias="owner_alias")
    worker.drain()
    assert get_device(client, tenant, OWNED) == {"tags": ["fresh"], "alias": "owner_alias"}
    assert device_rows(container, tenant_id_of(container, tenant), OWNED) == {
        "devices": 1,
        "device_tags": 1,
    }


@pytest.mark.usefixtures("owner")
def test_a_recreated_profile_does_not_own_the_old_devices(
    client: TestClient, tenant: Tenant
) -> None:
    gainsight_delete(client, tenant, hard=True)
    created = client.post("/v1/users", json=gainsight_user(UUID), headers=gs_headers(tenant))
    assert created.status_code == 201, created.text
    assert device_is_gone(client, tenant, OWNED)
    assert alias_ids(client, tenant, "owner_alias") == []


# --- deleting the device leaves the owner ------------------------------------------------


def test_deleting_an_owned_device_through_engagelab_leaves_its_owner(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    owner: dict[str, Any],
) -> None:
    delete_device(client, tenant, OWNED)
    worker.drain()
    got = client.get(f"/v1/users/{UUID}", headers=gs_headers(tenant))
    assert got.status_code == 200
    assert got.json() == owner
    [receipt] = receipts_of(container, tenant_id_of(container, tenant))
    assert receipt["reason"] == "device_delete"
    assert receipt["counts"] == {
        "aliases": 1,
        "keys": 1,
        "tags": len(OWNED_TAGS),
        "devices": 1,
    }


@pytest.mark.usefixtures("owner")
def test_after_the_window_ends_the_id_registers_again_fresh_even_before_the_sweep(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
) -> None:
    gainsight_delete(client, tenant, hard=False)
    wait_until_window_ends(container, tenant)
    # The profile is gone for Gainsight already (a create makes a new one); so is its device.
    set_device(client, tenant, OWNED, add=["fresh"])
    assert get_device(client, tenant, OWNED) == {"tags": ["fresh"], "alias": ""}
    worker.sweep_expired()
    worker.drain()
    assert get_device(client, tenant, OWNED) == {"tags": ["fresh"], "alias": ""}
