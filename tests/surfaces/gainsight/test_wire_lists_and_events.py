"""Golden wire tests for the Gainsight list endpoints and custom events."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.factories import gainsight_event, gainsight_not_found
from tests.support.clock import now_ms
from tests.support.headers import gs_headers
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import (
    add_event,
    assert_error,
    create_user,
    events_of,
    list_users,
)

# --- GET /v1/users --------------------------------------------------------------------------


def test_empty_list_has_the_documented_shape(client: TestClient, tenant: Tenant) -> None:
    page = list_users(client, tenant)
    assert set(page) == {"users", "totalHits", "scrollId"}
    assert page["users"] == []
    assert page["totalHits"] == 0
    assert isinstance(page["scrollId"], str)


def test_listed_users_are_full_user_objects(client: TestClient, tenant: Tenant) -> None:
    created = create_user(client, tenant, "listed-1")
    page = list_users(client, tenant)
    assert page["users"] == [created]
    assert page["totalHits"] == 1


def test_scroll_id_alone_keeps_the_first_page_size_and_walks_every_user_once(
    client: TestClient, tenant: Tenant
) -> None:
    ids = {create_user(client, tenant, f"walk-{n}")["identifyId"] for n in range(7)}
    first = list_users(client, tenant, "?pageSize=3")
    assert len(first["users"]) == 3
    assert first["totalHits"] == 7
    seen = [u["identifyId"] for u in first["users"]]
    sizes = [len(first["users"])]
    scroll = first["scrollId"]
    while sizes[-1] == 3:
        page = list_users(client, tenant, f"?scrollId={scroll}")
        assert page["totalHits"] == 7
        seen += [u["identifyId"] for u in page["users"]]
        sizes.append(len(page["users"]))
        scroll = page["scrollId"]
    assert sizes == [3, 3, 1]
    assert len(seen) == len(set(seen))
    assert set(seen) == ids


def test_default_page_size_is_25_and_empty_params_count_as_absent(
    client: TestClient, tenant: Tenant
) -> None:
    for n in range(26):
        create_user(client, tenant, f"many-{n:02d}")
    plain = list_users(client, tenant)
    assert len(plain["users"]) == 25
    assert plain["totalHits"] == 26
    empty = list_users(client, tenant, "?filter=&pageSize=&scrollId=&sort=")
    assert empty["users"] == plain["users"]
    assert empty["totalHits"] == 26
    rest = list_users(client, tenant, f"?scrollId={plain['scrollId']}")
    assert len(rest["users"]) == 1
    all_ids = {u["identifyId"] for u in plain["users"] + rest["users"]}
    assert all_ids == {f"many-{n:02d}" for n in range(26)}


@pytest.mark.parametrize("size", ["1001", "0", "-1", "ten", "2.5"])
def test_page_size_outside_1_to_1000_is_a_bad_request(
    client: TestClient, tenant: Tenant, size: str
) -> None:
    response = client.get(f"/v1/users?pageSize={size}", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")


def test_page_size_1000_is_allowed(client: TestClient, tenant: Tenant) -> None:
    create_user(client, tenant)
    assert len(list_users(client, tenant, "?pageSize=1000")["users"]) == 1


def test_scroll_id_the_server_never_issued_is_a_bad_request(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/v1/users?scrollId=not-a-cursor!", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")


def test_filter_by_email_lists_only_matching_users(client: TestClient, tenant: Tenant) -> None:
    a = create_user(client, tenant, "f-a", email="match@example.com")
    create_user(client, tenant, "f-b", email="other@example.com")
    c = create_user(client, tenant, "f-c", email="match@example.com")
    page = list_users(client, tenant, "?filter=email==match@example.com")
    assert page["totalHits"] == 2
    assert sorted(page["users"], key=lambda u: u["identifyId"]) == [a, c]
    by_id = list_users(client, tenant, "?filter=identifyId==f-b")
    assert [u["identifyId"] for u in by_id["users"]] == ["f-b"]
    assert by_id["totalHits"] == 1


def test_filter_on_an_unknown_field_is_a_bad_request(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/users?filter=shoeSize==42", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")


def test_sort_descending_by_create_date_lists_newest_first(
    client: TestClient, tenant: Tenant
) -> None:
    for n in range(4):
        create_user(client, tenant, f"sorted-{n}")
    users = list_users(client, tenant, "?sort=-createDate")["users"]
    ids = [int(u["aptrinsicId"], 16) for u in users]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 4


# --- POST /v1/events/custom -----------------------------------------------------------------


def test_custom_event_is_created_and_echoed(client: TestClient, tenant: Tenant) -> None:
    create_user(client, tenant, "ev-1")
    sent = gainsight_event("ev-1", "exported", date=1_700_000_123_000, attributes={"rows": 10})
    response = client.post("/v1/events/custom", json=sent, headers=gs_headers(tenant))
    assert response.status_code == 201
    event = response.json()
    assert isinstance(event.pop("eventId"), str)
    assert event == {
        "eventName": "exported",
        "identifyId": "ev-1",
        "propertyKey": "AP-TEST-1",
        "userType": "USER",
        "accountId": None,
        "date": 1_700_000_123_000,
        "attributes": {"rows": 10},
        "globalContext": None,
    }


def test_custom_event_without_a_date_is_stamped_now(client: TestClient, tenant: Tenant) -> None:
    create_user(client, tenant, "ev-2")
    body = gainsight_event("ev-2")
    del body["date"]
    before = now_ms()
    event = client.post("/v1/events/custom", json=body, headers=gs_headers(tenant)).json()
    assert before <= event["date"] <= now_ms()


@pytest.mark.parametrize("missing", ["eventName", "identifyId", "propertyKey"])
def test_custom_event_missing_a_required_field_is_a_bad_request(
    client: TestClient, tenant: Tenant, missing: str
) -> None:
    create_user(client, tenant, "ev-3")
    body = gainsight_event("ev-3")
    del body[missing]
    response = client.post("/v1/events/custom", json=body, headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")
    assert events_of(client, tenant, "ev-3")["totalHits"] == 0


def test_custom_event_for_an_unknown_user_is_not_found_and_not_stored(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        "/v1/events/custom", json=gainsight_event("nobody-1"), headers=gs_headers(tenant)
    )
    assert response.status_code == 404
    assert response.json() == gainsight_not_found("nobody-1")
    all_events = client.get("/v1/events/custom", headers=gs_headers(tenant)).json()
    assert all_events["totalHits"] == 0


def test_custom_event_for_a_soft_deleted_user_is_not_found_and_not_stored(
    client: TestClient, tenant: Tenant
) -> None:
    create_user(client, tenant, "ev-soft")
    add_event(client, tenant, "ev-soft", "before")
    assert client.delete("/v1/users/ev-soft", headers=gs_headers(tenant)).status_code == 200
    response = client.post(
        "/v1/events/custom", json=gainsight_event("ev-soft", "after"), headers=gs_headers(tenant)
    )
    assert response.status_code == 404
    assert response.json() == gainsight_not_found("ev-soft")
    # Revive it: only the event sent before the delete is there.
    assert client.put("/v1/users/ev-soft", json={}, headers=gs_headers(tenant)).status_code == 204
    names = [e["eventName"] for e in events_of(client, tenant, "ev-soft")["customEvents"]]
    assert names == ["before"]


# --- GET /v1/events/custom ------------------------------------------------------------------


def test_events_are_listed_per_user_with_the_documented_shape(
    client: TestClient, tenant: Tenant
) -> None:
    create_user(client, tenant, "el-1")
    create_user(client, tenant, "el-2")
    mine = [add_event(client, tenant, "el-1", f"e{n}", date=1_000 + n) for n in range(3)]
    add_event(client, tenant, "el-2", "theirs", date=1_001)
    page = events_of(client, tenant, "el-1")
    assert set(page) == {"customEvents", "totalHits", "scrollId"}
    assert page["customEvents"] == mine
    assert page["totalHits"] == 3
    everyone = client.get("/v1/events/custom", headers=gs_headers(tenant)).json()
    assert everyone["totalHits"] == 4


def test_events_are_filtered_by_an_inclusive_date_range(client: TestClient, tenant: Tenant) -> None:
    create_user(client, tenant, "dr-1")
    for day in range(5):
        add_event(client, tenant, "dr-1", f"day{day}", date=1_700_000_000_000 + day * 86_400_000)
    response = client.get(
        "/v1/events/custom",
        params={
            "filter": "identifyId==dr-1",
            "dateRangeStart": str(1_700_000_000_000 + 86_400_000),
            "dateRangeEnd": str(1_700_000_000_000 + 3 * 86_400_000),
        },
        headers=gs_headers(tenant),
    )
    assert response.status_code == 200
    page = response.json()
    assert [e["eventName"] for e in page["customEvents"]] == ["day1", "day2", "day3"]
    assert page["totalHits"] == 3


def test_date_range_that_is_not_epoch_millis_is_a_bad_request(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/v1/events/custom?dateRangeStart=yesterday", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")


def test_event_pages_follow_the_scroll_id_and_return_every_event_once(
    client: TestClient, tenant: Tenant
) -> None:
    create_user(client, tenant, "ep-1")
    # Same timestamps on purpose: paging must break ties by event id.
    sent = {
        add_event(client, tenant, "ep-1", f"e{n}", date=5_000 + n // 3)["eventId"] for n in range(8)
    }
    first = client.get(
        "/v1/events/custom?filter=identifyId==ep-1&pageSize=3", headers=gs_headers(tenant)
    ).json()
    seen = [e["eventId"] for e in first["customEvents"]]
    sizes = [len(first["customEvents"])]
    scroll = first["scrollId"]
    while sizes[-1] == 3:
        page = client.get(f"/v1/events/custom?scrollId={scroll}", headers=gs_headers(tenant))
        assert page.status_code == 200
        body = page.json()
        assert body["totalHits"] == 8
        seen += [e["eventId"] for e in body["customEvents"]]
        sizes.append(len(body["customEvents"]))
        scroll = body["scrollId"]
    assert sizes == [3, 3, 2]
    assert len(seen) == len(set(seen))
    assert set(seen) == sent


def test_events_page_size_over_1000_is_a_bad_request(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/events/custom?pageSize=1001", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")


def test_events_empty_query_params_count_as_absent(client: TestClient, tenant: Tenant) -> None:
    create_user(client, tenant, "eq-1")
    add_event(client, tenant, "eq-1")
    response = client.get(
        "/v1/events/custom?filter=&pageSize=&scrollId=&dateRangeStart=&dateRangeEnd=",
        headers=gs_headers(tenant),
    )
    assert response.status_code == 200
    assert response.json()["totalHits"] == 1
