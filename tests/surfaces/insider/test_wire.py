"""Golden wire tests for Insider's upsert endpoint: requests and answers as the vendor's own.

Profile reads: test_wire_profile.py; identifier deletion, identifier change, user and attribute
deletion: test_wire_identity.py; partner auth, 413 and 429: test_wire_auth_and_limits.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.factories import uid
from tests.support.headers import insider_headers
from tests.support.tenants import Tenant
from tests.surfaces.insider.support import (
    BASE,
    NO_SUCH_USER,
    USERS_UNDEFINED,
    assert_body,
    assert_json,
    attributes_of,
    call,
    counts,
    ev,
    events_of,
    profile,
    upsert,
    user,
)

E164 = "must be in E.164 format, e.g. +6598765432"
NOT_A_TYPE = "is not an identifier type"
CUSTOM_NAME = "is not an identifier type (uuid, email, phone_number, custom)"
BAD_TIMESTAMP = "must be an RFC 3339 date-time string"


def test_upsert_of_new_users_counts_every_one_as_successful(
    client: TestClient, tenant: Tenant
) -> None:
    response = call(
        client,
        tenant,
        "POST",
        "/upsert",
        {
            "users": [
                user({"uuid": uid()}),
                user({"email": "ada@example.com"}, {"name": "Ada"}),
                user({"custom": {"loyalty_id": "xyz123"}}),
            ]
        },
    )
    assert_body(response, 200, b'{"data":{"successful":{"count":3},"fail":{}}}')


def test_upserted_user_is_stored_with_attributes_identifiers_and_events(
    client: TestClient, tenant: Tenant
) -> None:
    person = uid()
    upsert(
        client,
        tenant,
        user(
            {
                "uuid": person,
                "email": "Ada@Example.com",
                "phone_number": "+6598765432",
                "custom": {"loyalty_id": "xyz123"},
            },
            {"name": "Ada", "email_optin": True, "custom": {"tier": "gold"}},
            [ev("purchase", "2024-03-01T10:00:00Z", product_id="p1", price=9.5)],
        ),
    )
    response = profile(
        client,
        tenant,
        {"custom": {"loyalty_id": "xyz123"}},
        events={"wanted": [{"event_name": "purchase"}]},
    )
    assert_json(
        response,
        200,
        {
            "attributes": {
                "name": "Ada",
                "email_optin": True,
                "custom": {"tier": "gold"},
                "uuid": person,
                "email": "ada@example.com",
                "phone_number": "+6598765432",
            },
            "events": {
                "purchase": [
                    {
                        "timestamp": "2024-03-01T10:00:00Z",
                        "event_params": {"product_id": "p1", "price": 9.5},
                    }
                ]
            },
        },
    )


def test_upsert_by_a_known_identifier_adds_to_that_user(client: TestClient, tenant: Tenant) -> None:
    person = uid()
    upsert(client, tenant, user({"uuid": person}, {"name": "Ada", "custom": {"a": 1}}))
    upsert(
        client,
        tenant,
        user({"uuid": person, "email": "ada@example.com"}, {"surname": "L", "custom": {"b": 2}}),
    )
    assert attributes_of(client, tenant, {"email": "ada@example.com"}) == {
        "name": "Ada",
        "surname": "L",
        "custom": {"a": 1, "b": 2},
        "uuid": person,
        "email": "ada@example.com",
    }


def test_upsert_naming_two_users_merges_them_with_their_events(
    client: TestClient, tenant: Tenant
) -> None:
    first = uid()
    upsert(
        client, tenant, user({"uuid": first}, {"name": "First"}, [ev("a", "2024-01-01T00:00:00Z")])
    )
    upsert(
        client,
        tenant,
        user({"email": "second@example.com"}, {"city": "Oslo"}, [ev("a", "2024-01-02T00:00:00Z")]),
    )
    upsert(client, tenant, user({"email": "second@example.com", "uuid": first}))
    for ident in ({"uuid": first}, {"email": "second@example.com"}):
        response = profile(client, tenant, ident, events={"wanted": [{"event_name": "a"}]})
        assert_json(
            response,
            200,
            {
                "attributes": {
                    "name": "First",
                    "city": "Oslo",
                    "uuid": first,
                    "email": "second@example.com",
                },
                "events": {
                    "a": [
                        {"timestamp": "2024-01-01T00:00:00Z", "event_params": {}},
                        {"timestamp": "2024-01-02T00:00:00Z", "event_params": {}},
                    ]
                },
            },
        )


@pytest.mark.parametrize(
    ("sent", "path", "message"),
    [
        ({"email": "not-an-email"}, "identifiers.email", "must be a valid email address"),
        ({"email": "ada@example"}, "identifiers.email", "must be a valid email address"),
        # Surrounding whitespace is stripped (one canonical form); an invisible character is not.
        ({"email": "ada\u200b@example.com"}, "identifiers.email", "must be a valid email address"),
        ({"email": ""}, "identifiers.email", "must not be empty"),
        ({"phone_number": "6598765432"}, "identifiers.phone_number", E164),
        ({"phone_number": "+06598765432"}, "identifiers.phone_number", E164),
        ({"phone_number": "+123456"}, "identifiers.phone_number", E164),
        ({"phone_number": "+1234567890123456"}, "identifiers.phone_number", E164),
        ({"phone_number": "+65 9876 5432"}, "identifiers.phone_number", E164),
        ({"phone_number": "+6598765432\n"}, "identifiers.phone_number", E164),
        ({"phone_number": 6598765432}, "identifiers.phone_number", "must be a string"),
        ({"fax": "+6598765432"}, "identifiers.fax", NOT_A_TYPE),
        ({"custom": {"loyalty-id": "x"}}, "identifiers.custom.loyalty-id", CUSTOM_NAME),
        ({"custom": {"id\n": "x"}}, "identifiers.custom.id\n", CUSTOM_NAME),
        ({}, "identifiers", "must hold at least one identifier"),
        ({"custom": {}}, "identifiers", "must hold at least one identifier"),
        ({"uuid": "   "}, "identifiers.uuid", "must not be empty"),
    ],
    ids=[
        "email-no-at",
        "email-no-dot",
        "email-zero-width-space",
        "email-empty",
        "phone-no-plus",
        "phone-leading-zero",
        "phone-too-short",
        "phone-too-long",
        "phone-spaces",
        "phone-trailing-newline",
        "phone-number-type",
        "unknown-type",
        "custom-name-dash",
        "custom-name-newline",
        "no-identifiers",
        "empty-custom",
        "blank-uuid",
    ],
)
def test_user_with_a_bad_identifier_is_a_fail_entry_keyed_by_its_path(
    client: TestClient, tenant: Tenant, sent: dict[str, Any], path: str, message: str
) -> None:
    response = call(client, tenant, "POST", "/upsert", {"users": [user(sent)]})
    assert_json(response, 200, counts(0, 1, {f"users.0.{path}": [message]}))
    assert response.content.startswith(b'{"data":{"successful":{},"fail":{"count":1,"errors":{')


def test_user_without_identifiers_is_a_fail_entry(client: TestClient, tenant: Tenant) -> None:
    response = call(client, tenant, "POST", "/upsert", {"users": [{"attributes": {"a": 1}}]})
    assert_body(
        response,
        200,
        b'{"data":{"successful":{},"fail":{"count":1,'
        b'"errors":{"users.0.identifiers":["must be an object"]}}}}',
    )


@pytest.mark.parametrize(
    ("events", "path", "message"),
    [
        ([ev("buy", "yesterday")], "events.0.timestamp", BAD_TIMESTAMP),
        ([ev("buy", "2024-13-01T00:00:00Z")], "events.0.timestamp", BAD_TIMESTAMP),
        ([{"event_name": "buy", "timestamp": 1700000000}], "events.0.timestamp", BAD_TIMESTAMP),
        ([{"event_name": "buy"}], "events.0.timestamp", BAD_TIMESTAMP),
        (
            [ev("ok", "2024-01-01T00:00:00Z"), ev("", "2024-01-01T00:00:00Z")],
            "events.1.event_name",
            "must be a non-empty string",
        ),
        (
            [{"event_name": "buy", "timestamp": "2024-01-01T00:00:00Z", "event_params": [1]}],
            "events.0.event_params",
            "must be an object",
        ),
        ({"event_name": "buy"}, "events", "must be an array"),
    ],
    ids=[
        "word",
        "month-13",
        "epoch-number",
        "missing",
        "empty-name",
        "params-array",
        "events-object",
    ],
)
def test_user_with_a_bad_event_is_a_fail_entry_and_nothing_of_it_is_stored(
    client: TestClient, tenant: Tenant, events: Any, path: str, message: str
) -> None:
    person = uid()
    body = {"users": [{"identifiers": {"uuid": person}, "events": events}]}
    response = call(client, tenant, "POST", "/upsert", body)
    assert_json(response, 200, counts(0, 1, {f"users.0.{path}": [message]}))
    assert_body(profile(client, tenant, {"uuid": person}), 404, NO_SUCH_USER)


def test_valid_users_go_in_beside_failed_ones_each_failure_keyed_by_its_index(
    client: TestClient, tenant: Tenant
) -> None:
    good, also_good = uid(), uid()
    response = call(
        client,
        tenant,
        "POST",
        "/upsert",
        {
            "users": [
                user({"uuid": good}),
                user({"uuid": uid(), "email": "bad"}),
                user({"uuid": also_good}, {"name": "B"}),
                user({"uuid": uid(), "phone_number": "12"}),
                "not an object",
            ]
        },
    )
    assert_body(
        response,
        200,
        b'{"data":{"successful":{"count":2},"fail":{"count":3,"errors":{'
        b'"users.1.identifiers.email":["must be a valid email address"],'
        b'"users.3.identifiers.phone_number":["must be in E.164 format, e.g. +6598765432"],'
        b'"users.4":["must be an object"]}}}}',
    )
    assert attributes_of(client, tenant, {"uuid": also_good}) == {"name": "B", "uuid": also_good}
    assert attributes_of(client, tenant, {"uuid": good}) == {"uuid": good}


@pytest.mark.parametrize(
    "body", [{}, {"users": None}, {"user": []}], ids=["empty", "null", "misspelt"]
)
def test_upsert_without_users_is_a_bad_request(
    client: TestClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    assert_body(call(client, tenant, "POST", "/upsert", body), 400, USERS_UNDEFINED)


def test_upsert_of_more_than_1000_users_is_a_bad_request_and_stores_none(
    client: TestClient, tenant: Tenant
) -> None:
    users = [user({"uuid": f"many-{i}"}) for i in range(1001)]
    response = call(client, tenant, "POST", "/upsert", {"users": users})
    assert_body(response, 400, b'{"error":"users must hold at most 1000 entries: bad request"}')
    assert_body(profile(client, tenant, {"uuid": "many-0"}), 404, NO_SUCH_USER)


def test_upsert_of_exactly_1000_users_with_ten_events_each_is_accepted(
    client: TestClient, tenant: Tenant
) -> None:
    events = [ev("view", f"2024-01-01T00:00:{s:02d}Z", n=s) for s in range(10)]
    users = [user({"uuid": f"many-{i}"}, events=events) for i in range(1000)]
    response = call(client, tenant, "POST", "/upsert", {"users": users})
    assert_body(response, 200, b'{"data":{"successful":{"count":1000},"fail":{}}}')
    assert attributes_of(client, tenant, {"uuid": "many-999"}) == {"uuid": "many-999"}
    assert len(events_of(client, tenant, {"uuid": "many-999"}, "view")["view"]) == 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", b'{"error":"request body is not valid JSON: bad request"}'),
        (b"", b'{"error":"request body is not valid JSON: bad request"}'),
        (b"[]", b'{"error":"body must be an object: bad request"}'),
        (b'{"users":"all"}', b'{"error":"users must be an array: bad request"}'),
    ],
    ids=["malformed", "empty", "array", "users-string"],
)
def test_upsert_body_of_the_wrong_shape_is_a_bad_request(
    client: TestClient, tenant: Tenant, raw: bytes, expected: bytes
) -> None:
    response = client.post(f"{BASE}/upsert", content=raw, headers=insider_headers(tenant))
    assert_body(response, 400, expected)
