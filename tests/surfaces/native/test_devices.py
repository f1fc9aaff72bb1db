"""Native device endpoints: platform, timezone and info, which the vendor sets from its client SDK,
on ``PUT/GET /api/v1/devices/{rid}``. Errors are RFC 9457 problem details."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.headers import el_headers, gs_headers, native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import set_device, tags_count

RID = "native-phone"
FULL = {"platform": "ios", "timezone": "Asia/Tokyo", "info": {"model": "iPhone15,2", "os": "17"}}


def put_device(client: TestClient, tenant: Tenant, rid: str, body: Any) -> httpx2.Response:
    return client.put(f"/api/v1/devices/{rid}", json=body, headers=native_headers(tenant))


def assert_problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    """RFC 9457: the media type and the four members every problem carries."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(problem), problem
    assert isinstance(problem["type"], str)
    assert problem["type"]
    assert problem["title"] == HTTPStatus(status).phrase
    assert problem["status"] == status
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    return problem


# --- PUT and GET -----------------------------------------------------------------------------


def test_put_of_a_new_device_is_201_with_the_device(client: TestClient, tenant: Tenant) -> None:
    response = put_device(client, tenant, RID, FULL)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"registration_id": RID, **FULL, "alias": None, "tags": []}


def test_put_of_a_known_device_is_200_and_keeps_omitted_fields(
    client: TestClient, tenant: Tenant
) -> None:
    assert put_device(client, tenant, RID, FULL).status_code == 201
    response = put_device(client, tenant, RID, {"timezone": "Europe/Paris"})
    assert response.status_code == 200, response.text
    expected = {**FULL, "timezone": "Europe/Paris"}
    assert response.json() == {"registration_id": RID, **expected, "alias": None, "tags": []}


def test_put_replaces_info_whole(client: TestClient, tenant: Tenant) -> None:
    assert put_device(client, tenant, RID, FULL).status_code == 201
    assert put_device(client, tenant, RID, {"info": {"battery": 80}}).status_code == 200
    got = client.get(f"/api/v1/devices/{RID}", headers=native_headers(tenant)).json()
    assert got["info"] == {"battery": 80}


def test_put_of_a_device_registered_through_engagelab_is_200(
    client: TestClient, tenant: Tenant
) -> None:
    set_device(client, tenant, RID, add=["news"], alias="ann")
    response = put_device(client, tenant, RID, {"platform": "android"})
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == ["news"]
    assert response.json()["alias"] == "ann"


def test_get_shows_platform_timezone_info_tags_and_alias(
    client: TestClient, tenant: Tenant
) -> None:
    assert put_device(client, tenant, RID, FULL).status_code == 201
    set_device(client, tenant, RID, add=["vip", "news"], alias="ann")
    response = client.get(f"/api/v1/devices/{RID}", headers=native_headers(tenant))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "registration_id": RID,
        **FULL,
        "alias": "ann",
        "tags": ["news", "vip"],
    }


def test_setting_platform_keeps_engagelab_tags_and_alias(
    client: TestClient, tenant: Tenant
) -> None:
    set_device(client, tenant, RID, add=["news"], alias="ann")
    assert put_device(client, tenant, RID, FULL).status_code == 200
    got = client.get(f"/v4/devices/{RID}", headers=el_headers(tenant))
    assert got.json() == {"tags": ["news"], "alias": "ann"}


@pytest.mark.parametrize("platform", ["android", "ios", "hmos", "web"])
def test_every_documented_platform_is_accepted(
    client: TestClient, tenant: Tenant, platform: str
) -> None:
    response = put_device(client, tenant, RID, {"platform": platform})
    assert response.status_code == 201, response.text
    assert response.json()["platform"] == platform


def test_get_of_an_unknown_device_is_404_problem(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/api/v1/devices/nobody", headers=native_headers(tenant))
    assert_problem(response, 404)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "windows"}, "platform"),
        ({"platform": ""}, "platform"),
        ({"platform": 5}, "platform"),
        ({"platform": ["ios"]}, "platform"),
        ({"platform": "ios", "timezone": 9}, "timezone"),
        ({"platform": "ios", "timezone": ""}, "timezone"),
        ({"platform": "ios", "timezone": "x" * 65}, "timezone"),
        ({"platform": "ios", "info": "model X"}, "info"),
        ({"platform": "ios", "info": ["model X"]}, "info"),
        ([FULL], "body"),
    ],
    ids=repr,
)
def test_invalid_fields_are_422_problem_naming_the_field_and_change_nothing(
    client: TestClient, container: Container, tenant: Tenant, body: Any, field: str
) -> None:
    assert put_device(client, tenant, RID, {"platform": "android"}).status_code == 201
    before = snapshot(container)
    problem = assert_problem(put_device(client, tenant, RID, body), 422)
    assert problem["field"] == field
    assert snapshot(container) == before
    put_new = put_device(client, tenant, "other-phone", body)
    assert_problem(put_new, 422)
    assert snapshot(container) == before


