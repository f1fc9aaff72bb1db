"""Rotating a surface's credentials takes effect in the running server, without a restart."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.services.tenants import create_token, rotate_credentials
from tests.support.headers import surface_headers

SURFACES = {
    "gainsight": ("GET", "/v1/users", 401),
    "engagelab": ("GET", "/v4/tags", 401),
    "insider": ("POST", "/api/user/v1/profile", 403),
    "native": ("GET", "/api/v1/profiles", 401),
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"auth_cache_ttl": 0}


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_rotated_credentials_work_at_once_and_the_old_ones_stop(
    surface: str, client: TestClient, container: Container, tenant: dict[str, Any]
) -> None:
    method, path, refused = SURFACES[surface]
    body = {"identifiers": {"uuid": "nobody"}} if surface == "insider" else None
    old = surface_headers(surface, tenant[surface])
    assert client.request(method, path, headers=old, json=body).status_code in (200, 404)
    fresh = rotate_credentials(
        container.tenant_store, name=tenant["tenant"], surface=surface, now=int(time.time() * 1000)
    )
    new = surface_headers(surface, fresh.fields())
    assert client.request(method, path, headers=new, json=body).status_code in (200, 404)
    assert client.request(method, path, headers=old, json=body).status_code == refused


def test_rotating_native_revokes_scoped_tokens_too(
    client: TestClient, container: Container, tenant: dict[str, Any]
) -> None:
    now = int(time.time() * 1000)
    scoped = create_token(container.tenant_store, name=tenant["tenant"], scopes=["read"], now=now)
    old = {"Authorization": f"Bearer {scoped}"}
    assert client.get("/api/v1/profiles", headers=old).status_code == 200
    fresh = rotate_credentials(
        container.tenant_store, name=tenant["tenant"], surface="native", now=now
    )
    refused = client.get("/api/v1/profiles", headers=old)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "a valid bearer token is required"
    new = surface_headers("native", fresh.fields())
    assert client.get("/api/v1/profiles", headers=new).status_code == 200


def test_rotating_another_surface_leaves_native_tokens_alone(
    client: TestClient, container: Container, tenant: dict[str, Any]
) -> None:
    now = int(time.time() * 1000)
    scoped = create_token(container.tenant_store, name=tenant["tenant"], scopes=["read"], now=now)
    rotate_credentials(container.tenant_store, name=tenant["tenant"], surface="gainsight", now=now)
    for token in (scoped, tenant["native"]["token"]):
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/profiles", headers=headers).status_code == 200
