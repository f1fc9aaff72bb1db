"""Golden wire tests for Insider's identifier and deletion endpoints, as the vendor answers:
``DELETE`` and ``PATCH /api/user/v1/identity``, ``POST /delete`` and ``POST /attribute/delete``."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.factories import uid
from tests.support.rows import receipts_of, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.insider.support import (
    EMPTY,
    IDENTIFIER_TAKEN,
    NO_SUCH_USER,
    SAME_VALUES,
    SOLE_IDENTIFIER,
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

EMAIL = "sample@mail.com"
PHONE = "+6598765432"
LOYALTY = {"custom": {"user_loyalty_id": "xyz123"}}


@pytest.fixture
def person(client: TestClient, tenant: Tenant) -> str:
    """A user holding uuid, email, phone_number and a custom identifier."""
    person_uuid = uid()
    upsert(
        client,
        tenant,
        user(
            {"uuid": person_uuid, "email": EMAIL, "phone_number": PHONE, **LOYALTY},
            {"name": "Ada", "surname": "Lovelace", "custom": {"tier": "gold", "seats": 3}},
            [ev("purchase", "2024-01-01T00:00:00Z", amount=1)],
        ),
    )
    return person_uuid


def delete_identity(client: TestClient, tenant: Tenant, identifiers: Any) -> Any:
    return call(client, tenant, "DELETE", "/identity", {"identifiers": identifiers})


def change_identity(client: TestClient, tenant: Tenant, old: Any, new: Any) -> Any:
    body = {"old_identifier": old, "new_identifier": new}
    return call(client, tenant, "PATCH", "/identity", body)


# --- DELETE /api/user/v1/identity ---------------------------------------------------------------


@pytest.mark.parametrize(
    "identifiers",
    [{"email": EMAIL}, {"phone_number": PHONE}, LOYALTY],
    ids=["email", "phone_number", "custom"],
)
def test_deleting_one_identifier_removes_only_that_one(
    client: TestClient, tenant: Tenant, person: str, identifiers: dict[str, Any]
) -> None:
    assert_body(delete_identity(client, tenant, identifiers), 200, EMPTY)
    assert_body(profile(client, tenant, identifiers), 404, NO_SUCH_USER)
    remaining = attributes_of(client, tenant, {"uuid": person})
    assert remaining["name"] == "Ada"
    assert events_of(client, tenant, {"uuid": person}, "purchase")["purchase"] != []


def test_deleting_the_uuid_keeps_the_user_reachable_by_the_others(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    assert_body(delete_identity(client, tenant, {"uuid": person}), 200, EMPTY)
    assert_body(profile(client, tenant, {"uuid": person}), 404, NO_SUCH_USER)
    assert attributes_of(client, tenant, {"email": EMAIL}) == {
        "name": "Ada",
        "surname": "Lovelace",
        "custom": {"tier": "gold", "seats": 3},
        "email": EMAIL,
        "phone_number": PHONE,
    }


def test_the_sole_identifier_of_a_user_cannot_be_deleted(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    upsert(client, tenant, user({"email": EMAIL}, {"name": "Solo"}))
    before = snapshot(container)
    assert_body(delete_identity(client, tenant, {"email": EMAIL}), 400, SOLE_IDENTIFIER)
    assert snapshot(container) == before
    assert attributes_of(client, tenant, {"email": EMAIL}) == {"name": "Solo", "email": EMAIL}


def test_after_a_merge_one_identifier_may_go_but_the_last_one_stays(
    client: TestClient, tenant: Tenant
) -> None:
    upsert(client, tenant, user({"email": EMAIL}))
    upsert(client, tenant, user({"phone_number": PHONE}))
    upsert(client, tenant, user({"email": EMAIL, "phone_number": PHONE}))
    assert_body(delete_identity(client, tenant, {"email": EMAIL}), 200, EMPTY)
    assert_body(delete_identity(client, tenant, {"phone_number": PHONE}), 400, SOLE_IDENTIFIER)
    assert attributes_of(client, tenant, {"phone_number": PHONE}) == {"phone_number": PHONE}


def test_deleting_two_identifiers_in_one_request_is_a_bad_request(
    client: TestClient, tenant: Tenant, person: str, container: Container
) -> None:
    before = snapshot(container)
    for identifiers in (
        {"email": EMAIL, "phone_number": PHONE},
        {"custom": {"user_loyalty_id": "xyz123", "other": "x"}},
        {"uuid": person, **LOYALTY},
    ):
        assert_body(
            delete_identity(client, tenant, identifiers),
            400,
            b'{"error":"identifiers must hold exactly one identifier: bad request"}',
        )
    assert snapshot(container) == before


@pytest.mark.usefixtures("person")
def test_deleting_an_unknown_identifier_is_not_found(client: TestClient, tenant: Tenant) -> None:
    for identifiers in ({"email": "other@mail.com"}, {"custom": {"user_loyalty_id": "nope"}}):
        assert_body(delete_identity(client, tenant, identifiers), 404, NO_SUCH_USER)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, b'{"error":"identifiers must be an object: bad request"}'),
        (
            {"identifiers": {}},
            b'{"error":"identifiers must hold at least one identifier: bad request"}',
        ),
        (
            {"identifiers": {"phone_number": "98765432"}},
            b'{"error":"identifiers.phone_number must be in E.164 format, e.g. +6598765432:'
            b' bad request"}',
        ),
    ],
    ids=["no-identifiers", "empty", "bad-phone"],
)
def test_identity_delete_of_the_wrong_shape_is_a_bad_request(
    client: TestClient, tenant: Tenant, body: dict[str, Any], expected: bytes
) -> None:
    assert_body(call(client, tenant, "DELETE", "/identity", body), 400, expected)


# --- PATCH /api/user/v1/identity ----------------------------------------------------------------


def test_changing_an_identifier_moves_the_user_to_the_new_value(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    response = change_identity(client, tenant, {"email": EMAIL}, {"email": "new@mail.com"})
    assert_body(response, 200, EMPTY)
    assert_body(profile(client, tenant, {"email": EMAIL}), 404, NO_SUCH_USER)
    assert attributes_of(client, tenant, {"email": "new@mail.com"})["uuid"] == person


def test_changing_a_custom_identifier_moves_the_user_to_the_new_value(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    new = {"custom": {"user_loyalty_id": "abc789"}}
    assert_body(change_identity(client, tenant, LOYALTY, new), 200, EMPTY)
    assert_body(profile(client, tenant, LOYALTY), 404, NO_SUCH_USER)
    assert attributes_of(client, tenant, new)["uuid"] == person


@pytest.mark.usefixtures("person")
def test_changing_an_identifier_to_the_same_value_is_a_bad_request(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    for old, new in (
        ({"email": EMAIL}, {"email": EMAIL}),
        ({"email": EMAIL}, {"email": EMAIL.upper()}),
        (LOYALTY, LOYALTY),
    ):
        assert_body(change_identity(client, tenant, old, new), 400, SAME_VALUES)
    assert snapshot(container) == before


@pytest.mark.usefixtures("person")
def test_changing_an_identifier_to_one_another_user_holds_is_a_bad_request(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    upsert(client, tenant, user({"email": "taken@mail.com"}))
    before = snapshot(container)
    response = change_identity(client, tenant, {"email": EMAIL}, {"email": "taken@mail.com"})
    assert_body(response, 400, IDENTIFIER_TAKEN)
    assert snapshot(container) == before


@pytest.mark.usefixtures("person")
def test_changing_an_unknown_identifier_is_not_found(client: TestClient, tenant: Tenant) -> None:
    response = change_identity(
        client, tenant, {"email": "nobody@mail.com"}, {"email": "n@mail.com"}
    )
    assert_body(response, 404, NO_SUCH_USER)


@pytest.mark.usefixtures("person")
def test_identity_change_of_the_wrong_shape_is_a_bad_request(
    client: TestClient, tenant: Tenant
) -> None:
    response = call(client, tenant, "PATCH", "/identity", {"old_identifier": {"email": EMAIL}})
    assert_body(response, 400, b'{"error":"new_identifier must be an object: bad request"}')
    response = change_identity(
        client, tenant, {"email": EMAIL, "phone_number": PHONE}, {"email": "n@mail.com"}
    )
    assert_body(
        response, 400, b'{"error":"old_identifier must hold exactly one identifier: bad request"}'
    )


# --- POST /api/user/v1/delete -------------------------------------------------------------------


def test_deleting_a_user_hides_it_at_once_and_the_purge_writes_a_receipt(
    client: TestClient, tenant: Tenant, person: str, container: Container, worker: Worker
) -> None:
    response = call(client, tenant, "POST", "/delete", {"identifiers": {"email": EMAIL}})
    assert_body(response, 200, EMPTY)
    for ident in ({"uuid": person}, {"email": EMAIL}, {"phone_number": PHONE}, LOYALTY):
        assert_body(profile(client, tenant, ident), 404, NO_SUCH_USER)
    tenant_id = tenant_id_of(container, tenant)
    assert receipts_of(container, tenant_id) == []

    worker.drain()

    receipts = receipts_of(container, tenant_id)
    assert len(receipts) == 1
    assert receipts[0]["surface"] == "insider"
    assert receipts[0]["reason"] == "hard_delete"
    assert receipts[0]["counts"] == {
        "aliases": 0,
        "keys": 1,
        "tags": 0,
        "devices": 0,
        "events": 1,
        "identifiers": 4,
        "merges": 0,
        "profiles": 1,
    }
    assert EMAIL not in str(receipts[0])
    assert person not in str(receipts[0])


def test_after_a_user_delete_an_upsert_makes_a_new_user_with_no_history(
    client: TestClient, tenant: Tenant, person: str, worker: Worker
) -> None:
    assert_body(call(client, tenant, "POST", "/delete", {"identifiers": LOYALTY}), 200, EMPTY)
    upsert(client, tenant, user({"uuid": person}))
    assert attributes_of(client, tenant, {"uuid": person}) == {"uuid": person}
    assert events_of(client, tenant, {"uuid": person}, "purchase") == {"purchase": []}
    worker.drain()
    assert attributes_of(client, tenant, {"uuid": person}) == {"uuid": person}
    assert_body(profile(client, tenant, {"email": EMAIL}), 404, NO_SUCH_USER)


def test_deleting_an_unknown_or_already_deleted_user_is_not_found(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    body = {"identifiers": {"uuid": person}}
    assert_body(
        call(client, tenant, "POST", "/delete", {"identifiers": {"uuid": "x"}}), 404, NO_SUCH_USER
    )
    assert_body(call(client, tenant, "POST", "/delete", body), 200, EMPTY)
    assert_body(call(client, tenant, "POST", "/delete", body), 404, NO_SUCH_USER)


@pytest.mark.usefixtures("person")
def test_user_delete_without_identifiers_is_a_bad_request(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    response = call(client, tenant, "POST", "/delete", {"identifiers": {}})
    assert_body(
        response, 400, b'{"error":"identifiers must hold at least one identifier: bad request"}'
    )
    assert snapshot(container) == before


# --- POST /api/user/v1/attribute/delete ---------------------------------------------------------


def test_attribute_delete_removes_whole_and_custom_attributes(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    response = call(
        client,
        tenant,
        "POST",
        "/attribute/delete",
        {
            "users": [
                {
                    "identifiers": {"email": EMAIL},
                    "whole": ["surname"],
                    "custom": {"whole": ["tier"]},
                }
            ]
        },
    )
    assert_body(response, 200, b'{"data":{"successful":{"count":1},"fail":{}}}')
    assert attributes_of(client, tenant, {"uuid": person}) == {
        "name": "Ada",
        "custom": {"seats": 3},
        "uuid": person,
        "email": EMAIL,
        "phone_number": PHONE,
    }


def test_attribute_delete_of_an_unknown_user_is_a_fail_entry(
    client: TestClient, tenant: Tenant, person: str
) -> None:
    response = call(
        client,
        tenant,
        "POST",
        "/attribute/delete",
        {
            "users": [
                {"identifiers": {"email": "nobody@mail.com"}, "whole": ["name"]},
                {"identifiers": {"uuid": person}, "whole": ["name"]},
                {"identifiers": {"uuid": person}, "whole": "name"},
            ]
        },
    )
    assert_json(
        response,
        200,
        counts(
            1,
            2,
            {
                "users.0.identifiers": ["no such user for these identifiers"],
                "users.2.whole": ["must be an array of attribute names"],
            },
        ),
    )
    assert "name" not in attributes_of(client, tenant, {"uuid": person})


def test_attribute_delete_without_users_is_a_bad_request(
    client: TestClient, tenant: Tenant
) -> None:
    assert_body(call(client, tenant, "POST", "/attribute/delete", {}), 400, USERS_UNDEFINED)
