"""Soft delete, revival and hard delete through the Gainsight wire.

The revival window is two seconds here. Tests that need it to end poll the app's clock against
the deadline stored on the profile, with a bounded wait, instead of sleeping blindly.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from obliviate.storage import tables as t
from tests.factories import gainsight_event, gainsight_not_found, gainsight_user
from tests.support.headers import gs_headers
from tests.support.rows import receipts_of, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import (
    DELETED_BODY,
    add_event,
    create_user,
    events_of,
    person_rows,
    profile_id_of,
)

UID = "rev-1"
NO_ROWS = {"events": 0, "identifiers": 0, "profiles": 0}
RECEIPT_COUNTS = {
    "aliases": 0,
    # The profile's key, destroyed as its purge began.
    "keys": 1,
    "tags": 0,
    "devices": 0,
    "events": 3,
    "identifiers": 1,
    "merges": 0,
    "profiles": 1,
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"revival_window": "2s"}


@pytest.fixture
def user_with_history(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    user = create_user(client, tenant, UID, email="rev@example.com", customAttributes={"k": 1})
    for n in range(3):
        add_event(client, tenant, UID, f"e{n}", date=1_000 + n)
    return user


def soft_delete(client: TestClient, tenant: Tenant, identify_id: str = UID) -> None:
    response = client.delete(f"/v1/users/{identify_id}", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    assert response.json() == DELETED_BODY


def hard_delete(client: TestClient, tenant: Tenant, identify_id: str = UID) -> None:
    response = client.delete(f"/v1/users/{identify_id}?hardDelete=true", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    assert response.json() == DELETED_BODY


def wait_until_window_ends(container: Container, tenant: Tenant, user: dict[str, Any]) -> None:
    """Poll the app's clock until it passes the deadline stored on the soft-deleted profile."""
    with container.engine.connect() as conn:
        deadline = conn.execute(
            select(t.profiles.c.revivable_until).where(
                t.profiles.c.tenant_id == tenant_id_of(container, tenant),
                t.profiles.c.profile_id == profile_id_of(user),
            )
        ).scalar_one()
    assert deadline is not None
    give_up = time.monotonic() + 10
    while container.clock.now_ms() < deadline:
        assert time.monotonic() < give_up, "the revival window never ended"
        time.sleep(0.05)


def event_names(client: TestClient, tenant: Tenant, identify_id: str = UID) -> list[str]:
    page = events_of(client, tenant, identify_id)
    return [e["eventName"] for e in page["customEvents"]]


# --- soft delete hides --------------------------------------------------------------------


@pytest.mark.usefixtures("user_with_history")
def test_soft_deleted_user_is_hidden_from_get_list_and_events(
    client: TestClient, tenant: Tenant
) -> None:
    soft_delete(client, tenant)
    got = client.get(f"/v1/users/{UID}", headers=gs_headers(tenant))
    assert got.status_code == 404
    assert got.json() == gainsight_not_found(UID)
    users = client.get("/v1/users", headers=gs_headers(tenant)).json()
    assert users["users"] == []
    assert users["totalHits"] == 0
    filtered = client.get(f"/v1/users?filter=identifyId=={UID}", headers=gs_headers(tenant))
    assert filtered.json()["totalHits"] == 0
    events = events_of(client, tenant, UID)
    assert events["customEvents"] == []
    assert events["totalHits"] == 0
    everything = client.get("/v1/events/custom", headers=gs_headers(tenant)).json()
    assert everything["customEvents"] == []
    assert everything["totalHits"] == 0


# --- revival within the window ------------------------------------------------------------


