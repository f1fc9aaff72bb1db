"""Tenant B's EngageLab credentials never reach tenant A's devices, tags or aliases on any endpoint:
every row belongs to one tenant, and a tenant's credentials reach only its own."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.support.headers import el_headers, native_headers
from tests.support.rows import rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import (
    INVALID,
    alias_ids,
    all_tags,
    assert_error,
    assert_ok,
    delete_device,
    get_device,
    has_tag,
    set_device,
    tags_count,
)

A_RID = "alice-phone"
TAGS = ["news", "sale"]
ALIAS = "alice"


@pytest.fixture
def alice(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    response = client.put(
        f"/api/v1/devices/{A_RID}", json={"platform": "android"}, headers=native_headers(tenant)
    )
    assert response.status_code == 201, response.text
    set_device(client, tenant, A_RID, add=TAGS, alias=ALIAS)
    return get_device(client, tenant, A_RID)


def assert_alice_untouched(client: TestClient, tenant: Tenant, alice: dict[str, Any]) -> None:
    assert get_device(client, tenant, A_RID) == alice
    assert tags_count(client, tenant, TAGS) == {"news": 1, "sale": 1}
    assert tags_count(client, tenant, TAGS, "android") == {"news": 1, "sale": 1}
    assert alias_ids(client, tenant, ALIAS) == [A_RID]
    assert all_tags(client, tenant) == TAGS
    assert has_tag(client, tenant, "news", A_RID)


# Requests naming tenant A's device by id: tenant B gets 404. HARMLESS: tenant B sees its own
# empty tenant (last item: the exact answer).
REFUSED = [
    ("GET", f"/v4/devices/{A_RID}", None),
    ("DELETE", f"/v4/devices/{A_RID}", None),
    ("POST", "/v4/tags/news", {"registration_ids": {"remove": [A_RID]}}),
    ("POST", "/v4/tags/vip", {"registration_ids": {"add": [A_RID]}}),
]
HARMLESS = [
    ("POST", "/v4/devices/status", {"registration_ids": [A_RID]}, []),
    ("GET", "/v4/tags", None, {"tags": []}),
    ("DELETE", "/v4/tags/news", None, {}),
    ("DELETE", "/v4/tags/news?platform=android", None, {}),
    ("GET", "/v4/tags_count?tags=news,sale", None, {"tagsCount": {"news": 0, "sale": 0}}),
    ("GET", "/v4/tags_count?tags=news&platform=android", None, {"tagsCount": {"news": 0}}),
    ("GET", f"/v4/tags/news/registration_ids/{A_RID}", None, {"result": False}),
    ("GET", f"/v4/aliases/{ALIAS}", None, {"registration_ids": []}),
    ("GET", f"/v4/aliases/{ALIAS}?platform=android", None, {"registration_ids": []}),
    ("DELETE", f"/v4/aliases/{ALIAS}", None, {}),
    ("DELETE", f"/v4/aliases/{ALIAS}?platform=android", None, {}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), REFUSED, ids=[f"{m} {p} {b}" for m, p, b in REFUSED]
)
def test_other_tenant_gets_404_for_this_tenants_device_and_changes_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    alice: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = snapshot(container)
    response = client.request(method, path, json=body, headers=el_headers(other_tenant))
    assert_error(response, 404, INVALID)
    assert snapshot(container) == before
    assert_alice_untouched(client, tenant, alice)


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), HARMLESS, ids=[f"{m} {p}" for m, p, _, _ in HARMLESS]
)
def test_other_tenant_sees_none_of_this_tenants_tags_or_aliases_and_changes_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    alice: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    expected: Any,
) -> None:
    before = snapshot(container)
    response = client.request(method, path, json=body, headers=el_headers(other_tenant))
    assert_ok(response, expected)
    assert snapshot(container) == before
    assert_alice_untouched(client, tenant, alice)


def test_other_tenant_setting_the_same_registration_id_makes_its_own_device(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    alice: dict[str, Any],
) -> None:
    tenant_a = tenant_id_of(container, tenant)
    a_rows = rows_of_tenant(snapshot(container), tenant_a)
    set_device(client, other_tenant, A_RID, add=["twin"], remove=["news"], alias=ALIAS)
    assert get_device(client, other_tenant, A_RID) == {"tags": ["twin"], "alias": ALIAS}
    set_device(client, other_tenant, A_RID, tags="", alias="")
    assert rows_of_tenant(snapshot(container), tenant_a) == a_rows
    assert_alice_untouched(client, tenant, alice)


def test_an_alias_bound_in_another_tenant_is_not_moved_away_from_this_tenant(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, alice: dict[str, Any]
) -> None:
    set_device(client, other_tenant, "bob-phone", alias=ALIAS)
    assert alias_ids(client, other_tenant, ALIAS) == ["bob-phone"]
    assert_alice_untouched(client, tenant, alice)


def test_other_tenant_deleting_and_purging_its_twin_leaves_this_tenants_device(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    other_tenant: Tenant,
    alice: dict[str, Any],
) -> None:
    tenant_a = tenant_id_of(container, tenant)
    a_rows = rows_of_tenant(snapshot(container), tenant_a)
    set_device(client, other_tenant, A_RID, add=TAGS, alias=ALIAS)
    delete_device(client, other_tenant, A_RID)
    assert_ok(client.delete("/v4/tags/news", headers=el_headers(other_tenant)), {})
    worker.drain()
    assert rows_of_tenant(snapshot(container), tenant_a) == a_rows
    assert_alice_untouched(client, tenant, alice)


def test_other_tenants_native_token_cannot_read_or_change_this_tenants_device(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    alice: dict[str, Any],
) -> None:
    before = snapshot(container)
    got = client.get(f"/api/v1/devices/{A_RID}", headers=native_headers(other_tenant))
    assert got.status_code == 404
    assert snapshot(container) == before
    assert_alice_untouched(client, tenant, alice)
