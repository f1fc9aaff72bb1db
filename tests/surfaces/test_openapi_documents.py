"""Each vendor surface describes itself: an OpenAPI 3.1 document at ``/<surface>/openapi.json``,
served without credentials, that lists exactly the routes the app serves for that surface. A new
route without its documentation fails here; so does a route under a prefix no surface claims."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from starlette.routing import Route
from starlette.testclient import TestClient

from obliviate.http.apidoc import documented_operations, openapi_path
from tests.support.headers import gs_headers, native_headers

# Path prefix of each surface's API.
PREFIXES = {
    "gainsight": "/v1/",
    "engagelab": "/v4/",
    "insider": "/api/user/v1/",
    "native": "/api/v1/",
}
VENDORS = ("gainsight", "engagelab", "insider")
SELF_DESCRIBING = {f"/{surface}/openapi.json" for surface in PREFIXES} | {
    "/api/v1/openapi.json",
}
INFRASTRUCTURE = {"/healthz", "/readyz", "/metrics"}
# Pages for people, documented by themselves: the landing page, Swagger UI and the console
# (tests/surfaces/console).
PAGES = ("/docs", "/console")


@pytest.fixture
def backend() -> str:
    # The route table and the documents do not depend on the database.
    return "sqlite"


def served(client: TestClient) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the app serves, paths as OpenAPI writes them."""
    found: set[tuple[str, str]] = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if (
            isinstance(route, Route)
            and route.path not in SELF_DESCRIBING | INFRASTRUCTURE | {"/"}
            and not route.path.startswith(PAGES)
        ):
            path = openapi_path(route.path)
            found |= {(m, path) for m in route.methods or () if m != "HEAD"}
    return found


def document(client: TestClient, surface: str) -> dict[str, Any]:
    response = client.get(f"/{surface}/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    found: dict[str, Any] = response.json()
    return found


def test_every_route_of_the_app_belongs_to_a_surface(client: TestClient) -> None:
    unclaimed = {
        (method, path)
        for method, path in served(client)
        if not any(path.startswith(prefix) for prefix in PREFIXES.values())
    }
    assert unclaimed == set()


@pytest.mark.parametrize("surface", VENDORS)
def test_the_document_lists_exactly_the_routes_the_app_serves_for_the_surface(
    client: TestClient, surface: str
) -> None:
    mine = {(m, p) for m, p in served(client) if p.startswith(PREFIXES[surface])}
    if surface == "gainsight":
        assert len(mine) == 31
    assert documented_operations(document(client, surface)) == mine


@pytest.mark.parametrize("surface", [*VENDORS, "native"])
def test_the_document_is_valid_openapi_3_1_and_needs_no_credentials(
    client: TestClient, surface: str
) -> None:
    found = document(client, surface)
    assert found["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(found).validate()
    for path, operations in found["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"], where
            assert any(code.startswith("2") for code in operation["responses"]), where
            assert "401" in operation["responses"] or "403" in operation["responses"], where


def test_the_native_document_is_also_served_under_its_surface_name(client: TestClient) -> None:
    assert client.get("/native/openapi.json").json() == client.get("/api/v1/openapi.json").json()


def test_the_vendor_documents_name_their_vendor_s_security_scheme(client: TestClient) -> None:
    schemes = {
        surface: document(client, surface)["components"]["securitySchemes"] for surface in VENDORS
    }
    assert schemes["gainsight"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-APTRINSIC-API-KEY"}
    }
    assert schemes["engagelab"] == {"basic": {"type": "http", "scheme": "basic"}}
    assert {s["name"] for s in schemes["insider"].values()} == {
        "X-PARTNER-NAME",
        "X-REQUEST-TOKEN",
    }


def test_a_user_another_surface_wrote_still_reads_as_the_documented_gainsight_user(
    client: TestClient, tenant: dict[str, Any]
) -> None:
    # Native and Insider attributes are free-form JSON; Gainsight's user fields are typed.
    # (Not the email: an email attribute that is not an address is refused on every surface.)
    odd = {
        "firstName": 5,
        "score": "high",
        "signUpDate": True,
        "propertyKeys": ["k", 7],
        "location": "Singapore",
        "custom": [1],
    }
    native = native_headers(tenant)
    created = client.put("/api/v1/profiles/typed-1", json={"attributes": odd}, headers=native)
    assert created.status_code == 201, created.text
    gainsight = gs_headers(tenant)
    response = client.get("/v1/users/typed-1", headers=gainsight)
    assert response.status_code == 200, response.text
    schema = schemathesis.openapi.from_dict(document(client, "gainsight"))
    schema["/v1/users/{identify_id}"]["GET"].validate_response(response)
    user = response.json()
    assert (user["firstName"], user["email"], user["score"], user["signUpDate"]) == ("", "", 0, 0)
    assert created.json()["attributes"].get("email") is None
    assert (user["propertyKeys"], user["location"], user["customAttributes"]) == (["k"], None, None)