def test_create_within_window_revives_the_user_with_its_full_event_history(
    client: TestClient, tenant: Tenant, user_with_history: dict[str, Any]
) -> None:
    before = events_of(client, tenant, UID)["customEvents"]
    soft_delete(client, tenant)
    response = client.post(
        "/v1/users", json=gainsight_user(UID, firstName="Revived"), headers=gs_headers(tenant)
    )
    assert response.status_code == 201, response.text
    revived = response.json()
    assert revived["aptrinsicId"] == user_with_history["aptrinsicId"]
    assert revived["createDate"] == user_with_history["createDate"]
    assert revived["firstName"] == "Revived"
    assert revived["customAttributes"] == {"k": 1}
    assert client.get(f"/v1/users/{UID}", headers=gs_headers(tenant)).json() == revived
    assert events_of(client, tenant, UID)["customEvents"] == before
    assert client.get("/v1/users", headers=gs_headers(tenant)).json()["totalHits"] == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/v1/users/{UID}", {"lastName": "Back"}),
        ("/v1/users/update", {"identifyId": UID, "lastName": "Back"}),
    ],
    ids=["by-path", "by-body"],
)
def test_update_within_window_revives_the_user_with_its_full_event_history(
    client: TestClient,
    tenant: Tenant,
    user_with_history: dict[str, Any],
    path: str,
    body: dict[str, Any],
) -> None:
    before = events_of(client, tenant, UID)["customEvents"]
    soft_delete(client, tenant)
    response = client.put(path, json=body, headers=gs_headers(tenant))
    assert response.status_code == 204, response.text
    revived = client.get(f"/v1/users/{UID}", headers=gs_headers(tenant)).json()
    assert revived["aptrinsicId"] == user_with_history["aptrinsicId"]
    assert revived["lastName"] == "Back"
    assert revived["email"] == "rev@example.com"
    assert events_of(client, tenant, UID)["customEvents"] == before
    add_event(client, tenant, UID, "after-revival", date=9_000)
    assert event_names(client, tenant) == ["e0", "e1", "e2", "after-revival"]


@pytest.mark.usefixtures("user_with_history")
def test_events_sent_while_soft_deleted_are_not_part_of_the_revived_history(
    client: TestClient, tenant: Tenant
) -> None:
    soft_delete(client, tenant)
    refused = client.post(
        "/v1/events/custom", json=gainsight_event(UID, "ghost"), headers=gs_headers(tenant)
    )
    assert refused.status_code == 404
    assert refused.json() == gainsight_not_found(UID)
    assert client.put(f"/v1/users/{UID}", json={}, headers=gs_headers(tenant)).status_code == 204
    assert event_names(client, tenant) == ["e0", "e1", "e2"]


# --- after the window ---------------------------------------------------------------------


def test_create_after_window_makes_a_brand_new_user_and_the_old_profile_is_purged(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    user_with_history: dict[str, Any],
) -> None:
    soft_delete(client, tenant)
    wait_until_window_ends(container, tenant, user_with_history)
    fresh = create_user(client, tenant, UID, firstName="Fresh")
    assert fresh["aptrinsicId"] != user_with_history["aptrinsicId"]
    assert fresh["createDate"] > user_with_history["createDate"]
    assert fresh["customAttributes"] is None
    assert events_of(client, tenant, UID)["totalHits"] == 0
    worker.sweep_expired()
    worker.drain()
    tenant_id = tenant_id_of(container, tenant)
    assert person_rows(container, tenant_id, profile_id_of(user_with_history)) == NO_ROWS
    assert person_rows(container, tenant_id, profile_id_of(fresh)) == {
        "events": 0,
        "identifiers": 1,
        "profiles": 1,
    }
    assert client.get(f"/v1/users/{UID}", headers=gs_headers(tenant)).json() == fresh
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["reason"] == "revival_window_ended"
    assert receipt["counts"] == RECEIPT_COUNTS


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/v1/users/{UID}", {"lastName": "Late"}),
        ("/v1/users/update", {"identifyId": UID, "lastName": "Late"}),
    ],
    ids=["by-path", "by-body"],
)
def test_update_after_window_is_not_found_and_revives_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    user_with_history: dict[str, Any],
    path: str,
    body: dict[str, Any],
) -> None:
    soft_delete(client, tenant)
    wait_until_window_ends(container, tenant, user_with_history)
    response = client.put(path, json=body, headers=gs_headers(tenant))
    assert response.status_code == 404
    assert response.json() == gainsight_not_found(UID)
    assert client.get(f"/v1/users/{UID}", headers=gs_headers(tenant)).status_code == 404


