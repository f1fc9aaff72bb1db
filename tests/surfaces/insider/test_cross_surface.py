"""Insider and Gainsight over one store: Gainsight's ``identifyId`` is the profile's ``uuid``
identifier, and deletion and revival on one surface hold on the other."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.jobs.worker import Worker
from tests.factories import gainsight_not_found, uid
from tests.support.headers import gs_headers
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import DELETED_BODY, add_event, create_user, events_of
from tests.surfaces.insider.support import (
    EMPTY,
    NO_SUCH_USER,
    assert_body,
    assert_json,
    call,
    ev,
    profile,
    upsert,
    user,
)

# Gainsight's factory event: 1_700_000_000_000 ms, attributes {"button": "save"}.
GAINSIGHT_EVENT = {"timestamp": "2023-11-14T22:13:20Z", "event_params": {"button": "save"}}


def gainsight_get(client: TestClient, tenant: Tenant, identify_id: str) -> Any:
    return client.get(f"/v1/users/{identify_id}", headers=gs_headers(tenant))


def without_modified_date(gs_user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in gs_user.items() if k != "lastModifiedDate"}


@pytest.fixture
def gs_user(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    """A Gainsight user with one custom event."""
    created = create_user(client, tenant, uid("gs"), customAttributes={"plan": "gold"})
    add_event(client, tenant, created["identifyId"])
    return created


def test_a_gainsight_user_is_found_by_insider_with_its_identify_id_as_uuid(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    identify_id = gs_user["identifyId"]
    response = profile(
        client,
        tenant,
        {"uuid": identify_id},
        attributes=["firstName", "lastName", "email", "custom", "uuid"],
        events={"wanted": [{"event_name": "clicked"}]},
    )
    assert_json(
        response,
        200,
        {
            "attributes": {
                "firstName": "Ada",
                "lastName": "Lovelace",
                "email": "person@example.com",
                "custom": {"plan": "gold"},
                "uuid": identify_id,
            },
            "events": {"clicked": [GAINSIGHT_EVENT]},
        },
    )


def test_an_insider_upsert_adding_an_email_keeps_the_gainsight_user_readable(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    identify_id = gs_user["identifyId"]
    upsert(
        client,
        tenant,
        user(
            {"uuid": identify_id, "email": "insider@example.com"},
            events=[ev("purchase", "2024-01-01T00:00:00Z", sku="s1")],
        ),
    )
    got = gainsight_get(client, tenant, identify_id)
    assert got.status_code == 200, got.text
    assert without_modified_date(got.json()) == without_modified_date(gs_user)
    # The new email finds the same person through Insider.
    found = profile(
        client,
        tenant,
        {"email": "insider@example.com"},
        attributes=["uuid"],
        events={"wanted": [{"event_name": "clicked"}, {"event_name": "purchase"}]},
    )
    assert_json(
        found,
        200,
        {
            "attributes": {"uuid": identify_id},
            "events": {
                "clicked": [GAINSIGHT_EVENT],
                "purchase": [{"timestamp": "2024-01-01T00:00:00Z", "event_params": {"sku": "s1"}}],
            },
        },
    )
    # ...and Gainsight lists the Insider event beside its own.
    names = [e["eventName"] for e in events_of(client, tenant, identify_id)["customEvents"]]
    assert sorted(names) == ["clicked", "purchase"]


def test_an_insider_delete_makes_the_gainsight_user_not_found(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any], worker: Worker
) -> None:
    identify_id = gs_user["identifyId"]
    response = call(client, tenant, "POST", "/delete", {"identifiers": {"uuid": identify_id}})
    assert_body(response, 200, EMPTY)
    got = gainsight_get(client, tenant, identify_id)
    assert got.status_code == 404
    assert got.json() == gainsight_not_found(identify_id)
    assert events_of(client, tenant, identify_id)["customEvents"] == []
    worker.drain()
    # A hard delete is final: the same identifyId now starts a new user with no history.
    fresh = create_user(client, tenant, identify_id)
    assert fresh["aptrinsicId"] != gs_user["aptrinsicId"]
    assert events_of(client, tenant, identify_id)["customEvents"] == []


def test_an_insider_delete_by_another_identifier_removes_the_gainsight_user(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    identify_id = gs_user["identifyId"]
    upsert(client, tenant, user({"uuid": identify_id, "custom": {"crm": "c-9"}}))
    response = call(client, tenant, "POST", "/delete", {"identifiers": {"custom": {"crm": "c-9"}}})
    assert_body(response, 200, EMPTY)
    assert gainsight_get(client, tenant, identify_id).status_code == 404


def test_a_gainsight_soft_delete_hides_the_user_from_insider_and_an_upsert_revives_it(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    identify_id = gs_user["identifyId"]
    deleted = client.delete(f"/v1/users/{identify_id}", headers=gs_headers(tenant))
    assert deleted.status_code == 200
    assert deleted.json() == DELETED_BODY
    assert_body(profile(client, tenant, {"uuid": identify_id}), 404, NO_SUCH_USER)
    assert_body(
        call(client, tenant, "DELETE", "/identity", {"identifiers": {"uuid": identify_id}}),
        404,
        NO_SUCH_USER,
    )

    upsert(client, tenant, user({"uuid": identify_id}, {"name": "Back"}))

    got = gainsight_get(client, tenant, identify_id)
    assert got.status_code == 200, got.text
    assert got.json()["aptrinsicId"] == gs_user["aptrinsicId"]
    assert [e["eventName"] for e in events_of(client, tenant, identify_id)["customEvents"]] == [
        "clicked"
    ]


def test_an_insider_merge_brings_a_soft_deleted_gainsight_users_history_to_the_survivor(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    identify_id = gs_user["identifyId"]
    upsert(client, tenant, user({"email": "active@example.com"}, {"name": "Active"}))
    deleted = client.delete(f"/v1/users/{identify_id}", headers=gs_headers(tenant))
    assert deleted.status_code == 200

    upsert(client, tenant, user({"email": "active@example.com", "uuid": identify_id}))

    response = profile(
        client,
        tenant,
        {"email": "active@example.com"},
        attributes=["name", "firstName", "uuid"],
        events={"wanted": [{"event_name": "clicked"}]},
    )
    assert_json(
        response,
        200,
        {
            "attributes": {"name": "Active", "firstName": "Ada", "uuid": identify_id},
            "events": {"clicked": [GAINSIGHT_EVENT]},
        },
    )
    assert gainsight_get(client, tenant, identify_id).status_code == 200


def test_an_insider_identifier_change_moves_the_gainsight_identify_id(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    old_id = gs_user["identifyId"]
    new_id = uid("gs")
    response = call(
        client,
        tenant,
        "PATCH",
        "/identity",
        {"old_identifier": {"uuid": old_id}, "new_identifier": {"uuid": new_id}},
    )
    assert_body(response, 200, EMPTY)
    assert gainsight_get(client, tenant, old_id).status_code == 404
    moved = gainsight_get(client, tenant, new_id)
    assert moved.status_code == 200, moved.text
    assert moved.json()["identifyId"] == new_id
    assert moved.json()["aptrinsicId"] == gs_user["aptrinsicId"]


@pytest.mark.parametrize("settings_overrides", [{"revival_window": "0s"}], ids=["no-window"])
def test_after_the_window_an_insider_upsert_starts_a_new_gainsight_user_without_history(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    identify_id = gs_user["identifyId"]
    assert client.delete(f"/v1/users/{identify_id}", headers=gs_headers(tenant)).status_code == 200
    upsert(client, tenant, user({"uuid": identify_id}))
    got = gainsight_get(client, tenant, identify_id)
    assert got.status_code == 200, got.text
    assert got.json()["aptrinsicId"] != gs_user["aptrinsicId"]
    assert got.json()["firstName"] == ""
    assert events_of(client, tenant, identify_id)["customEvents"] == []


def test_an_insider_delete_of_a_soft_deleted_gainsight_user_prevents_its_revival(
    client: TestClient, tenant: Tenant, gs_user: dict[str, Any]
) -> None:
    identify_id = gs_user["identifyId"]
    assert client.delete(f"/v1/users/{identify_id}", headers=gs_headers(tenant)).status_code == 200
    response = call(client, tenant, "POST", "/delete", {"identifiers": {"uuid": identify_id}})
    assert_body(response, 200, EMPTY)
    upsert(client, tenant, user({"uuid": identify_id}))
    got = gainsight_get(client, tenant, identify_id)
    assert got.status_code == 200, got.text
    assert got.json()["aptrinsicId"] != gs_user["aptrinsicId"]
    assert events_of(client, tenant, identify_id)["customEvents"] == []
