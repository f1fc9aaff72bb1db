"""Golden wire tests for the Gainsight PX user endpoints and API keys: requests and answers as
the vendor's own.

Lists and custom events: test_wire_lists_and_events.py; 413 and 429: test_wire_limits.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from tests.factories import gainsight_error, gainsight_event, gainsight_not_found, gainsight_user
from tests.support.clock import now_ms
from tests.support.headers import gs_headers
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import (
    DELETED_BODY,
    add_event,
    assert_error,
    create_user,
    events_of,
    list_users,
)

EMPTY_USER_FIELDS: dict[str, Any] = {
    "type": "USER",
    "gender": "",
    "email": "",
    "firstName": "",
    "lastName": "",
    "title": "",
    "phone": "",
    "role": "",
    "subscriptionId": "",
    "accountId": "",
    "sfdcContactId": "",
    "signUpDate": 0,
    "firstVisitDate": 0,
    "score": 0,
    "lastSeenDate": 0,
    "numberOfVisits": 0,
    "location": None,
    "customAttributes": None,
    "globalUnsubscribe": False,
}
USER_KEYS = {
    *EMPTY_USER_FIELDS,
    "aptrinsicId",
    "identifyId",
    "id",
    "propertyKeys",
    "createDate",
    "lastModifiedDate",
}


# --- POST /v1/users -------------------------------------------------------------------------


def test_created_user_with_only_required_fields_shows_every_field_empty(
    client: TestClient, tenant: Tenant
) -> None:
    before = now_ms()
    response = client.post(
        "/v1/users",
        json={"identifyId": "minimal-1", "propertyKeys": ["AP-1"]},
        headers=gs_headers(tenant),
    )
    after = now_ms()
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    user = response.json()
    assert set(user) == USER_KEYS
    assert before <= user["createDate"] <= after
    assert user["lastModifiedDate"] == user["createDate"]
    assert isinstance(user["aptrinsicId"], str)
    assert user["aptrinsicId"]
    assert {k: user[k] for k in EMPTY_USER_FIELDS} == EMPTY_USER_FIELDS
    assert user["identifyId"] == user["id"] == "minimal-1"
    assert user["propertyKeys"] == ["AP-1"]


def test_created_user_echoes_every_field_it_was_sent(client: TestClient, tenant: Tenant) -> None:
    sent: dict[str, Any] = {
        "identifyId": "full-1",
        "type": "LEAD",
        "gender": "FEMALE",
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "title": "Countess",
        "phone": "+441234567890",
        "role": "analyst",
        "subscriptionId": "sub-9",
        "accountId": "acct-7",
        "sfdcContactId": "003xx",
        "signUpDate": 1_600_000_000_000,
        "firstVisitDate": 1_600_000_001_000,
        "score": 42,
        "location": {"countryName": "United Kingdom", "city": "London", "latitude": 51.5},
        "propertyKeys": ["AP-1", "AP-2"],
        "customAttributes": {"plan": "gold", "seats": 3},
        "globalUnsubscribe": True,
    }
    response = client.post("/v1/users", json=sent, headers=gs_headers(tenant))
    assert response.status_code == 201
    user = response.json()
    assert set(user) == USER_KEYS
    for name, value in sent.items():
        assert user[name] == value, name
    assert user["id"] == "full-1"
    assert user["lastSeenDate"] == 0
    assert user["numberOfVisits"] == 0


def test_created_user_reads_back_identically(client: TestClient, tenant: Tenant) -> None:
    created = create_user(client, tenant, "readback-1", customAttributes={"a": 1})
    got = client.get("/v1/users/readback-1", headers=gs_headers(tenant))
    assert got.status_code == 200
    assert got.json() == created


def test_read_only_fields_sent_on_create_are_accepted_and_ignored(
    client: TestClient, tenant: Tenant
) -> None:
    before = now_ms()
    body = gainsight_user(
        "readonly-1",
        createDate=1,
        lastModifiedDate=2,
        id="someone-else",
        aptrinsicId="ffffffff",
        lastSeenDate=3,
        numberOfVisits=4,
    )
    response = client.post("/v1/users", json=body, headers=gs_headers(tenant))
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["createDate"] >= before
    assert user["lastModifiedDate"] >= before
    assert user["id"] == "readonly-1"
    assert user["aptrinsicId"] != "ffffffff"
    assert user["lastSeenDate"] == 0
    assert user["numberOfVisits"] == 0
    assert client.get("/v1/users/someone-else", headers=gs_headers(tenant)).status_code == 404


def test_creating_an_active_user_again_is_refused_as_possible_duplicate(
    client: TestClient, tenant: Tenant
) -> None:
    first = create_user(client, tenant, "dup-1", firstName="First")
    again = client.post(
        "/v1/users", json=gainsight_user("dup-1", firstName="Second"), headers=gs_headers(tenant)
    )
    assert_error(again, 400, "BAD_REQUEST")
    assert "possible duplicate" in again.json()["externalapierror"]["message"]
    assert client.get("/v1/users/dup-1", headers=gs_headers(tenant)).json() == first


@pytest.mark.parametrize(
    "body",
    [
        {"propertyKeys": ["AP-1"], "email": "x@example.com"},
        {"identifyId": "", "propertyKeys": ["AP-1"]},
        {"identifyId": None, "propertyKeys": ["AP-1"]},
        {"identifyId": "no-keys-1"},
        {"identifyId": "no-keys-2", "propertyKeys": []},
        {"identifyId": "no-keys-3", "propertyKeys": [""]},
        {"identifyId": "no-keys-4", "propertyKeys": None},
    ],
    ids=[
        "no-identifyId",
        "empty-identifyId",
        "null-identifyId",
        "no-propertyKeys",
        "empty-propertyKeys",
        "blank-propertyKey",
        "null-propertyKeys",
    ],
)
def test_create_without_identify_id_or_property_keys_is_a_bad_request(
    client: TestClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    response = client.post("/v1/users", json=body, headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")
    assert list_users(client, tenant)["totalHits"] == 0


# --- PUT /v1/users/{identifyId} and PUT /v1/users/update ------------------------------------


def test_put_by_path_updates_only_the_fields_sent(client: TestClient, tenant: Tenant) -> None:
    created = create_user(
        client, tenant, "put-1", email="a@example.com", customAttributes={"plan": "gold"}
    )
    response = client.put(
        "/v1/users/put-1", json={"firstName": "Grace", "score": 7}, headers=gs_headers(tenant)
    )
    assert response.status_code == 204
    assert response.content == b""
    user = client.get("/v1/users/put-1", headers=gs_headers(tenant)).json()
    assert user["firstName"] == "Grace"
    assert user["score"] == 7
    for kept in ("email", "lastName", "propertyKeys", "customAttributes", "createDate", "id"):
        assert user[kept] == created[kept], kept
    assert user["lastModifiedDate"] >= created["lastModifiedDate"]


def test_put_update_addresses_the_user_named_in_the_body(
    client: TestClient, tenant: Tenant
) -> None:
    created = create_user(client, tenant, "put-2")
    response = client.put(
        "/v1/users/update",
        json={"identifyId": "put-2", "lastName": "Hopper"},
        headers=gs_headers(tenant),
    )
    assert response.status_code == 204
    assert response.content == b""
    user = client.get("/v1/users/put-2", headers=gs_headers(tenant)).json()
    assert user["lastName"] == "Hopper"
    assert user["firstName"] == created["firstName"]
    assert user["email"] == created["email"]


def test_put_of_an_unknown_user_is_not_found_on_both_paths(
    client: TestClient, tenant: Tenant
) -> None:
    by_path = client.put("/v1/users/ghost-1", json={"firstName": "X"}, headers=gs_headers(tenant))
    assert by_path.status_code == 404
    assert by_path.json() == gainsight_not_found("ghost-1")
    by_body = client.put(
        "/v1/users/update",
        json={"identifyId": "ghost-2", "firstName": "X"},
        headers=gs_headers(tenant),
    )
    assert by_body.status_code == 404
    assert by_body.json() == gainsight_not_found("ghost-2")
    assert list_users(client, tenant)["totalHits"] == 0


# --- GET /v1/users/{identifyId} -------------------------------------------------------------


def test_get_of_an_unknown_user_answers_the_exact_not_found_envelope(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/v1/users/u1", headers=gs_headers(tenant))
    assert response.status_code == 404
    assert response.json() == {
        "externalapierror": {
            "status": "NOT_FOUND",
            "message": "User was not found for parameters {id=u1}",
            "debugMessage": None,
            "subErrors": None,
        }
    }


# Starlette's TestClient unquotes an already-decoded path a second time, so ids that themselves
# contain "%XX" cannot be pinned here; the system suite, on a real server, can.
@pytest.mark.parametrize(
    "identify_id",
    [
        "team/alice",
        "alice smith",
        "a+b@example.com",
        "q?x=1&y=2#frag",
        "müller-ü",
        "slash/ and space",
        "trailing/",
        "/leading",
    ],
)
def test_url_encoded_ids_work_on_every_path_endpoint(
    client: TestClient, tenant: Tenant, identify_id: str
) -> None:
    path = f"/v1/users/{quote(identify_id, safe='')}"
    created = create_user(client, tenant, identify_id)
    assert created["identifyId"] == identify_id
    got = client.get(path, headers=gs_headers(tenant))
    assert got.status_code == 200
    assert got.json()["identifyId"] == identify_id
    put = client.put(path, json={"firstName": "Encoded"}, headers=gs_headers(tenant))
    assert put.status_code == 204
    assert client.get(path, headers=gs_headers(tenant)).json()["firstName"] == "Encoded"
    event = add_event(client, tenant, identify_id)
    assert event["identifyId"] == identify_id
    assert events_of(client, tenant, identify_id)["totalHits"] == 1
    deleted = client.delete(path, headers=gs_headers(tenant))
    assert deleted.status_code == 200
    assert deleted.json() == DELETED_BODY
    gone = client.get(path, headers=gs_headers(tenant))
    assert gone.status_code == 404
    assert gone.json() == gainsight_not_found(identify_id)


# --- DELETE /v1/users/{identifyId} and DELETE /v1/users/delete ------------------------------


@pytest.mark.parametrize("query", ["", "?hardDelete=false", "?hardDelete=", "?hardDelete=true"])
def test_delete_by_path_answers_the_vendors_empty_200_body_and_hides_the_user(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    create_user(client, tenant, "del-1")
    response = client.delete(f"/v1/users/del-1{query}", headers=gs_headers(tenant))
    assert response.status_code == 200
    assert response.json() == {"body": {}, "statusCode": "200", "statusCodeValue": 200}
    gone = client.get("/v1/users/del-1", headers=gs_headers(tenant))
    assert gone.status_code == 404
    assert gone.json() == gainsight_not_found("del-1")
    assert list_users(client, tenant)["totalHits"] == 0


def test_delete_of_an_unknown_user_is_not_found(client: TestClient, tenant: Tenant) -> None:
    for query in ("", "?hardDelete=true"):
        response = client.delete(f"/v1/users/ghost-9{query}", headers=gs_headers(tenant))
        assert response.status_code == 404
        assert response.json() == gainsight_not_found("ghost-9")


def test_deleting_a_deleted_user_again_is_not_found(client: TestClient, tenant: Tenant) -> None:
    create_user(client, tenant, "twice-1")
    assert client.delete("/v1/users/twice-1", headers=gs_headers(tenant)).status_code == 200
    again = client.delete("/v1/users/twice-1", headers=gs_headers(tenant))
    assert again.status_code == 404
    assert again.json() == gainsight_not_found("twice-1")


@pytest.mark.parametrize("flag", ["bogus", "yes", "1"])
def test_delete_with_a_hard_delete_flag_that_is_not_boolean_is_refused(
    client: TestClient, tenant: Tenant, flag: str
) -> None:
    created = create_user(client, tenant, "keep-1")
    response = client.delete(f"/v1/users/keep-1?hardDelete={flag}", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")
    assert client.get("/v1/users/keep-1", headers=gs_headers(tenant)).json() == created


@pytest.mark.parametrize("query", ["", "?hardDelete=true"])
def test_delete_by_body_answers_the_vendors_empty_200_body_and_hides_the_user(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    create_user(client, tenant, "body-del-1")
    response = client.request(
        "DELETE",
        f"/v1/users/delete{query}",
        json={"identifyId": "body-del-1"},
        headers=gs_headers(tenant),
    )
    assert response.status_code == 200
    assert response.json() == DELETED_BODY
    assert client.get("/v1/users/body-del-1", headers=gs_headers(tenant)).status_code == 404


def test_delete_by_body_of_an_unknown_user_is_not_found(client: TestClient, tenant: Tenant) -> None:
    response = client.request(
        "DELETE", "/v1/users/delete", json={"identifyId": "ghost-3"}, headers=gs_headers(tenant)
    )
    assert response.status_code == 404
    assert response.json() == gainsight_not_found("ghost-3")


# --- authentication -------------------------------------------------------------------------

ENDPOINTS = [
    ("POST", "/v1/users"),
    ("GET", "/v1/users"),
    ("GET", "/v1/users/auth-1"),
    ("PUT", "/v1/users/auth-1"),
    ("PUT", "/v1/users/update"),
    ("DELETE", "/v1/users/auth-1"),
    ("DELETE", "/v1/users/delete"),
    ("POST", "/v1/events/custom"),
    ("GET", "/v1/events/custom"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
@pytest.mark.parametrize("key", [None, "", "wrong-key"], ids=["missing", "empty", "wrong"])
def test_missing_or_wrong_api_key_is_unauthorized_on_every_endpoint(
    client: TestClient, tenant: Tenant, method: str, path: str, key: str | None
) -> None:
    create_user(client, tenant, "auth-1")
    headers = {} if key is None else {"X-APTRINSIC-API-KEY": key}
    body = gainsight_user("auth-1") if method == "POST" and path == "/v1/users" else None
    if path == "/v1/events/custom" and method == "POST":
        body = gainsight_event("auth-1")
    if path in ("/v1/users/update", "/v1/users/delete"):
        body = {"identifyId": "auth-1"}
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == gainsight_error("UNAUTHORIZED", "Unauthorized or bad API Key")
    assert client.get("/v1/users/auth-1", headers=gs_headers(tenant)).status_code == 200
    assert events_of(client, tenant, "auth-1")["totalHits"] == 0


def test_api_key_header_name_is_case_insensitive(client: TestClient, tenant: Tenant) -> None:
    key = tenant["gainsight"]["api_key"]
    response = client.get("/v1/users", headers={"x-aptrinsic-api-key": key})
    assert response.status_code == 200


@pytest.mark.parametrize("surface", ["native", "engagelab", "insider"])
def test_another_surfaces_secret_is_not_a_gainsight_key(
    client: TestClient, tenant: Tenant, surface: str
) -> None:
    secret = next(
        v for k, v in tenant[surface].items() if k in ("token", "master_secret", "request_token")
    )
    response = client.get("/v1/users", headers={"X-APTRINSIC-API-KEY": secret})
    assert response.status_code == 401
    assert response.json() == gainsight_error("UNAUTHORIZED", "Unauthorized or bad API Key")
