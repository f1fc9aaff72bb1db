"""Golden wire tests for Gainsight PX's model metadata and the lists Obliviate holds nothing
of: ``/v1/admin/model/{user,account}/attributes`` answers a JSON array of AttributeMetadata
(the standard attributes, then every custom attribute the tenant stores, and nothing of a
deleted user's), ``/v1/feature``, ``/v1/segment``, ``/v1/engagement``, ``/v1/articles`` and
``/v1/kcbot`` answer a last, empty page, and the other event histories an empty scroll page."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.http.gainsight.catalog import CONTENT_LISTS, EVENT_HISTORIES
from tests.factories import gainsight_error
from tests.support.headers import gs_headers
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import assert_error, create_user

METADATA_FIELDS = {
    "id",
    "name",
    "apiName",
    "internalName",
    "description",
    "type",
    "state",
    "origin",
    "createdDate",
    "modifiedDate",
    "defaultValue",
}


def attributes(client: TestClient, tenant: Tenant, model: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/admin/model/{model}/attributes", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    assert isinstance(found, list)
    assert all(set(item) == METADATA_FIELDS for item in found)
    return found


def by_api_name(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["apiName"]: item for item in found}


@pytest.mark.parametrize(
    ("model", "standard"),
    [
        ("user", {"email": "STRING", "signUpDate": "DATE_TIME", "score": "NUMBER"}),
        ("account", {"name": "STRING", "renewalDate": "DATE_TIME", "numberOfEmployees": "NUMBER"}),
    ],
)
def test_a_new_tenant_has_the_standard_attributes_only(
    client: TestClient, tenant: Tenant, model: str, standard: dict[str, str]
) -> None:
    found = attributes(client, tenant, model)
    assert {item["origin"] for item in found} == {"DEFAULT"}
    assert {item["state"] for item in found} == {"ENABLED"}
    named = by_api_name(found)
    for api_name, kind in standard.items():
        assert named[api_name]["type"] == kind
    assert len({item["id"] for item in found}) == len(found)


def test_custom_user_attributes_are_listed_with_their_type_and_dates(
    client: TestClient, tenant: Tenant
) -> None:
    first = create_user(client, tenant, "c-1", customAttributes={"plan": "gold", "seats": 3})
    create_user(client, tenant, "c-2", customAttributes={"trial": True, "plan": "free"})
    custom = {
        i["apiName"]: i for i in attributes(client, tenant, "user") if i["origin"] == "CUSTOM"
    }
    assert set(custom) == {"plan", "seats", "trial"}
    assert (custom["plan"]["type"], custom["seats"]["type"], custom["trial"]["type"]) == (
        "STRING",
        "NUMBER",
        "BOOLEAN",
    )
    assert custom["plan"]["createdDate"] == first["createDate"]
    assert custom["plan"]["modifiedDate"] >= custom["plan"]["createdDate"]


@pytest.mark.parametrize("hard", ["true", "false"])
def test_a_deleted_users_custom_attributes_vanish_from_the_model(
    client: TestClient, tenant: Tenant, hard: str
) -> None:
    create_user(client, tenant, "keeper", customAttributes={"shared": 1})
    create_user(client, tenant, "leaver", customAttributes={"shared": 2, "leaverOnlyMarker": "x"})
    assert "leaverOnlyMarker" in by_api_name(attributes(client, tenant, "user"))
    response = client.delete(f"/v1/users/leaver?hardDelete={hard}", headers=gs_headers(tenant))
    assert response.status_code == 200
    names = by_api_name(attributes(client, tenant, "user"))
    assert "leaverOnlyMarker" not in names
    assert "shared" in names


def test_custom_account_attributes_are_listed_and_another_tenants_are_not(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    response = client.post(
        "/v1/accounts",
        json={"id": "co", "name": "Co", "propertyKeys": ["k"], "customAttributes": {"arr": 5}},
        headers=gs_headers(tenant),
    )
    assert response.status_code == 201
    create_user(client, tenant, "mine", customAttributes={"secretField": 1})
    assert by_api_name(attributes(client, tenant, "account"))["arr"]["type"] == "NUMBER"
    for model in ("user", "account"):
        theirs = attributes(client, other_tenant, model)
        assert {item["origin"] for item in theirs} == {"DEFAULT"}


def test_an_unknown_model_type_is_not_found_in_the_gainsight_envelope(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/v1/admin/model/engagement/attributes", headers=gs_headers(tenant))
    assert response.status_code == 404
    assert response.json() == gainsight_error("NOT_FOUND", "Type not found: engagement")


@pytest.mark.parametrize("spec", CONTENT_LISTS, ids=[s.path for s in CONTENT_LISTS])
def test_content_lists_answer_one_empty_last_page(
    client: TestClient, tenant: Tenant, spec: Any
) -> None:
    first = client.get(spec.path, headers=gs_headers(tenant))
    assert first.status_code == 200
    assert first.json() == {spec.key: [], "pageNumber": 0, "isLastPage": True}
    later = client.get(
        spec.path,
        params={"pageNumber": "3", "pageSize": str(spec.max_page_size)},
        headers=gs_headers(tenant),
    )
    assert later.json() == {spec.key: [], "pageNumber": 3, "isLastPage": True}
    for bad in ({"pageSize": str(spec.max_page_size + 1)}, {"pageSize": "0"}, {"pageNumber": "-1"}):
        assert_error(
            client.get(spec.path, params=bad, headers=gs_headers(tenant)), 400, "BAD_REQUEST"
        )


def test_the_engagement_list_takes_a_date_filter_and_the_others_take_none(
    client: TestClient, tenant: Tenant
) -> None:
    window = {"filter": "date>=2026-11-01T00:00:00Z;date<=2026-11-30T23:59:59Z"}
    assert (
        client.get("/v1/engagement", params=window, headers=gs_headers(tenant)).status_code == 200
    )
    bad = client.get("/v1/engagement", params={"filter": "date>=soon"}, headers=gs_headers(tenant))
    assert_error(bad, 400, "BAD_REQUEST")
    assert_error(
        client.get("/v1/feature", params=window, headers=gs_headers(tenant)), 400, "BAD_REQUEST"
    )


@pytest.mark.parametrize("spec", EVENT_HISTORIES, ids=[s.path for s in EVENT_HISTORIES])
def test_event_histories_answer_an_empty_scroll_page_and_check_their_input(
    client: TestClient, tenant: Tenant, spec: Any
) -> None:
    window = "date>=2026-11-01T00:00:00Z;date<=2026-11-30T23:59:59Z"
    response = client.get(
        spec.path,
        params={"filter": window, "sort": "date", "pageSize": "500"},
        headers=gs_headers(tenant),
    )
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {spec.key, "totalHits", "scrollId"}
    assert page[spec.key] == []
    assert page["totalHits"] == 0
    again = client.get(spec.path, params={"scrollId": page["scrollId"]}, headers=gs_headers(tenant))
    assert again.json()[spec.key] == []
    for bad in (
        {"filter": "date>=soon"},
        {"filter": "colour==red"},
        {"sort": "colour"},
        {"pageSize": "1001"},
    ):
        assert_error(
            client.get(spec.path, params=bad, headers=gs_headers(tenant)), 400, "BAD_REQUEST"
        )


@pytest.mark.parametrize(
    "path",
    ["/v1/admin/model/user/attributes", "/v1/feature", "/v1/events/session", "/v1/accounts"],
)
def test_every_new_list_refuses_a_missing_key(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.json() == gainsight_error("UNAUTHORIZED", "Unauthorized or bad API Key")
    assert response.status_code == 401
