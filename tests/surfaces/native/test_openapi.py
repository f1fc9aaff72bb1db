"""The native API describes itself: an OpenAPI 3.1 document at ``/api/v1/openapi.json`` (shown by
Swagger UI at ``/docs``) that lists every native route the app serves, and every one of those
routes answers 401 problem+json with ``WWW-Authenticate`` when the bearer token is missing or
wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.headers import native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.native.support import API, assert_problem

SELF_DESCRIBING = {f"{API}/openapi.json"}
PATH_PARAM = re.compile(r"{([^}]+)}")
SAMPLE_PARAMS = {
    "uuid": "u-1",
    "rid": "d-1",
    "job_id": "1",
    "receipt_id": "r-1",
    "type": "uuid",
    "value": "v-1",
}
BAD_AUTH: dict[str, dict[str, str]] = {
    "missing": {},
    "empty-bearer": {"Authorization": "Bearer "},
    "wrong-token": {"Authorization": "Bearer ob_not-a-real-token"},
    "basic-scheme": {"Authorization": "Basic ZGVtbzpkZW1v"},
}


def served_routes(client: TestClient) -> set[tuple[str, str]]:
    """(method, path) of every native route the running app serves."""
    found: set[tuple[str, str]] = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route) or not route.path.startswith(API):
            continue
        if route.path in SELF_DESCRIBING:
            continue
        found |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    return found


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    found: dict[str, Any] = response.json()
    return found


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        here = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return here + [r for value in node.values() for r in refs_in(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs_in(value)]
    return []


def test_the_document_is_openapi_3_1_and_lists_every_native_route_of_the_app(
    client: TestClient, document: dict[str, Any]
) -> None:
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"]
    assert document["info"]["version"]
    served = served_routes(client)
    assert len(served) >= 18
    assert documented(document) == served


def test_every_profile_deletion_receipt_and_suppression_route_is_documented(
    document: dict[str, Any],
) -> None:
    wanted = {
        ("PUT", f"{API}/profiles/{{uuid}}"),
        ("GET", f"{API}/profiles/{{uuid}}"),
        ("GET", f"{API}/profiles"),
        ("POST", f"{API}/profiles/{{uuid}}/events"),
        ("PUT", f"{API}/profiles/{{uuid}}/devices/{{rid}}"),
        ("DELETE", f"{API}/profiles/{{uuid}}"),
        ("POST", f"{API}/profiles/{{uuid}}/restore"),
        ("POST", f"{API}/deletions"),
        ("GET", f"{API}/deletions/{{job_id}}"),
        ("POST", f"{API}/deletions/{{job_id}}/cancel"),
        ("GET", f"{API}/receipts/{{receipt_id}}"),
        ("GET", f"{API}/receipts"),
        ("DELETE", f"{API}/suppressions/{{type}}/{{value}}"),
    }
    assert wanted <= documented(document)


def test_every_operation_is_complete_and_every_reference_resolves(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    operation_ids: list[str] = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            operation_ids.append(op["operationId"])
            assert op["summary"], where
            [requirement] = op["security"]
            [scopes] = requirement.values()
            assert len(scopes) == 1
            assert scopes[0] in {"read", "write", "delete", "admin"}, where
            in_path = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert in_path == set(PATH_PARAM.findall(path)), where
            assert any(code.startswith("2") for code in op["responses"]), where
            for code in ("401", "403", "404", "422"):
                content = op["responses"][code]["content"]
                assert "application/problem+json" in content, where
    assert len(operation_ids) == len(set(operation_ids))
    schemas = document["components"]["schemas"]
    for ref in refs_in(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[-1] in schemas, ref


def test_the_document_states_the_scope_each_operation_needs(document: dict[str, Any]) -> None:
    def scope(method: str, path: str) -> str:
        [requirement] = document["paths"][f"{API}{path}"][method]["security"]
        [scopes] = requirement.values()
        return str(scopes[0])

    assert scope("get", "/profiles/{uuid}") == "read"
    assert scope("put", "/profiles/{uuid}") == "write"
    assert scope("delete", "/profiles/{uuid}") == "delete"
    assert scope("post", "/deletions") == "delete"
    assert scope("post", "/deletions/{job_id}/cancel") == "delete"
    assert scope("delete", "/suppressions/{type}/{value}") == "admin"


def test_the_deletion_request_is_described_with_its_fields_and_headers(
    document: dict[str, Any],
) -> None:
    op = document["paths"][f"{API}/deletions"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"subjects", "mode", "suppress", "dry_run"} <= set(schema["properties"])
    assert "subjects" in schema["required"]
    headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "X-Obliviate-Confirm-Mass-Delete"} <= headers
    assert "202" in op["responses"]
    assert "413" in op["responses"]
    delete = document["paths"][f"{API}/profiles/{{uuid}}"]["delete"]
    assert {"mode", "suppress", "dry_run"} <= {
        p["name"] for p in delete["parameters"] if p["in"] == "query"
    }


def test_docs_is_swagger_ui_over_the_native_document(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<html" in page.lower()
    assert "/docs/static/swagger-ui-bundle.js" in page
    # The native document is the one the page opens on.
    first = page.index("/api/v1/openapi.json")
    assert all(first < page.index(f"/{s}/openapi.json") for s in ("gainsight", "insider"))


def test_the_document_needs_no_token_and_names_no_tenant(
    client: TestClient, tenant: Tenant
) -> None:
    anonymous = client.get(f"{API}/openapi.json")
    authenticated = client.get(f"{API}/openapi.json", headers=native_headers(tenant))
    assert anonymous.content == authenticated.content
    assert tenant["tenant"] not in anonymous.text


@pytest.mark.parametrize("kind", list(BAD_AUTH))
@pytest.mark.usefixtures("tenant")
def test_every_native_route_answers_401_problem_with_www_authenticate_and_changes_nothing(
    client: TestClient, container: Container, kind: str
) -> None:
    routes = sorted(served_routes(client))
    before = snapshot(container)
    for method, template in routes:
        path = PATH_PARAM.sub(lambda m: SAMPLE_PARAMS[m.group(1)], template)
        body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
        response = client.request(method, path, json=body, headers=BAD_AUTH[kind])
        problem = assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), f"{method} {path}"
        assert problem["detail"]
    assert snapshot(container) == before
