"""Native profiles: PUT/GET/list with a cursor, batches of events, soft and hard deletes, restore
within the revival window, and single-profile dry runs whose counts the real deletion then reports
exactly."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.support.headers import native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.native.support import (
    API,
    HISTORY_COUNTS,
    add_events,
    assert_problem,
    create_profile,
    get_profile,
    own_device,
    person_with_history,
    put_profile,
    receipts,
    run_until_terminal,
)


def delete(client: TestClient, tenant: Tenant, uuid: str, query: str = "") -> Any:
    return client.delete(f"{API}/profiles/{uuid}{query}", headers=native_headers(tenant))


def restore(client: TestClient, tenant: Tenant, uuid: str) -> Any:
    return client.post(f"{API}/profiles/{uuid}/restore", headers=native_headers(tenant))


def dry_run_counts(client: TestClient, tenant: Tenant, uuid: str, mode: str = "hard") -> Any:
    response = delete(client, tenant, uuid, f"?mode={mode}&dry_run=true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert body["mode"] == mode
    return body["counts"]


def identifiers_of(profile: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i["type"], i["value"]) for i in profile["identifiers"]}


# --- PUT, GET, list -----------------------------------------------------------------------------


def test_put_of_a_new_profile_is_201_and_get_returns_identifiers_and_attributes(
    client: TestClient, tenant: Tenant
) -> None:
    response = put_profile(
        client,
        tenant,
        "p-1",
        {"name": "Ada", "plan": "pro"},
        {"email": "Ada@Example.com", "phone_number": "+6598765432", "custom": {"crm": "c-9"}},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["uuid"] == "p-1"
    assert created["attributes"] == {"name": "Ada", "plan": "pro"}
    assert identifiers_of(created) == {
        ("uuid", "p-1"),
        ("email", "ada@example.com"),
        ("phone_number", "+6598765432"),
        ("custom.crm", "c-9"),
    }
    got = get_profile(client, tenant, "p-1")
    assert got.status_code == 200, got.text
    assert got.json() == created


def test_put_of_a_known_profile_is_200_and_merges_attributes(
    client: TestClient, tenant: Tenant
) -> None:
    assert put_profile(client, tenant, "p-1", {"name": "Ada", "plan": "pro"}).status_code == 201
    response = put_profile(client, tenant, "p-1", {"plan": "team"}, {"email": "ada@example.com"})
    assert response.status_code == 200, response.text
    assert response.json()["attributes"] == {"name": "Ada", "plan": "team"}
    assert identifiers_of(get_profile(client, tenant, "p-1").json()) == {
        ("uuid", "p-1"),
        ("email", "ada@example.com"),
    }


def test_get_of_an_unknown_profile_is_404_problem(client: TestClient, tenant: Tenant) -> None:
    assert_problem(get_profile(client, tenant, "nobody"), 404, "not-found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"attributes": "x"}, "attributes"),
        ({"identifiers": {"email": "not-an-email"}}, "identifiers.email"),
        ({"identifiers": {"phone_number": "12345"}}, "identifiers.phone_number"),
        ({"unknown": 1}, "unknown"),
    ],
    ids=repr,
)
def test_invalid_profile_bodies_are_422_naming_the_field_and_change_nothing(
    client: TestClient, container: Container, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    before = snapshot(container)
    response = client.put(f"{API}/profiles/p-1", json=body, headers=native_headers(tenant))
    assert assert_problem(response, 422, "invalid-field")["field"] == field
    assert snapshot(container) == before


def test_cursor_pages_return_every_live_profile_exactly_once(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    uuids = [f"page-{n}" for n in range(8)]
    for uuid in uuids:
        create_profile(client, tenant, uuid)
    create_profile(client, other_tenant, "theirs")
    assert delete(client, tenant, "page-3").status_code == 200
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        response = client.get(f"{API}/profiles{query}", headers=native_headers(tenant))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["profiles"]) <= 3
        seen += [p["uuid"] for p in page["profiles"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None, "paging did not end"
    assert sorted(seen) == sorted(u for u in uuids if u != "page-3")
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("query", ["?limit=0", "?limit=1001", "?limit=x", "?cursor=abc"])
def test_bad_paging_parameters_are_422(client: TestClient, tenant: Tenant, query: str) -> None:
    assert_problem(client.get(f"{API}/profiles{query}", headers=native_headers(tenant)), 422)


# --- events -------------------------------------------------------------------------------------


def test_a_batch_of_events_is_201_with_the_number_accepted(
    client: TestClient, tenant: Tenant
) -> None:
    create_profile(client, tenant, "ev-1")
    add_events(client, tenant, "ev-1", 5)
    add_events(client, tenant, "ev-1", 2)
    assert dry_run_counts(client, tenant, "ev-1")["events"] == 7


def test_events_for_an_unknown_or_soft_deleted_profile_are_404_and_not_stored(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "ev-1")
    assert delete(client, tenant, "ev-1").status_code == 200
    before = snapshot(container)
    for uuid in ("ev-1", "nobody"):
        response = client.post(
            f"{API}/profiles/{uuid}/events",
            json={"events": [{"name": "late"}]},
            headers=native_headers(tenant),
        )
        assert_problem(response, 404)
    assert snapshot(container) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, "events"),
        ({"events": [{"name": "x"}] * 1001}, "events"),
        ({"events": [{"name": ""}]}, "events.0.name"),
        ({"events": [{"name": "x", "timestamp": "yesterday"}]}, "events.0.timestamp"),
    ],
    ids=["empty", "1001", "no-name", "bad-timestamp"],
)
def test_invalid_event_batches_are_422_and_store_nothing(
    client: TestClient, container: Container, tenant: Tenant, body: Any, field: str
) -> None:
    create_profile(client, tenant, "ev-1")
    before = snapshot(container)
    response = client.post(f"{API}/profiles/ev-1/events", json=body, headers=native_headers(tenant))
    assert assert_problem(response, 422)["field"] == field
    assert snapshot(container) == before


# --- soft delete, restore, hard delete -------------------------------------------------------


def test_soft_delete_hides_the_profile_and_restore_brings_it_back_with_its_history(
    client: TestClient, tenant: Tenant
) -> None:
    person_with_history(client, tenant, "soft-1")
    response = delete(client, tenant, "soft-1", "?mode=soft")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "soft"
    assert body["dry_run"] is False
    assert body["counts"] == {"profiles": 1}
    assert body["revivable_until"] > int(time.time() * 1000)
    assert_problem(get_profile(client, tenant, "soft-1"), 404)
    listed = client.get(f"{API}/profiles", headers=native_headers(tenant)).json()
    assert listed["profiles"] == []
    assert_problem(client.get(f"{API}/devices/soft-1-phone", headers=native_headers(tenant)), 404)
    restored = restore(client, tenant, "soft-1")
    assert restored.status_code == 200, restored.text
    assert restored.json()["uuid"] == "soft-1"
    assert get_profile(client, tenant, "soft-1").status_code == 200
    assert dry_run_counts(client, tenant, "soft-1") == HISTORY_COUNTS


def test_soft_is_the_default_mode(client: TestClient, tenant: Tenant) -> None:
    create_profile(client, tenant, "soft-1")
    response = delete(client, tenant, "soft-1")
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "soft"
    assert restore(client, tenant, "soft-1").status_code == 200


def test_restore_of_an_active_profile_is_409_and_of_an_unknown_one_404(
    client: TestClient, tenant: Tenant
) -> None:
    create_profile(client, tenant, "p-1")
    assert_problem(restore(client, tenant, "p-1"), 409, "conflict")
    assert_problem(restore(client, tenant, "nobody"), 404, "not-found")


@pytest.mark.parametrize("settings_overrides", [{"revival_window": "1s"}])
def test_restore_after_the_window_ended_is_404_and_a_new_put_starts_without_history(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "late-1")
    add_events(client, tenant, "late-1", 2)
    deadline = delete(client, tenant, "late-1").json()["revivable_until"]
    give_up = time.monotonic() + 10
    while container.clock.now_ms() <= deadline:
        assert time.monotonic() < give_up, "the app's clock never passed the window"
        time.sleep(0.05)
    assert_problem(restore(client, tenant, "late-1"), 404)
    assert put_profile(client, tenant, "late-1", {"fresh": True}).status_code == 201
    assert dry_run_counts(client, tenant, "late-1")["events"] == 0


def test_hard_delete_is_202_with_its_job_and_hides_the_profile_at_once(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    person_with_history(client, tenant, "hard-1")
    response = delete(client, tenant, "hard-1", "?mode=hard")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["mode"] == "hard"
    assert body["dry_run"] is False
    job_id = body["job_id"]
    assert_problem(get_profile(client, tenant, "hard-1"), 404)
    assert_problem(client.get(f"{API}/devices/hard-1-phone", headers=native_headers(tenant)), 404)
    assert run_until_terminal(container, worker, job_id) == "completed"
    [receipt] = [r for r in receipts(client, tenant) if r["job_id"] == job_id]
    assert receipt["reason"] == "hard_delete"
    assert receipt["surface"] == "native"


def test_restore_after_a_hard_delete_is_404_and_a_new_put_starts_without_history(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    create_profile(client, tenant, "hard-1")
    add_events(client, tenant, "hard-1", 2)
    response = delete(client, tenant, "hard-1", "?mode=hard")
    assert response.status_code == 202, response.text
    assert_problem(restore(client, tenant, "hard-1"), 404)
    run_until_terminal(container, worker, response.json()["job_id"])
    assert_problem(restore(client, tenant, "hard-1"), 404)
    assert put_profile(client, tenant, "hard-1", {"fresh": True}).status_code == 201
    fresh = get_profile(client, tenant, "hard-1").json()
    assert fresh["attributes"] == {"fresh": True}
    assert dry_run_counts(client, tenant, "hard-1")["events"] == 0


def test_a_soft_deleted_profile_can_be_hard_deleted_and_then_cannot_be_restored(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    create_profile(client, tenant, "both-1")
    assert delete(client, tenant, "both-1").status_code == 200
    response = delete(client, tenant, "both-1", "?mode=hard")
    assert response.status_code == 202, response.text
    assert run_until_terminal(container, worker, response.json()["job_id"]) == "completed"
    assert_problem(restore(client, tenant, "both-1"), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?mode=purge", "mode"),
        ("?mode=soft&suppress=true", "suppress"),
        ("?mode=hard&dry_run=maybe", "dry_run"),
    ],
)
def test_bad_delete_parameters_are_422_and_change_nothing(
    client: TestClient, container: Container, tenant: Tenant, query: str, field: str
) -> None:
    create_profile(client, tenant, "p-1")
    before = snapshot(container)
    assert assert_problem(delete(client, tenant, "p-1", query), 422)["field"] == field
    assert snapshot(container) == before


@pytest.mark.parametrize("query", ["", "?mode=hard", "?mode=hard&dry_run=true"])
def test_delete_of_an_unknown_profile_is_404_problem(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    assert_problem(delete(client, tenant, "nobody", query), 404, "not-found")


# --- dry runs -----------------------------------------------------------------------------------


def test_a_hard_dry_run_reports_exactly_what_the_purge_then_removes_and_changes_nothing(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    person_with_history(client, tenant, "dry-1")
    # A second person merged into the first: its uuid, email, event and the merge row count too.
    create_profile(client, tenant, "dry-2", email="dry-2@example.com")
    add_events(client, tenant, "dry-2", 1)
    insider = tenant["insider"]
    merged = client.post(
        "/api/user/v1/upsert",
        json={"users": [{"identifiers": {"uuid": "dry-1", "email": "dry-2@example.com"}}]},
        headers={
            "X-PARTNER-NAME": insider["partner_name"],
            "X-REQUEST-TOKEN": insider["request_token"],
        },
    )
    assert merged.json() == {"data": {"successful": {"count": 1}, "fail": {}}}, merged.text
    before = snapshot(container)
    counts = dry_run_counts(client, tenant, "dry-1")
    assert snapshot(container) == before
    # The merged person's key goes with the survivor's.
    assert counts == {**HISTORY_COUNTS, "identifiers": 4, "events": 4, "merges": 1, "keys": 4}
    response = delete(client, tenant, "dry-1", "?mode=hard")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert run_until_terminal(container, worker, job_id) == "completed"
    [receipt] = [r for r in receipts(client, tenant) if r["job_id"] == job_id]
    assert receipt["counts"] == counts


def test_a_soft_dry_run_reports_the_counts_of_the_soft_delete_and_changes_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    person_with_history(client, tenant, "dry-1")
    before = snapshot(container)
    counts = dry_run_counts(client, tenant, "dry-1", mode="soft")
    assert snapshot(container) == before
    real = delete(client, tenant, "dry-1", "?mode=soft")
    assert real.status_code == 200, real.text
    assert real.json()["counts"] == counts == {"profiles": 1}


def test_a_suppressing_dry_run_suppresses_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "dry-1", email="dry-1@example.com")
    own_device(client, tenant, "dry-1", "dry-phone")
    before = snapshot(container)
    response = delete(client, tenant, "dry-1", "?mode=hard&suppress=true&dry_run=true")
    assert response.status_code == 200, response.text
    assert snapshot(container) == before


# --- tenancy ------------------------------------------------------------------------------------


def test_another_tenants_token_gets_404_for_this_tenants_profile_and_changes_nothing(
    client: TestClient, container: Container, tenant: Tenant, other_tenant: Tenant
) -> None:
    person_with_history(client, tenant, "mine")
    assert delete(client, tenant, "mine").status_code == 200
    create_profile(client, tenant, "mine-too")
    before = snapshot(container)
    assert_problem(get_profile(client, other_tenant, "mine-too"), 404)
    assert_problem(delete(client, other_tenant, "mine-too", "?mode=hard"), 404)
    assert_problem(delete(client, other_tenant, "mine-too", "?mode=hard&dry_run=true"), 404)
    assert_problem(restore(client, other_tenant, "mine"), 404)
    events = client.post(
        f"{API}/profiles/mine-too/events",
        json={"events": [{"name": "x"}]},
        headers=native_headers(other_tenant),
    )
    assert_problem(events, 404)
    listed = client.get(f"{API}/profiles", headers=native_headers(other_tenant)).json()
    assert listed == {"profiles": [], "next_cursor": None}
    assert snapshot(container) == before
