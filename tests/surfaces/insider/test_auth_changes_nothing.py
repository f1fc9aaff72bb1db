"""Every mutating Insider endpoint runs nothing when auth fails (as the vendor documents: with an
incorrect token no operation is executed), and another tenant's credentials reach only that
tenant's rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.headers import insider_headers
from tests.support.rows import rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.insider.support import (
    ACCESS_DENIED,
    NO_SUCH_USER,
    PARTNER_INVALID,
    assert_body,
    assert_json,
    attributes_of,
    counts,
    ev,
    send,
    upsert,
    user,
)

VICTIM = "victim-1"
VICTIM_EMAIL = "victim@example.com"


@dataclass(frozen=True)
class Mutation:
    method: str
    path: str
    # Aimed at the victim: it would change their rows if it ran.
    body: dict[str, Any]
    # What the other tenant's own credentials get: status and whole JSON body.
    other_tenant_status: int
    other_tenant_body: Any


MUTATIONS: dict[str, Mutation] = {
    "upsert": Mutation(
        "POST",
        "/upsert",
        {
            "users": [
                user(
                    {"uuid": VICTIM, "phone_number": "+6598765432"},
                    {"name": "Changed"},
                    [ev("intruded", "2024-05-01T00:00:00Z")],
                )
            ]
        },
        200,
        counts(1),
    ),
    "DELETE identity": Mutation(
        "DELETE", "/identity", {"identifiers": {"email": VICTIM_EMAIL}}, 404, NO_SUCH_USER
    ),
    "PATCH identity": Mutation(
        "PATCH",
        "/identity",
        {"old_identifier": {"email": VICTIM_EMAIL}, "new_identifier": {"email": "x@example.com"}},
        404,
        NO_SUCH_USER,
    ),
    "delete": Mutation("POST", "/delete", {"identifiers": {"uuid": VICTIM}}, 404, NO_SUCH_USER),
    "attribute delete": Mutation(
        "POST",
        "/attribute/delete",
        {
            "users": [
                {"identifiers": {"uuid": VICTIM}, "whole": ["name"], "custom": {"whole": ["t"]}}
            ]
        },
        200,
        counts(0, 1, {"users.0.identifiers": ["no such user for these identifiers"]}),
    ),
}


def refused_credentials(tenant: Tenant, other: Tenant) -> dict[str, tuple[dict[str, str], bytes]]:
    """Headers that must be refused, each with the body the refusal carries."""
    partner = tenant["insider"]["partner_name"]
    token = tenant["insider"]["request_token"]
    return {
        "wrong partner": (
            {"X-PARTNER-NAME": "nosuchpartner", "X-REQUEST-TOKEN": token},
            ACCESS_DENIED,
        ),
        "other tenant's partner": (
            {"X-PARTNER-NAME": other["insider"]["partner_name"], "X-REQUEST-TOKEN": token},
            ACCESS_DENIED,
        ),
        "uppercase partner": (
            {"X-PARTNER-NAME": partner.upper(), "X-REQUEST-TOKEN": token},
            PARTNER_INVALID,
        ),
        "missing partner": ({"X-REQUEST-TOKEN": token}, PARTNER_INVALID),
        "wrong token": ({"X-PARTNER-NAME": partner, "X-REQUEST-TOKEN": token[:-1]}, ACCESS_DENIED),
        "missing token": ({"X-PARTNER-NAME": partner}, ACCESS_DENIED),
        "other tenant's token": (
            {"X-PARTNER-NAME": partner, "X-REQUEST-TOKEN": other["insider"]["request_token"]},
            ACCESS_DENIED,
        ),
    }


@pytest.fixture
def victim(client: TestClient, tenant: Tenant) -> None:
    upsert(
        client,
        tenant,
        user(
            {"uuid": VICTIM, "email": VICTIM_EMAIL, "custom": {"crm": "c-1"}},
            {"name": "Victim", "custom": {"t": 1}},
            [ev("seen", "2024-01-01T00:00:00Z")],
        ),
    )


@pytest.mark.usefixtures("victim")
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_refused_credentials_change_no_row_on_any_mutating_endpoint(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, container: Container, name: str
) -> None:
    mutation = MUTATIONS[name]
    before = snapshot(container)
    for label, (sent, refusal) in refused_credentials(tenant, other_tenant).items():
        response = send(client, sent, mutation.method, mutation.path, mutation.body)
        assert response.status_code in (400, 403), label
        assert_body(response, response.status_code, refusal)
        assert snapshot(container) == before, label


@pytest.mark.usefixtures("victim")
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_another_tenants_credentials_never_reach_the_victim(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, container: Container, name: str
) -> None:
    mutation = MUTATIONS[name]
    victim_tenant = tenant_id_of(container, tenant)
    before = rows_of_tenant(snapshot(container), victim_tenant)
    response = send(
        client, insider_headers(other_tenant), mutation.method, mutation.path, mutation.body
    )
    if isinstance(mutation.other_tenant_body, bytes):
        assert_body(response, mutation.other_tenant_status, mutation.other_tenant_body)
    else:
        assert_json(response, mutation.other_tenant_status, mutation.other_tenant_body)
    assert rows_of_tenant(snapshot(container), victim_tenant) == before
    assert attributes_of(client, tenant, {"uuid": VICTIM}) == {
        "name": "Victim",
        "custom": {"t": 1},
        "uuid": VICTIM,
        "email": VICTIM_EMAIL,
    }


@pytest.mark.usefixtures("victim")
def test_an_upsert_with_another_tenants_credentials_creates_a_separate_user_there(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = MUTATIONS["upsert"].body
    response = send(client, insider_headers(other_tenant), "POST", "/upsert", body)
    assert_json(response, 200, counts(1))
    assert attributes_of(client, other_tenant, {"uuid": VICTIM}) == {
        "name": "Changed",
        "uuid": VICTIM,
        "phone_number": "+6598765432",
    }
    assert attributes_of(client, tenant, {"uuid": VICTIM})["name"] == "Victim"
