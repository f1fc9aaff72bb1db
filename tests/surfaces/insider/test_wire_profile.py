"""Golden wire tests for Insider's profile endpoint, as the vendor answers: attributes, events
between dates with wanted params, and the not-found body."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.factories import uid
from tests.support.tenants import Tenant
from tests.surfaces.insider.support import (
    NO_SUCH_USER,
    assert_body,
    assert_json,
    call,
    epoch,
    ev,
    events_of,
    profile,
    upsert,
    user,
)

PERSON_EVENTS = [
    ev("purchase", "2024-01-15T08:00:00Z", product_id="p1", price=10, currency="EUR"),
    ev("purchase", "2024-02-15T08:00:00Z", product_id="p2", price=20, currency="EUR"),
    ev("purchase", "2024-03-15T08:00:00.250Z", product_id="p3", price=30, currency="USD"),
    ev("login", "2024-02-20T09:30:00Z", device="ios"),
]


@pytest.fixture
def person(client: TestClient, tenant: Tenant) -> str:
    """A user with every default identifier, a custom one, attributes and events."""
    person_uuid = uid()
    upsert(
        client,
        tenant,
        user(
            {
                "uuid": person_uuid,
                "email": "ada@example.com",
                "phone_number": "+6598765432",
                "custom": {"loyalty_id": "xyz123"},
            },
            {"name": "Ada", "surname": "Lovelace", "gender": "F", "custom": {"tier": "gold"}},
            PERSON_EVENTS,
        ),
    )
    return person_uuid


def test_profile_answers_every_attribute_with_the_default_identifiers_and_no_events(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    assert_json(
        profile(client, tenant, {"phone_number": "+6598765432"}),
        200,
        {
            "attributes": {
                "name": "Ada",
                "surname": "Lovelace",
                "gender": "F",
                "custom": {"tier": "gold"},
                "uuid": person,
                "email": "ada@example.com",
                "phone_number": "+6598765432",
            },
            "events": {},
        },
    )


def test_profile_answers_only_the_wanted_attributes(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    response = profile(
        client, tenant, {"uuid": person}, attributes=["name", "email", "not_set", "custom"]
    )
    assert_body(
        response,
        200,
        b'{"attributes":{"name":"Ada","email":"ada@example.com","custom":{"tier":"gold"}},'
        b'"events":{}}',
    )
    assert_body(
        profile(client, tenant, {"uuid": person}, attributes=[]),
        200,
        b'{"attributes":{},"events":{}}',
    )


@pytest.mark.usefixtures("person")
def test_profile_answers_wanted_events_between_the_dates_with_only_the_wanted_params(
    client: TestClient, tenant: Tenant
) -> None:
    response = profile(
        client,
        tenant,
        {"custom": {"loyalty_id": "xyz123"}},
        attributes=["name"],
        events={
            "start_date": epoch("2024-02-01T00:00:00"),
            "end_date": epoch("2024-03-31T00:00:00"),
            "wanted": [
                {"event_name": "purchase", "params": ["product_id", "price"]},
                {"event_name": "login"},
                {"event_name": "never_sent"},
            ],
        },
    )
    assert_body(
        response,
        200,
        b'{"attributes":{"name":"Ada"},"events":{'
        b'"purchase":['
        b'{"timestamp":"2024-02-15T08:00:00Z","event_params":{"product_id":"p2","price":20}},'
        b'{"timestamp":"2024-03-15T08:00:00.250000Z","event_params":{"product_id":"p3","price":30}}'
        b"],"
        b'"login":[{"timestamp":"2024-02-20T09:30:00Z","event_params":{"device":"ios"}}],'
        b'"never_sent":[]}}',
    )


@pytest.mark.usefixtures("person")
def test_profile_events_without_dates_are_all_of_them_oldest_first(
    client: TestClient, tenant: Tenant
) -> None:
    found = events_of(client, tenant, {"email": "ADA@example.com"}, "purchase")
    assert [e["event_params"]["product_id"] for e in found["purchase"]] == ["p1", "p2", "p3"]
    assert found["purchase"][0] == {
        "timestamp": "2024-01-15T08:00:00Z",
        "event_params": {"product_id": "p1", "price": 10, "currency": "EUR"},
    }


@pytest.mark.usefixtures("person")
def test_profile_of_an_unknown_user_is_not_found(client: TestClient, tenant: Tenant) -> None:
    for ident in (
        {"uuid": "nobody"},
        {"email": "nobody@example.com"},
        {"phone_number": "+6511111111"},
        {"custom": {"loyalty_id": "nobody"}},
    ):
        assert_body(profile(client, tenant, ident), 404, NO_SUCH_USER)


def test_profile_of_another_tenants_user_is_not_found(
    client: TestClient, other_tenant: Tenant, person: str
) -> None:
    assert_body(profile(client, other_tenant, {"uuid": person}), 404, NO_SUCH_USER)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"identifiers": {"email": "bad"}},
            b'{"error":"identifiers.email must be a valid email address: bad request"}',
        ),
        (
            {"identifiers": {}},
            b'{"error":"identifiers must hold at least one identifier: bad request"}',
        ),
        (
            {"identifiers": {"uuid": "x"}, "attributes": "name"},
            b'{"error":"attributes must be an array of attribute names: bad request"}',
        ),
        (
            {"identifiers": {"uuid": "x"}, "events": {"start_date": "2024-01-01"}},
            b'{"error":"events.start_date must be a unix timestamp in seconds: bad request"}',
        ),
    ],
    ids=["bad-email", "no-identifiers", "attributes-string", "start-date-string"],
)
def test_profile_query_of_the_wrong_shape_is_a_bad_request(
    client: TestClient, tenant: Tenant, query: dict[str, Any], expected: bytes
) -> None:
    assert_body(call(client, tenant, "POST", "/profile", query), 400, expected)