def test_sweep_after_window_purges_every_row_of_the_profile_and_writes_a_receipt(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    user_with_history: dict[str, Any],
) -> None:
    soft_delete(client, tenant)
    wait_until_window_ends(container, tenant, user_with_history)
    assert worker.sweep_expired() >= 1
    worker.drain()
    tenant_id = tenant_id_of(container, tenant)
    assert person_rows(container, tenant_id, profile_id_of(user_with_history)) == NO_ROWS
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["reason"] == "revival_window_ended"
    assert receipt["counts"] == RECEIPT_COUNTS
    assert receipt["surface"] == "gainsight"
    assert UID not in repr(receipt)
    fresh = create_user(client, tenant, UID)
    assert fresh["aptrinsicId"] != user_with_history["aptrinsicId"]
    assert events_of(client, tenant, UID)["totalHits"] == 0


# --- hard delete --------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["path", "body"])
def test_hard_delete_hides_at_once_and_a_create_right_after_starts_with_no_history(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    user_with_history: dict[str, Any],
    via: str,
) -> None:
    if via == "path":
        hard_delete(client, tenant)
    else:
        response = client.request(
            "DELETE",
            "/v1/users/delete?hardDelete=true",
            json={"identifyId": UID},
            headers=gs_headers(tenant),
        )
        assert response.status_code == 200
        assert response.json() == DELETED_BODY
    got = client.get(f"/v1/users/{UID}", headers=gs_headers(tenant))
    assert got.status_code == 404
    assert got.json() == gainsight_not_found(UID)
    assert events_of(client, tenant, UID)["totalHits"] == 0
    again = client.delete(f"/v1/users/{UID}", headers=gs_headers(tenant))
    assert again.status_code == 404
    # Well within the window: still a brand-new user.
    fresh = create_user(client, tenant, UID)
    assert fresh["aptrinsicId"] != user_with_history["aptrinsicId"]
    assert fresh["customAttributes"] is None
    assert events_of(client, tenant, UID)["totalHits"] == 0
    worker.drain()
    tenant_id = tenant_id_of(container, tenant)
    assert person_rows(container, tenant_id, profile_id_of(user_with_history)) == NO_ROWS
    assert person_rows(container, tenant_id, profile_id_of(fresh))["profiles"] == 1
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["reason"] == "hard_delete"
    assert receipt["surface"] == "gainsight"
    assert receipt["counts"] == RECEIPT_COUNTS
    assert UID not in repr(receipt)


def test_hard_delete_of_a_soft_deleted_user_is_allowed_and_prevents_revival(
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    user_with_history: dict[str, Any],
) -> None:
    soft_delete(client, tenant)
    hard_delete(client, tenant)
    fresh = create_user(client, tenant, UID)
    assert fresh["aptrinsicId"] != user_with_history["aptrinsicId"]
    assert events_of(client, tenant, UID)["totalHits"] == 0
    put = client.put("/v1/users/update", json={"identifyId": UID}, headers=gs_headers(tenant))
    assert put.status_code == 204
    assert events_of(client, tenant, UID)["totalHits"] == 0
    worker.drain()
    tenant_id = tenant_id_of(container, tenant)
    assert person_rows(container, tenant_id, profile_id_of(user_with_history)) == NO_ROWS
    [receipt] = receipts_of(container, tenant_id)
    assert receipt["reason"] == "hard_delete"
    assert receipt["counts"] == RECEIPT_COUNTS


@pytest.mark.usefixtures("user_with_history")
def test_update_right_after_a_hard_delete_is_not_found(client: TestClient, tenant: Tenant) -> None:
    hard_delete(client, tenant)
    response = client.put(f"/v1/users/{UID}", json={"lastName": "X"}, headers=gs_headers(tenant))
    assert response.status_code == 404
    assert response.json() == gainsight_not_found(UID)
