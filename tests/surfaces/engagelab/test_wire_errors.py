"""EngageLab's auth errors, body cap and rate limit on every endpoint.

Missing Basic credentials -> 401 code 27001; wrong ones -> 401 code 27004; a body over the cap
-> 413; over the rate limit -> 429 with ``Retry-After``. Each answer is the vendor envelope, and
none of them changes a row.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.headers import basic, el_headers, native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import (
    AUTH_FAILED,
    AUTH_MISSING,
    Call,
    assert_ok,
    every_endpoint,
    get_device,
    set_device,
)

RID = "victim1"
ENDPOINTS = every_endpoint(RID)
NAMES = list(ENDPOINTS)
CAP = 2000
SMALL_CAP = {"max_body_bytes": CAP}
THREE_PER_MINUTE = {"engagelab_rate_limit": "3/minute"}


@pytest.fixture
def victim(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    response = client.put(
        f"/api/v1/devices/{RID}", json={"platform": "android"}, headers=native_headers(tenant)
    )
    assert response.status_code == 201, response.text
    set_device(client, tenant, RID, add=["news"], alias="ann")
    return get_device(client, tenant, RID)


def send(client: TestClient, call: Call, headers: dict[str, str], body: Any = None) -> Any:
    content = body if body is not None else call.body
    return client.request(call.method, call.path, json=content, headers=headers)


def assert_envelope(response: httpx2.Response, status: int, code: int | None = None) -> None:
    """The vendor envelope; ``code`` is pinned where the vendor documents one."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["code"], int)
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code


# --- 401 ---------------------------------------------------------------------------------

MISSING: dict[str, dict[str, str]] = {
    "no-header": {},
    "empty-header": {"Authorization": ""},
    "basic-without-credentials": {"Authorization": "Basic "},
}


def wrong_credentials(tenant: Tenant, other_tenant: Tenant) -> dict[str, dict[str, str]]:
    key, secret = tenant["engagelab"]["app_key"], tenant["engagelab"]["master_secret"]
    other_key = other_tenant["engagelab"]["app_key"]
    other_secret = other_tenant["engagelab"]["master_secret"]
    no_colon = base64.b64encode(f"{key}{secret}".encode()).decode()
    return {
        "wrong-secret": basic(key, secret + "x"),
        "wrong-app-key": basic(key + "x", secret),
        "swapped": basic(secret, key),
        "app-key-of-another-tenant": basic(other_key, secret),
        "secret-of-another-tenant": basic(key, other_secret),
        "malformed-base64": {"Authorization": "Basic !!not-base64!!"},
        "base64-without-colon": {"Authorization": f"Basic {no_colon}"},
        "empty-secret": basic(key, ""),
    }


WRONG_KINDS = [
    "wrong-secret",
    "wrong-app-key",
    "swapped",
    "app-key-of-another-tenant",
    "secret-of-another-tenant",
    "malformed-base64",
    "base64-without-colon",
    "empty-secret",
]


@pytest.mark.parametrize("kind", list(MISSING))
@pytest.mark.parametrize("endpoint", NAMES)
def test_missing_credentials_are_401_code_27001_and_change_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    victim: dict[str, Any],
    endpoint: str,
    kind: str,
) -> None:
    before = snapshot(container)
    response = send(client, ENDPOINTS[endpoint], MISSING[kind])
    assert_envelope(response, 401, AUTH_MISSING)
    assert snapshot(container) == before
    assert get_device(client, tenant, RID) == victim


@pytest.mark.parametrize("kind", WRONG_KINDS)
@pytest.mark.parametrize("endpoint", NAMES)
def test_wrong_credentials_are_401_code_27004_and_change_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    victim: dict[str, Any],
    endpoint: str,
    kind: str,
) -> None:
    before = snapshot(container)
    headers = wrong_credentials(tenant, other_tenant)[kind]
    response = send(client, ENDPOINTS[endpoint], headers)
    assert_envelope(response, 401, AUTH_FAILED)
    assert snapshot(container) == before
    assert get_device(client, tenant, RID) == victim


