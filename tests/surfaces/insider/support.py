"""Helpers shared by the Insider surface tests: the vendor's answers byte for byte, request
builders and the answer shapes of upsert and attribute deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2
from starlette.testclient import TestClient

from tests.support.headers import insider_headers
from tests.support.tenants import Tenant

BASE = "/api/user/v1"

# Byte for byte as the vendor answers.
EMPTY = b"{}"
USERS_UNDEFINED = b'{"error":"users must be defined: bad request"}'
NO_SUCH_USER = b'{"error":"no such user for these identifiers: no data"}'
SOLE_IDENTIFIER = (
    b'{"error":"you cannot delete the sole identifier specified for a user: bad request"}'
)
SAME_VALUES = b'{"error":"identifier values are the same: bad request"}'
IDENTIFIER_TAKEN = b'{"error":"new identifier already has a user assigned to it: bad request"}'
PARTNER_INVALID = b'{"success":false,"message":"Partner is invalid."}'
ACCESS_DENIED = (
    b'{"success":false,"message":'
    b'"Access Denied. You do not have sufficient access to perform this action."}'
)
TOO_MANY_REQUESTS = b'{"error":"rejected: too many requests"}'


def send(
    client: TestClient, sent_headers: dict[str, str], method: str, path: str, body: Any
) -> httpx2.Response:
    """One Insider call with exactly these headers (``body`` None: no body at all)."""
    if body is None:
        return client.request(method, f"{BASE}{path}", headers=sent_headers)
    return client.request(method, f"{BASE}{path}", json=body, headers=sent_headers)


def call(client: TestClient, tenant: Tenant, method: str, path: str, body: Any) -> httpx2.Response:
    """One Insider call with the tenant's own credentials."""
    return send(client, insider_headers(tenant), method, path, body)


def assert_body(response: httpx2.Response, status: int, content: bytes) -> None:
    """The status and the body byte for byte, as JSON."""
    # support.py is not assertion-rewritten by pytest: say what was received.
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json", response.headers
    assert response.content == content, response.content


def assert_json(response: httpx2.Response, status: int, body: Any) -> None:
    """The status and the whole JSON body (key order aside)."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json", response.headers
    assert response.json() == body, response.text


def user(
    identifiers: dict[str, Any],
    attributes: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"identifiers": identifiers}
    if attributes is not None:
        entry["attributes"] = attributes
    if events is not None:
        entry["events"] = events
    return entry


def ev(name: str, timestamp: str, **params: Any) -> dict[str, Any]:
    return {"event_name": name, "timestamp": timestamp, "event_params": params}


def counts(successful: int, failed: int = 0, errors: dict[str, list[str]] | None = None) -> Any:
    """The upsert / attribute-delete answer: counts of successful and failed users."""
    return {
        "data": {
            "successful": {"count": successful} if successful else {},
            "fail": {"count": failed, "errors": errors or {}} if failed else {},
        }
    }


def upsert(client: TestClient, tenant: Tenant, *users: dict[str, Any]) -> None:
    """Upsert users that are all valid: every one is counted as successful."""
    response = call(client, tenant, "POST", "/upsert", {"users": list(users)})
    assert_json(response, 200, counts(len(users)))


def profile(
    client: TestClient, tenant: Tenant, identifiers: dict[str, Any], **query: Any
) -> httpx2.Response:
    return call(client, tenant, "POST", "/profile", {"identifiers": identifiers, **query})


def attributes_of(client: TestClient, tenant: Tenant, identifiers: dict[str, Any]) -> Any:
    response = profile(client, tenant, identifiers)
    assert response.status_code == 200, response.text
    return response.json()["attributes"]


def events_of(
    client: TestClient, tenant: Tenant, identifiers: dict[str, Any], *names: str
) -> dict[str, list[dict[str, Any]]]:
    wanted = [{"event_name": n} for n in names]
    response = profile(client, tenant, identifiers, events={"wanted": wanted})
    assert response.status_code == 200, response.text
    found: dict[str, list[dict[str, Any]]] = response.json()["events"]
    return found


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())
