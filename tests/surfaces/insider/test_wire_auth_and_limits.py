"""Insider's partner auth, body cap and rate limit, byte for byte as the vendor answers.

That a refused request changes no row is shown per endpoint in test_auth_changes_nothing.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.factories import uid
from tests.support.headers import gs_headers, insider_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.insider.support import (
    ACCESS_DENIED,
    BASE,
    PARTNER_INVALID,
    TOO_MANY_REQUESTS,
    assert_body,
    call,
    send,
    upsert,
    user,
)

# Every endpoint, with a body it would accept.
ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/upsert", {"users": [user({"uuid": "someone"})]}),
    ("POST", "/profile", {"identifiers": {"uuid": "someone"}}),
    ("DELETE", "/identity", {"identifiers": {"uuid": "someone"}}),
    ("PATCH", "/identity", {"old_identifier": {"uuid": "a"}, "new_identifier": {"uuid": "b"}}),
    ("POST", "/delete", {"identifiers": {"uuid": "someone"}}),
    ("POST", "/attribute/delete", {"users": [{"identifiers": {"uuid": "x"}, "whole": ["a"]}]}),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]


def partner_variants(tenant: Tenant) -> dict[str, dict[str, str]]:
    """Headers whose partner name is refused before the token is looked at."""
    good = insider_headers(tenant)
    partner = good["X-PARTNER-NAME"]
    token = good["X-REQUEST-TOKEN"]
    return {
        "uppercase": {"X-PARTNER-NAME": partner.upper(), "X-REQUEST-TOKEN": token},
        "capitalised": {"X-PARTNER-NAME": partner.capitalize(), "X-REQUEST-TOKEN": token},
        "missing": {"X-REQUEST-TOKEN": token},
        "empty": {"X-PARTNER-NAME": "", "X-REQUEST-TOKEN": token},
        "missing-both": {},
        "uppercase-no-token": {"X-PARTNER-NAME": partner.upper()},
    }


def token_variants(tenant: Tenant, other: Tenant) -> dict[str, dict[str, str]]:
    """Headers with a valid-looking lowercase partner that are refused as access denied."""
    good = insider_headers(tenant)
    partner = good["X-PARTNER-NAME"]
    token = good["X-REQUEST-TOKEN"]
    return {
        "wrong-token": {"X-PARTNER-NAME": partner, "X-REQUEST-TOKEN": token + "x"},
        "missing-token": {"X-PARTNER-NAME": partner},
        "empty-token": {"X-PARTNER-NAME": partner, "X-REQUEST-TOKEN": ""},
        "unknown-partner": {"X-PARTNER-NAME": "nosuchpartner", "X-REQUEST-TOKEN": token},
        "other-tenants-token": {
            "X-PARTNER-NAME": partner,
            "X-REQUEST-TOKEN": other["insider"]["request_token"],
        },
        "other-tenants-partner": {
            "X-PARTNER-NAME": other["insider"]["partner_name"],
            "X-REQUEST-TOKEN": token,
        },
    }


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_partner_name_not_in_lowercase_or_missing_is_invalid(
    client: TestClient, tenant: Tenant, method: str, path: str, body: dict[str, Any]
) -> None:
    for name, sent in partner_variants(tenant).items():
        response = send(client, sent, method, path, body)
        assert response.status_code == 400, name
        assert_body(response, 400, PARTNER_INVALID)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_wrong_or_missing_token_or_unknown_partner_is_access_denied(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    for name, sent in token_variants(tenant, other_tenant).items():
        response = send(client, sent, method, path, body)
        assert response.status_code == 403, name
        assert_body(response, 403, ACCESS_DENIED)


def test_auth_is_checked_before_the_body_is_read(client: TestClient, tenant: Tenant) -> None:
    sent = {"X-PARTNER-NAME": tenant["insider"]["partner_name"], "X-REQUEST-TOKEN": "wrong"}
    response = client.post(f"{BASE}/upsert", content=b"{not json", headers=sent)
    assert_body(response, 403, ACCESS_DENIED)


# --- 413 ----------------------------------------------------------------------------------------

SMALL_CAP = {"max_body_bytes": 2000}
TOO_LARGE_2000 = b'{"error":"request body is bigger than maximum allowed size 2,000 bytes"}'


def big_upsert(size: int) -> bytes:
    """An upsert body of exactly ``size`` bytes."""
    head = b'{"users":[{"identifiers":{"uuid":"big"},"attributes":{"pad":"'
    tail = b'"}}]}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
@pytest.mark.parametrize(("method", "path", "_body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_body_over_the_cap_is_refused_with_the_size_in_the_message(
    client: TestClient,
    tenant: Tenant,
    container: Container,
    method: str,
    path: str,
    _body: dict[str, Any],
) -> None:
    before = snapshot(container)
    response = client.request(
        method, f"{BASE}{path}", content=big_upsert(2001), headers=insider_headers(tenant)
    )
    assert_body(response, 413, TOO_LARGE_2000)
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
def test_the_cap_holds_for_a_chunked_body_without_a_content_length(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    raw = big_upsert(3000)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 500):
            yield raw[start : start + 500]

    response = client.post(f"{BASE}/upsert", content=chunks(), headers=insider_headers(tenant))
    assert_body(response, 413, TOO_LARGE_2000)
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [SMALL_CAP], ids=["cap-2000"])
def test_a_body_of_exactly_the_cap_is_accepted(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"{BASE}/upsert", content=big_upsert(2000), headers=insider_headers(tenant)
    )
    assert_body(response, 200, b'{"data":{"successful":{"count":1},"fail":{}}}')


def test_the_default_cap_is_five_million_bytes(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"{BASE}/upsert", content=big_upsert(5_000_001), headers=insider_headers(tenant)
    )
    assert_body(
        response,
        413,
        b'{"error":"request body is bigger than maximum allowed size 5,000,000 bytes"}',
    )


# --- 429 ----------------------------------------------------------------------------------------

THREE_PER_MINUTE = {"insider_rate_limit": "3/minute"}


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_over_the_rate_limit_every_endpoint_is_rejected_with_retry_after_and_does_nothing(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    person = uid()
    upsert(client, tenant, user({"uuid": person, "email": "rl@example.com"}))
    for _ in range(2):
        response = call(client, tenant, "POST", "/profile", {"identifiers": {"uuid": person}})
        assert response.status_code == 200, response.text
    before = snapshot(container)
    for method, path, body in ENDPOINTS:
        aimed = dict(body)
        if "identifiers" in aimed:
            aimed["identifiers"] = {"uuid": person}
        response = call(client, tenant, method, path, aimed)
        assert_body(response, 429, TOO_MANY_REQUESTS)
        retry_after = response.headers["Retry-After"]
        assert retry_after.isdigit()
        assert 1 <= int(retry_after) <= 60
    assert snapshot(container) == before


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_the_rate_limit_is_counted_per_tenant(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"users": [user({"uuid": uid()})]}
    for _ in range(3):
        assert call(client, tenant, "POST", "/upsert", body).status_code == 200
    assert_body(call(client, tenant, "POST", "/upsert", body), 429, TOO_MANY_REQUESTS)
    assert_body(
        call(client, other_tenant, "POST", "/upsert", body),
        200,
        b'{"data":{"successful":{"count":1},"fail":{}}}',
    )


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_refused_credentials_do_not_spend_a_tenants_rate_limit(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"users": [user({"uuid": uid()})]}
    for sent in [
        *partner_variants(tenant).values(),
        *token_variants(tenant, other_tenant).values(),
    ]:
        assert send(client, sent, "POST", "/upsert", body).status_code in (400, 403)
    for _ in range(3):
        assert_body(
            call(client, tenant, "POST", "/upsert", body),
            200,
            b'{"data":{"successful":{"count":1},"fail":{}}}',
        )


def test_the_default_limit_admits_a_thousand_requests_a_minute_and_no_more(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"identifiers": {"uuid": "nobody"}}
    statuses = [call(client, tenant, "POST", "/profile", body).status_code for _ in range(1000)]
    assert statuses == [404] * 1000
    assert_body(call(client, tenant, "POST", "/profile", body), 429, TOO_MANY_REQUESTS)


@pytest.mark.parametrize("settings_overrides", [THREE_PER_MINUTE], ids=["3-per-minute"])
def test_the_insider_limit_is_its_own_and_leaves_other_surfaces_alone(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"identifiers": {"uuid": "nobody"}}
    for _ in range(3):
        assert call(client, tenant, "POST", "/profile", body).status_code == 404
    assert_body(call(client, tenant, "POST", "/profile", body), 429, TOO_MANY_REQUESTS)
    gainsight = client.get("/v1/users", headers=gs_headers(tenant))
    assert gainsight.status_code == 200, gainsight.text
