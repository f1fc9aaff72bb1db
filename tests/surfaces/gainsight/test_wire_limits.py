"""Gainsight error envelopes for the body cap (413) and the rate limit (429).

Each test sets its own limits by parametrizing ``settings_overrides`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.factories import gainsight_event, gainsight_user
from tests.support.headers import gs_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import assert_error, create_user

SMALL_CAP = {"max_body_bytes": 2000}
THREE_PER_MINUTE = {"gainsight_rate_limit": "3/minute"}
PADDING = "x" * 3000


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
def test_create_with_a_body_over_the_cap_is_payload_too_large(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    body = gainsight_user("big-1", customAttributes={"padding": PADDING})
    response = client.post("/v1/users", json=body, headers=gs_headers(tenant))
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
def test_body_cap_holds_when_no_content_length_is_declared(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    chunk = b'{"identifyId":"big-2","propertyKeys":["k"],"padding":"' + PADDING.encode() + b'"}'

    def chunks() -> Any:
        # A generator body is sent chunked: the server must count bytes as they arrive.
        for start in range(0, len(chunk), 500):
            yield chunk[start : start + 500]

    response = client.post("/v1/users", content=chunks(), headers=gs_headers(tenant))
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
def test_body_just_under_the_cap_is_accepted(client: TestClient, tenant: Tenant) -> None:
    body = gainsight_user("fits-1", customAttributes={"padding": "x" * 1700})
    response = client.post("/v1/users", json=body, headers=gs_headers(tenant))
    assert response.status_code == 201, response.text


def _limited_calls(client: TestClient, tenant: Tenant) -> list[Callable[[], httpx2.Response]]:
    headers = gs_headers(tenant)
    return [
        lambda: client.get("/v1/users", headers=headers),
        lambda: client.get("/v1/users/rl-1", headers=headers),
        lambda: client.post("/v1/users", json=gainsight_user("rl-2"), headers=headers),
        lambda: client.put("/v1/users/rl-1", json={"firstName": "Late"}, headers=headers),
        lambda: client.put(
            "/v1/users/update", json={"identifyId": "rl-1", "firstName": "Late"}, headers=headers
        ),
        lambda: client.delete("/v1/users/rl-1", headers=headers),
        lambda: client.request(
            "DELETE", "/v1/users/delete", json={"identifyId": "rl-1"}, headers=headers
        ),
        lambda: client.post("/v1/events/custom", json=gainsight_event("rl-1"), headers=headers),
        lambda: client.get("/v1/events/custom", headers=headers),
    ]


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_over_the_rate_limit_every_endpoint_answers_429_with_retry_after_and_does_nothing(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    create_user(client, tenant, "rl-1")
    for _ in range(2):
        assert client.get("/v1/users", headers=gs_headers(tenant)).status_code == 200
    before = snapshot(container)
    for call in _limited_calls(client, tenant):
        response = call()
        assert_error(response, 429, "TOO_MANY_REQUESTS")
        retry_after = response.headers["Retry-After"]
        assert retry_after.isdigit()
        assert 1 <= int(retry_after) <= 60
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_rate_limit_is_counted_per_tenant(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    for _ in range(3):
        assert client.get("/v1/users", headers=gs_headers(tenant)).status_code == 200
    assert client.get("/v1/users", headers=gs_headers(tenant)).status_code == 429
    assert client.get("/v1/users", headers=gs_headers(other_tenant)).status_code == 200


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_unauthenticated_calls_do_not_spend_a_tenants_rate_limit(
    client: TestClient, tenant: Tenant
) -> None:
    for _ in range(5):
        response = client.get("/v1/users", headers={"X-APTRINSIC-API-KEY": "wrong"})
        assert response.status_code == 401
    for _ in range(3):
        assert client.get("/v1/users", headers=gs_headers(tenant)).status_code == 200
