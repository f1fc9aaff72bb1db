"""Gainsight PX's filter and sort language on users and custom events, as its clients send it:
date clauses in ISO-8601 or epoch milliseconds (the Singer tap sends
``date>=2026-11-30T18:13:25Z;date<=...&sort=date``), ``email==``, comparisons on the dates
clients page by, OR-ed groups, wildcards, and case-insensitive text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from obliviate.http.gainsight.query import parse_time
from tests.support.headers import gs_headers
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import add_event, assert_error, create_user, list_users

DAY = 86_400_000
BASE = 1_764_547_200_000  # 2025-12-01T00:00:00Z


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def events(client: TestClient, tenant: Tenant, **params: str) -> Any:
    response = client.get("/v1/events/custom", params=params, headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def week(client: TestClient, tenant: Tenant) -> list[str]:
    """One event a day for a week, named by its day."""
    create_user(client, tenant, "week-user")
    return [
        add_event(client, tenant, "week-user", f"day{n}", date=BASE + n * DAY)["eventName"]
        for n in range(7)
    ]


def names(page: Any) -> list[str]:
    return [e["eventName"] for e in page["customEvents"]]


@pytest.mark.usefixtures("week")
def test_the_singer_taps_iso_date_window_selects_the_days_inside_it(
    client: TestClient, tenant: Tenant
) -> None:
    window = f"date>={iso(BASE + 2 * DAY)};date<={iso(BASE + 4 * DAY)}"
    page = events(client, tenant, filter=window, sort="date", pageSize="500")
    assert names(page) == ["day2", "day3", "day4"]
    assert page["totalHits"] == 3


@pytest.mark.usefixtures("week")
def test_epoch_millisecond_and_strict_comparisons(client: TestClient, tenant: Tenant) -> None:
    strict = events(client, tenant, filter=f"date>{BASE + 2 * DAY};date<{BASE + 5 * DAY}")
    assert names(strict) == ["day3", "day4"]
    exact = events(client, tenant, filter=f"date=={BASE + 6 * DAY}")
    assert names(exact) == ["day6"]
    before = events(client, tenant, filter=f"date<{iso(BASE + DAY)}")
    assert names(before) == ["day0"]


def test_sort_descending_by_date_walks_every_event_once_newest_first(
    client: TestClient, tenant: Tenant, week: list[str]
) -> None:
    first = events(client, tenant, sort="-date", pageSize="3")
    seen = names(first)
    scroll, size = first["scrollId"], len(first["customEvents"])
    while size == 3:
        page = events(client, tenant, scrollId=scroll)
        seen += names(page)
        scroll, size = page["scrollId"], len(page["customEvents"])
    assert seen == list(reversed(week))


@pytest.mark.usefixtures("week")
def test_event_name_and_identify_id_clauses_join_the_date_clauses(
    client: TestClient, tenant: Tenant
) -> None:
    create_user(client, tenant, "other-user")
    add_event(client, tenant, "other-user", "day3", date=BASE + 3 * DAY)
    both = events(client, tenant, filter="eventName==day3")
    assert [e["identifyId"] for e in both["customEvents"]] == ["week-user", "other-user"]
    mine = events(client, tenant, filter=f"eventName==day3;identifyId==other-user;date>={BASE}")
    assert [e["identifyId"] for e in mine["customEvents"]] == ["other-user"]


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "date>=yesterday"},
        {"filter": "date~2025*"},
        {"filter": "date!=5"},
        {"filter": "eventName!=day1"},
        {"filter": "colour==red"},
        {"filter": "date>=1;date<=2", "sort": "eventName"},
        {"sort": "date;-date"},
        {"filter": "eventName==a;nonsense"},
    ],
)
def test_event_filters_and_sorts_outside_the_language_are_bad_requests(
    client: TestClient, tenant: Tenant, params: dict[str, str]
) -> None:
    response = client.get("/v1/events/custom", params=params, headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")


def test_or_groups_are_refused_on_events_rather_than_half_applied(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get(
        "/v1/events/custom?filter=eventName==a&filter=eventName==b", headers=gs_headers(tenant)
    )
    assert_error(response, 400, "BAD_REQUEST")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ms=st.integers(min_value=0, max_value=4_102_444_800_000), offset=st.integers(-14, 14))
def test_every_spelling_of_an_instant_parses_to_the_same_millisecond(ms: int, offset: int) -> None:
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)
    elsewhere = moment.astimezone(timezone(timedelta(hours=offset))).isoformat()
    spellings = {
        str(ms),
        moment.isoformat(),
        moment.isoformat().replace("+00:00", "Z"),
        elsewhere,
        # An unencoded "+" in a query string arrives as a space.
        elsewhere.replace("+", " "),
    }
    assert {parse_time(s, what="filter") for s in spellings} == {ms}


# --- users ------------------------------------------------------------------------------------


def ids(page: Any) -> list[str]:
    return [u["identifyId"] for u in page["users"]]


def test_users_filter_by_email_is_case_insensitive_and_or_groups_add_up(
    client: TestClient, tenant: Tenant
) -> None:
    create_user(client, tenant, "u-a", email="Ada@Example.com")
    create_user(client, tenant, "u-b", email="bob@example.com")
    create_user(client, tenant, "u-c", email="carol@example.com")
    assert ids(list_users(client, tenant, "?filter=email==ada@example.com")) == ["u-a"]
    either = list_users(
        client, tenant, "?filter=email==ada@example.com&filter=email==carol@example.com"
    )
    assert sorted(ids(either)) == ["u-a", "u-c"]
    assert either["totalHits"] == 2
    like = list_users(client, tenant, "?filter=email~*@EXAMPLE.com;email!~bob*")
    assert sorted(ids(like)) == ["u-a", "u-c"]


def test_users_filter_and_sort_on_the_dates_clients_page_by(
    client: TestClient, tenant: Tenant
) -> None:
    for n in range(4):
        create_user(client, tenant, f"sd-{n}", signUpDate=BASE + n * DAY)
    later = list_users(client, tenant, f"?filter=signUpDate>={iso(BASE + 2 * DAY)}")
    assert sorted(ids(later)) == ["sd-2", "sd-3"]
    epoch = list_users(client, tenant, f"?filter=signUpDate<{BASE + DAY}")
    assert ids(epoch) == ["sd-0"]
    newest = list_users(client, tenant, "?sort=-signUpDate")
    assert ids(newest) == ["sd-3", "sd-2", "sd-1", "sd-0"]
    created = list_users(client, tenant, "?filter=createDate>=0&sort=-lastModifiedDate")
    assert len(ids(created)) == 4


def test_a_sorted_and_filtered_user_list_walks_every_match_once(
    client: TestClient, tenant: Tenant
) -> None:
    for n in range(9):
        create_user(client, tenant, f"walk-{n}", score=n % 3, email=f"w{n}@example.com")
    create_user(client, tenant, "not-me", score=1, email="x@elsewhere.org")
    first = list_users(client, tenant, "?filter=email~*@example.com&sort=-score;email&pageSize=4")
    seen = ids(first)
    scroll, size = first["scrollId"], len(first["users"])
    while size == 4:
        page = list_users(client, tenant, f"?scrollId={scroll}")
        assert page["totalHits"] == 9
        seen += ids(page)
        scroll, size = page["scrollId"], len(page["users"])
    expected = sorted((f"walk-{n}" for n in range(9)), key=lambda i: (-(int(i[5:]) % 3), i))
    assert seen == expected


def test_users_filter_on_custom_attributes_and_deleted_users_never_match(
    client: TestClient, tenant: Tenant
) -> None:
    create_user(client, tenant, "plan-a", customAttributes={"plan": "gold"})
    create_user(client, tenant, "plan-b", customAttributes={"plan": "gold"})
    assert client.delete("/v1/users/plan-b", headers=gs_headers(tenant)).status_code == 200
    page = list_users(client, tenant, "?filter=customAttributes.plan==GOLD")
    assert ids(page) == ["plan-a"]
    assert page["totalHits"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "?filter=shoeSize==42",
        "?filter=signUpDate>=soon",
        "?filter=score>high",
        "?filter=globalUnsubscribe>true",
        "?filter=email",
        "?sort=shoeSize",
    ],
)
def test_user_filters_and_sorts_outside_the_language_are_bad_requests(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    response = client.get(f"/v1/users{query}", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")
