"""The README's demo credentials open nothing under OBLIVIATE_ENV=production, whatever created
them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.services.tenants import DEMO_CREDENTIALS, create_tenant, create_token
from tests.support.databases import fresh_database
from tests.support.headers import surface_headers

# Each surface's own refusal: method, path, status and the body it answers.
REFUSALS: dict[str, tuple[str, str, int, Any]] = {
    "gainsight": (
        "GET",
        "/v1/users",
        401,
        {
            "externalapierror": {
                "status": "UNAUTHORIZED",
                "message": "Unauthorized or bad API Key",
                "debugMessage": None,
                "subErrors": None,
            }
        },
    ),
    "engagelab": (
        "GET",
        "/v4/tags",
        401,
        {
            "error": {
                "code": 27004,
                "message": "authentication failed: app_key or master_secret is wrong",
            }
        },
    ),
    "insider": (
        "POST",
        "/api/user/v1/profile",
        403,
        {
            "success": False,
            "message": "Access Denied. You do not have sufficient access to perform this action.",
        },
    ),
    "native": ("GET", "/api/v1/profiles", 401, None),
}


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    # A database of its own: tenants holding the demo credentials must not be left where other
    # tests sign in with them.
    with fresh_database(backend, tmp_path, request, migrated=True) as url:
        yield url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"env": "production", "auth_cache_ttl": 0}


def _now() -> int:
    return int(time.time() * 1000)


def _demo_tenant(container: Container) -> str:
    """A tenant holding the demo credentials, made as `serve --demo` makes them (not through
    the CLI's production check): a database carried over from a development install."""
    name = f"demo-{secrets.token_hex(4)}"
    create_tenant(container.tenant_store, name=name, now=_now(), demo=True)
    return name


def _headers(surface: str) -> dict[str, str]:
    return surface_headers(surface, DEMO_CREDENTIALS[surface])


def _body(surface: str) -> Any:
    return {"identifiers": {"uuid": "nobody"}} if surface == "insider" else None


def _assert_refused(surface: str, response: Any) -> None:
    _, _, status, body = REFUSALS[surface]
    assert response.status_code == status, response.text
    if surface == "native":
        problem = response.json()
        assert problem["status"] == 401
        assert problem["detail"] == "a valid bearer token is required"
        assert response.headers["content-type"] == "application/problem+json"
    else:
        assert response.json() == body


@pytest.mark.parametrize("surface", sorted(REFUSALS))
def test_demo_credentials_are_refused_on_every_surface_in_production(
    surface: str, client: TestClient, container: Container
) -> None:
    _demo_tenant(container)
    method, path, _, _ = REFUSALS[surface]
    response = client.request(method, path, headers=_headers(surface), json=_body(surface))
    _assert_refused(surface, response)


def test_a_native_hard_delete_with_the_demo_token_is_refused_and_deletes_nothing(
    client: TestClient, container: Container
) -> None:
    name = _demo_tenant(container)
    # The same tenant's own, non-demo token still works in production.
    token = create_token(container.tenant_store, name=name, scopes=["admin"], now=_now())
    own = {"Authorization": f"Bearer {token}"}
    made = client.put("/api/v1/profiles/kept", json={"attributes": {"a": 1}}, headers=own)
    assert made.status_code == 201, made.text

    deleted = client.delete("/api/v1/profiles/kept?mode=hard", headers=_headers("native"))
    _assert_refused("native", deleted)
    kept = client.get("/api/v1/profiles/kept", headers=own)
    assert kept.status_code == 200
    assert kept.json()["attributes"] == {"a": 1}


@pytest.mark.parametrize("settings_overrides", [{"env": "development", "auth_cache_ttl": 0}])
@pytest.mark.parametrize("surface", sorted(REFUSALS))
def test_outside_production_the_demo_credentials_work_as_the_readme_says(
    surface: str, client: TestClient, container: Container
) -> None:
    _demo_tenant(container)
    method, path, _, _ = REFUSALS[surface]
    response = client.request(method, path, headers=_headers(surface), json=_body(surface))
    assert response.status_code in (200, 404), response.text
