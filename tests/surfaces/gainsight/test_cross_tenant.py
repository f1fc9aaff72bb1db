"""Tenant B's Gainsight key never reaches tenant A's users or events: every row belongs to one
tenant, and a tenant's key reaches only its own."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.factories import gainsight_event, gainsight_not_found
from tests.support.headers import gs_headers
from tests.support.rows import rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import DELETED_BODY, add_event, create_user, events_of

A_USER = "alice-1"


@pytest.fixture
def alice(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    user = create_user(client, tenant, A_USER, email="alice@example.com")
    add_event(client, tenant, A_USER, "a-event-1", date=1_000)
    add_event(client, tenant, A_USER, "a-event-2", date=2_000)
    return user


WRITES = [
    ("PUT", f"/v1/users/{A_USER}", {"firstName": "Mallory"}),
    ("PUT", "/v1/users/update", {"identifyId": A_USER, "firstName": "Mallory"}),
    ("DELETE", f"/v1/users/{A_USER}", None),
    ("DELETE", f"/v1/users/{A_USER}?hardDelete=true", None),
    ("DELETE", "/v1/users/delete", {"identifyId": A_USER}),
    ("DELETE", "/v1/users/delete?hardDelete=true", {"identifyId": A_USER}),
    ("POST", "/v1/events/custom", gainsight_event(A_USER)),
    ("GET", f"/v1/users/{A_USER}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_other_tenants_key_gets_not_found_for_this_tenants_user_and_changes_nothing(
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
    response = client.request(method, path, json=body, headers=gs_headers(other_tenant))
    assert response.status_code == 404, response.text
    assert response.json() == gainsight_not_found(A_USER)
    assert snapshot(container) == before
    assert client.get(f"/v1/users/{A_USER}", headers=gs_headers(tenant)).json() == alice
    assert events_of(client, tenant, A_USER)["totalHits"] == 2


@pytest.mark.parametrize(
    "query",
    ["", "?pageSize=1000", f"?filter=identifyId=={A_USER}", "?filter=email==alice@example.com"],
)
@pytest.mark.usefixtures("alice")
def test_other_tenants_user_list_never_shows_this_tenants_users(
    client: TestClient,
    container: Container,
    other_tenant: Tenant,
    query: str,
) -> None:
    before = snapshot(container)
    page = client.get(f"/v1/users{query}", headers=gs_headers(other_tenant)).json()
    assert page["users"] == []
    assert page["totalHits"] == 0
    assert snapshot(container) == before


@pytest.mark.parametrize(
    "query", ["", "?pageSize=1000", f"?filter=identifyId=={A_USER}", "?filter=eventName==a-event-1"]
)
@pytest.mark.usefixtures("alice")
def test_other_tenants_event_list_never_shows_this_tenants_events(
    client: TestClient,
    container: Container,
    other_tenant: Tenant,
    query: str,
) -> None:
    before = snapshot(container)
    page = client.get(f"/v1/events/custom{query}", headers=gs_headers(other_tenant)).json()
    assert page["customEvents"] == []
    assert page["totalHits"] == 0
    assert snapshot(container) == before


@pytest.mark.usefixtures("alice")
def test_scroll_id_issued_to_one_tenant_lists_only_the_callers_users(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    create_user(client, tenant, "alice-2")
    bob = create_user(client, other_tenant, "bob-1")
    a_first = client.get("/v1/users?pageSize=1", headers=gs_headers(tenant)).json()
    b_next = client.get(
        f"/v1/users?scrollId={a_first['scrollId']}&pageSize=1000",
        headers=gs_headers(other_tenant),
    ).json()
    assert all(u["identifyId"] == "bob-1" for u in b_next["users"])
    assert b_next["totalHits"] == 1
    b_all = client.get("/v1/users", headers=gs_headers(other_tenant)).json()
    assert b_all["users"] == [bob]


def test_the_same_identify_id_in_two_tenants_is_two_independent_users(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    alice: dict[str, Any],
    worker: Worker,
) -> None:
    tenant_a = tenant_id_of(container, tenant)
    a_rows = rows_of_tenant(snapshot(container), tenant_a)
    twin = create_user(client, other_tenant, A_USER, email="twin@example.com")
    assert twin["aptrinsicId"] != alice["aptrinsicId"]
    assert events_of(client, other_tenant, A_USER)["totalHits"] == 0
    add_event(client, other_tenant, A_USER, "b-event")
    put = client.put(
        f"/v1/users/{A_USER}", json={"firstName": "Twin"}, headers=gs_headers(other_tenant)
    )
    assert put.status_code == 204
    deleted = client.delete(f"/v1/users/{A_USER}?hardDelete=true", headers=gs_headers(other_tenant))
    assert deleted.json() == DELETED_BODY
    worker.drain()
    assert rows_of_tenant(snapshot(container), tenant_a) == a_rows
    assert client.get(f"/v1/users/{A_USER}", headers=gs_headers(tenant)).json() == alice
    names = [e["eventName"] for e in events_of(client, tenant, A_USER)["customEvents"]]
    assert names == ["a-event-1", "a-event-2"]
