"""Every mutating Gainsight endpoint refuses bad input with its documented envelope and changes
no row anywhere: a missing or wrong key is 401 with no effect, and a body over the cap 413."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.factories import gainsight_error, gainsight_event, gainsight_not_found
from tests.support.headers import gs_headers
from tests.support.rows import rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import add_event, assert_error, create_user

VICTIM = "victim-1"
VICTIM_ACCOUNT = "victim-account"
CAP = 2000


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_body_bytes": CAP}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    # A body that would change something if the request were accepted (None: no body).
    body: dict[str, Any] | None
    # Bodies of the right shape whose values have the wrong JSON type.
    wrong_types: tuple[dict[str, Any], ...]
    # The route as the app's table names it.
    route: str = ""
    # What another tenant's key gets: the victim is not found there.
    not_found: dict[str, Any] | None = None


ENDPOINTS: dict[str, Endpoint] = {
    "POST users": Endpoint(
        "POST",
        "/v1/users",
        {"identifyId": "newcomer-1", "propertyKeys": ["AP-1"], "email": "new@example.com"},
        (
            {"identifyId": 5, "propertyKeys": ["AP-1"]},
            {"identifyId": "newcomer-1", "propertyKeys": "x"},
            {"identifyId": "newcomer-1", "propertyKeys": ["AP-1"], "score": "high"},
        ),
    ),
    "PUT users/{id}": Endpoint(
        "PUT",
        f"/v1/users/{VICTIM}",
        {"firstName": "Changed"},
        ({"propertyKeys": "x"}, {"firstName": 5}, {"location": "Paris"}),
    ),
    "PUT users/update": Endpoint(
        "PUT",
        "/v1/users/update",
        {"identifyId": VICTIM, "firstName": "Changed"},
        ({"identifyId": 5, "firstName": "Changed"}, {"identifyId": VICTIM, "signUpDate": "today"}),
    ),
    "DELETE users/{id}": Endpoint("DELETE", f"/v1/users/{VICTIM}?hardDelete=true", None, ()),
    "DELETE users/delete": Endpoint(
        "DELETE",
        "/v1/users/delete?hardDelete=true",
        {"identifyId": VICTIM},
        ({"identifyId": 5}, {"identifyId": [VICTIM]}),
    ),
    "POST events/custom": Endpoint(
        "POST",
        "/v1/events/custom",
        gainsight_event(VICTIM),
        (
            gainsight_event(VICTIM, date="yesterday"),
            gainsight_event(VICTIM, identifyId=5),
            gainsight_event(VICTIM, attributes=["not", "an", "object"]),
        ),
    ),
    "POST accounts": Endpoint(
        "POST",
        "/v1/accounts",
        {"id": "new-account", "name": "New", "propertyKeys": ["AP-1"]},
        (
            {"id": 5, "name": "New", "propertyKeys": ["AP-1"]},
            {"id": "new-account", "name": "New", "propertyKeys": "AP-1"},
            {"id": "new-account", "name": "New", "propertyKeys": ["AP-1"], "nps": "high"},
        ),
        route="POST /v1/accounts",
    ),
    "PUT accounts/{id}": Endpoint(
        "PUT",
        f"/v1/accounts/{VICTIM_ACCOUNT}",
        {"plan": "Changed"},
        ({"plan": 5}, {"numberOfEmployees": "many"}, {"customAttributes": ["x"]}),
        route="PUT /v1/accounts/{account_id:path}",
        not_found=gainsight_error(
            "NOT_FOUND", f"Account was not found for parameters {{id={VICTIM_ACCOUNT}}}"
        ),
    ),
    "PUT accounts/update": Endpoint(
        "PUT",
        "/v1/accounts/update",
        {"id": VICTIM_ACCOUNT, "plan": "Changed"},
        ({"id": 5, "plan": "Changed"}, {"id": VICTIM_ACCOUNT, "renewalDate": "soon"}),
        route="PUT /v1/accounts/update",
        not_found=gainsight_error(
            "NOT_FOUND", f"Account was not found for parameters {{id={VICTIM_ACCOUNT}}}"
        ),
    ),
    "DELETE accounts/{id}": Endpoint(
        "DELETE",
        f"/v1/accounts/{VICTIM_ACCOUNT}",
        None,
        (),
        route="DELETE /v1/accounts/{account_id:path}",
        not_found=gainsight_error(
            "NOT_FOUND", f"Account was not found for parameters {{id={VICTIM_ACCOUNT}}}"
        ),
    ),
}
ROUTES_OF_USERS = {
    "POST users": "POST /v1/users",
    "PUT users/{id}": "PUT /v1/users/{identify_id:path}",
    "PUT users/update": "PUT /v1/users/update",
    "DELETE users/{id}": "DELETE /v1/users/{identify_id:path}",
    "DELETE users/delete": "DELETE /v1/users/delete",
    "POST events/custom": "POST /v1/events/custom",
}


def _route_of(name: str) -> str:
    return ENDPOINTS[name].route or ROUTES_OF_USERS[name]


def test_every_mutating_gainsight_route_is_in_the_matrix(client: TestClient) -> None:
    served = {
        f"{method} {route.path}"
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/v1/")
        for method in route.methods or ()
        if method not in ("GET", "HEAD")
    }
    assert served == {_route_of(name) for name in ENDPOINTS}


# DELETE /v1/users/{id} reads no body: its malformed, mistyped input is the hardDelete flag.
DELETE_BY_PATH_BAD_FLAGS = {
    "malformed-json": "tru",
    "json-array": "[true]",
    "wrong-type-0": "5",
}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    content: bytes | None
    key: str | None
    expected_code: int
    expected_status: str


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def build_case(name: str, kind: str, tenant: Tenant, other_tenant: Tenant) -> Case:
    endpoint = ENDPOINTS[name]
    key = tenant["gainsight"]["api_key"]
    content = None if endpoint.body is None else _json(endpoint.body)
    if kind in DELETE_BY_PATH_BAD_FLAGS and endpoint.body is None and endpoint.route:
        # DELETE /v1/accounts/{id} takes no parameters: its bad input is another key only.
        raise AssertionError(f"no {kind} case for {name}")
    if kind in DELETE_BY_PATH_BAD_FLAGS and endpoint.body is None:
        path = f"/v1/users/{VICTIM}?hardDelete={DELETE_BY_PATH_BAD_FLAGS[kind]}"
        return Case(endpoint.method, path, None, key, 400, "BAD_REQUEST")
    if kind == "malformed-json":
        assert content is not None
        return Case(endpoint.method, endpoint.path, content[:-3], key, 400, "BAD_REQUEST")
    if kind == "json-array":
        return Case(endpoint.method, endpoint.path, _json([endpoint.body]), key, 400, "BAD_REQUEST")
    if kind.startswith("wrong-type-"):
        body = endpoint.wrong_types[int(kind.removeprefix("wrong-type-"))]
        return Case(endpoint.method, endpoint.path, _json(body), key, 400, "BAD_REQUEST")
    if kind == "missing-key":
        return Case(endpoint.method, endpoint.path, content, None, 401, "UNAUTHORIZED")
    if kind == "wrong-key":
        return Case(endpoint.method, endpoint.path, content, key + "x", 401, "UNAUTHORIZED")
    if kind == "other-tenants-key":
        other_key = other_tenant["gainsight"]["api_key"]
        return Case(endpoint.method, endpoint.path, content, other_key, 404, "NOT_FOUND")
    assert kind == "oversized-body"
    padded = {**(endpoint.body or {}), "padding": "x" * (CAP + 1000)}
    return Case(endpoint.method, endpoint.path, _json(padded), key, 413, "PAYLOAD_TOO_LARGE")


def _kinds(name: str) -> list[str]:
    endpoint = ENDPOINTS[name]
    if endpoint.body is None and endpoint.route:
        return ["missing-key", "wrong-key", "other-tenants-key", "oversized-body"]
    wrong = [f"wrong-type-{n}" for n in range(len(endpoint.wrong_types) or 1)]
    return [
        "malformed-json",
        "json-array",
        *wrong,
        "missing-key",
        "wrong-key",
        "other-tenants-key",
        "oversized-body",
    ]


CASES = [(name, kind) for name in ENDPOINTS for kind in _kinds(name)]


@pytest.fixture
def victim(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    account = client.post(
        "/v1/accounts",
        json={"id": VICTIM_ACCOUNT, "name": "Victim Co", "propertyKeys": ["AP-1"]},
        headers=gs_headers(tenant),
    )
    assert account.status_code == 201, account.text
    user = create_user(
        client, tenant, VICTIM, customAttributes={"plan": "gold"}, accountId=VICTIM_ACCOUNT
    )
    add_event(client, tenant, VICTIM, "signed-up")
    return user


@pytest.mark.parametrize(("endpoint", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_bad_request_answers_its_envelope_and_changes_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    victim: dict[str, Any],
    endpoint: str,
    kind: str,
) -> None:
    case = build_case(endpoint, kind, tenant, other_tenant)
    before = snapshot(container)
    headers = {"Content-Type": "application/json"}
    if case.key is not None:
        headers["X-APTRINSIC-API-KEY"] = case.key
    response = client.request(case.method, case.path, content=case.content, headers=headers)
    # Nothing changed is the stronger promise, so it is checked first.
    if endpoint in ("POST users", "POST accounts") and kind == "other-tenants-key":
        # Creating a user or account in tenant B is legitimate; tenant A must not feel it.
        assert response.status_code == 201, response.text
        tenant_a = tenant_id_of(container, tenant)
        assert rows_of_tenant(snapshot(container), tenant_a) == rows_of_tenant(before, tenant_a)
        return
    assert snapshot(container) == before, f"{response.status_code} {response.text}"
    assert_error(response, case.expected_code, case.expected_status)
    if case.expected_code == 401:
        assert response.json() == gainsight_error("UNAUTHORIZED", "Unauthorized or bad API Key")
    if case.expected_code == 404:
        assert response.json() == (ENDPOINTS[endpoint].not_found or gainsight_not_found(VICTIM))
    got = client.get(f"/v1/users/{VICTIM}", headers=gs_headers(tenant))
    assert got.json() == victim