@pytest.mark.parametrize("content", [b'{"platform": ', b"", b"not json"], ids=repr)
def test_malformed_json_is_400_problem_and_changes_nothing(
    client: TestClient, container: Container, tenant: Tenant, content: bytes
) -> None:
    before = snapshot(container)
    response = client.put(
        f"/api/v1/devices/{RID}",
        content=content,
        headers={**native_headers(tenant), "Content-Type": "application/json"},
    )
    assert_problem(response, 400)
    assert snapshot(container) == before


# --- authentication ---------------------------------------------------------------------------

BAD_AUTH: dict[str, dict[str, str]] = {
    "missing": {},
    "empty-bearer": {"Authorization": "Bearer "},
    "wrong-token": {"Authorization": "Bearer ob_not-a-real-token"},
    "basic-scheme": {"Authorization": "Basic ZGVtbzpkZW1v"},
}


@pytest.mark.parametrize("kind", list(BAD_AUTH))
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"/api/v1/devices/{RID}", FULL),
        ("GET", f"/api/v1/devices/{RID}", None),
        ("PUT", f"/api/v1/profiles/u1/devices/{RID}", None),
    ],
    ids=["put", "get", "own"],
)
def test_missing_or_wrong_bearer_token_is_401_problem_with_www_authenticate(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    kind: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    assert put_device(client, tenant, RID, {"platform": "android"}).status_code == 201
    before = snapshot(container)
    response = client.request(method, path, json=body, headers=BAD_AUTH[kind])
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(container) == before


def test_another_tenants_engagelab_secret_is_not_a_bearer_token(
    client: TestClient, tenant: Tenant
) -> None:
    token = tenant["engagelab"]["master_secret"]
    response = client.get(f"/api/v1/devices/{RID}", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)


# --- tenancy ----------------------------------------------------------------------------------


def test_another_tenants_device_is_404_and_its_put_makes_a_separate_device(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert put_device(client, tenant, RID, FULL).status_code == 201
    set_device(client, tenant, RID, add=["news"])
    got = client.get(f"/api/v1/devices/{RID}", headers=native_headers(other_tenant))
    assert_problem(got, 404)
    created = put_device(client, other_tenant, RID, {"platform": "web"})
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == []
    mine = client.get(f"/api/v1/devices/{RID}", headers=native_headers(tenant)).json()
    assert mine == {"registration_id": RID, **FULL, "alias": None, "tags": ["news"]}


def test_another_tenant_cannot_own_this_tenants_device(
    client: TestClient, container: Container, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert put_device(client, tenant, RID, FULL).status_code == 201
    user = {"identifyId": "b-user", "propertyKeys": ["AP-1"]}
    b_headers = gs_headers(other_tenant)
    assert client.post("/v1/users", json=user, headers=b_headers).status_code == 201
    before = snapshot(container)
    response = client.put(
        f"/api/v1/profiles/b-user/devices/{RID}", headers=native_headers(other_tenant)
    )
    assert_problem(response, 404)
    assert snapshot(container) == before


# --- platform filters read what was set here ----------------------------------------------


def test_tags_count_with_a_platform_filter_counts_only_devices_of_that_platform(
    client: TestClient, tenant: Tenant
) -> None:
    for rid, platform in (("a1", "android"), ("a2", "android"), ("i1", "ios"), ("h1", "hmos")):
        assert put_device(client, tenant, rid, {"platform": platform}).status_code == 201
        set_device(client, tenant, rid, add=["news"])
    set_device(client, tenant, "unknown-platform", add=["news"])
    assert tags_count(client, tenant, ["news"]) == {"news": 5}
    assert tags_count(client, tenant, ["news"], "android") == {"news": 2}
    assert tags_count(client, tenant, ["news"], "ios") == {"news": 1}
    assert tags_count(client, tenant, ["news"], "android,hmos") == {"news": 3}
    assert tags_count(client, tenant, ["news"], "web") == {"news": 0}
    assert put_device(client, tenant, "a2", {"platform": "web"}).status_code == 200
    assert tags_count(client, tenant, ["news"], "android") == {"news": 1}
    assert tags_count(client, tenant, ["news"], "web") == {"news": 1}
