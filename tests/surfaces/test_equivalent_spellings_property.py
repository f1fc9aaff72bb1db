"""Generated spellings of emails and phone numbers, through the real app on both backends: none
gets past a suppression, and none misses a deletion."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from tests.support.headers import native_headers
from tests.support.tenants import Tenant
from tests.surfaces.insider import support as ins
from tests.surfaces.native.support import API, assert_problem, create_profile, put_profile
from tests.unit.test_canonical_identifiers import (
    DOMAINS,
    LOCALS,
    PHONES,
    email_spellings,
    phone_spellings,
)

# Each example talks to the real app over a database that outlives it; the examples only add
# people under fresh uuids, so sharing it between them is sound.
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_fresh = itertools.count()


@pytest.fixture
def everyone_suppressed(client: TestClient, tenant: Tenant) -> None:
    """Every base email and phone number of the generators, hard-deleted with suppression."""
    for n, (local, domain) in enumerate(itertools.product(LOCALS, DOMAINS)):
        create_profile(client, tenant, f"base-{n}", email=f"{local}@{domain}")
    for n, phone in enumerate(PHONES):
        create_profile(client, tenant, f"phone-{n}", phone_number=phone)
    for uuid in [f"base-{n}" for n in range(len(LOCALS) * len(DOMAINS))] + [
        f"phone-{n}" for n in range(len(PHONES))
    ]:
        gone = client.delete(
            f"{API}/profiles/{uuid}?mode=hard&suppress=true",
            headers={**native_headers(tenant), "X-Obliviate-Confirm-Mass-Delete": "yes"},
        )
        assert gone.status_code in (200, 202), gone.text


@pytest.mark.usefixtures("everyone_suppressed")
@PROPERTY
@given(pair=email_spellings())
def test_no_generated_spelling_of_a_suppressed_email_is_accepted(
    client: TestClient, tenant: Tenant, pair: tuple[str, str]
) -> None:
    _, spelling = pair
    refused = put_profile(client, tenant, f"new-{next(_fresh)}", {}, {"email": spelling})
    assert_problem(refused, 409, "suppressed")
    upsert = ins.call(client, tenant, "POST", "/upsert", {"users": [ins.user({"email": spelling})]})
    assert upsert.json()["data"]["successful"] == {}, (spelling, upsert.text)


@pytest.mark.usefixtures("everyone_suppressed")
@PROPERTY
@given(pair=phone_spellings())
def test_no_generated_spelling_of_a_suppressed_phone_number_is_accepted(
    client: TestClient, tenant: Tenant, pair: tuple[str, str]
) -> None:
    _, spelling = pair
    answer = put_profile(client, tenant, f"new-{next(_fresh)}", {}, {"phone_number": spelling})
    assert answer.status_code in (409, 422), answer.text


@PROPERTY
@given(pair=email_spellings())
def test_a_deletion_by_any_spelling_of_an_email_removes_the_person(
    client: TestClient, tenant: Tenant, pair: tuple[str, str]
) -> None:
    base, spelling = pair
    uuid = f"victim-{next(_fresh)}"
    # The base address is free again after each example's deletion (no suppression here).
    create_profile(client, tenant, uuid, email=base)
    deleted = ins.call(client, tenant, "POST", "/delete", {"identifiers": {"email": spelling}})
    assert deleted.status_code == 200, (spelling, deleted.text)
    assert_problem(client.get(f"{API}/profiles/{uuid}", headers=native_headers(tenant)), 404)
    ins.assert_json(
        ins.profile(client, tenant, {"email": base}),
        404,
        {"error": "no such user for these identifiers: no data"},
    )