def test_the_basic_scheme_name_is_case_insensitive(client: TestClient, tenant: Tenant) -> None:
    token = el_headers(tenant)["Authorization"].removeprefix("Basic ")
    response = client.get("/v4/tags", headers={"Authorization": f"basic {token}"})
    assert_ok(response, {"tags": []})


# --- 413 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
@pytest.mark.parametrize("endpoint", NAMES)
def test_a_body_over_the_cap_is_413_on_every_endpoint_and_changes_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    victim: dict[str, Any],
    endpoint: str,
) -> None:
    before = snapshot(container)
    call = ENDPOINTS[endpoint]
    padded = {**(call.body or {}), "padding": "x" * (CAP + 500)}
    response = send(client, call, el_headers(tenant), padded)
    assert_envelope(response, 413)
    assert snapshot(container) == before
    assert get_device(client, tenant, RID) == victim


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
@pytest.mark.usefixtures("victim")
def test_the_cap_holds_for_a_chunked_body_without_content_length(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    before = snapshot(container)
    payload = b'{"tags":{"add":["big"]},"padding":"' + b"x" * (CAP + 500) + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 400):
            yield payload[start : start + 400]

    response = client.post(f"/v4/devices/{RID}", content=chunks(), headers=el_headers(tenant))
    assert_envelope(response, 413)
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
@pytest.mark.usefixtures("victim")
def test_a_body_just_under_the_cap_is_accepted(client: TestClient, tenant: Tenant) -> None:
    # 99 new tags beside "news": the most a device holds, in just under 2000 bytes.
    body = json.dumps({"tags": {"add": [f"tag{n:03d}_padding" for n in range(99)]}}).encode()
    assert CAP - 200 < len(body) <= CAP
    response = client.post(f"/v4/devices/{RID}", content=body, headers=el_headers(tenant))
    assert_ok(response, {})
    assert len(get_device(client, tenant, RID)["tags"]) == 100


# --- 429 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_over_the_rate_limit_every_endpoint_is_429_with_retry_after_and_does_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    # Set-up goes through the native API, whose limit is its own.
    response = client.put(
        f"/api/v1/devices/{RID}", json={"platform": "android"}, headers=native_headers(tenant)
    )
    assert response.status_code == 201
    for _ in range(3):
        assert_ok(client.get("/v4/tags", headers=el_headers(tenant)), {"tags": []})
    before = snapshot(container)
    for name, call in ENDPOINTS.items():
        response = send(client, call, el_headers(tenant))
        assert_envelope(response, 429)
        retry_after = response.headers["Retry-After"]
        assert retry_after.isdigit(), name
        assert 1 <= int(retry_after) <= 60, name
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_the_rate_limit_is_counted_per_tenant(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    for _ in range(3):
        assert client.get("/v4/tags", headers=el_headers(tenant)).status_code == 200
    assert_envelope(client.get("/v4/tags", headers=el_headers(tenant)), 429)
    assert_ok(client.get("/v4/tags", headers=el_headers(other_tenant)), {"tags": []})


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_the_engagelab_limit_is_separate_from_other_surfaces(
    client: TestClient, tenant: Tenant
) -> None:
    for _ in range(3):
        assert client.get("/v4/tags", headers=el_headers(tenant)).status_code == 200
    assert_envelope(client.get("/v4/tags", headers=el_headers(tenant)), 429)
    response = client.put(
        f"/api/v1/devices/{RID}", json={"platform": "ios"}, headers=native_headers(tenant)
    )
    assert response.status_code == 201


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_unauthenticated_calls_do_not_spend_a_tenants_rate_limit(
    client: TestClient, tenant: Tenant
) -> None:
    wrong = basic(tenant["engagelab"]["app_key"], "wrong")
    for _ in range(5):
        assert_envelope(client.get("/v4/tags", headers=wrong), 401, AUTH_FAILED)
    for _ in range(3):
        assert_ok(client.get("/v4/tags", headers=el_headers(tenant)), {"tags": []})
