"""Helpers shared by the Insider surface tests: headers, the byte-exact bodies of SPEC §3.3,
request builders and the rows a deletion leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2
from sqlalchemy import select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.storage import tables as t

Tenant = dict[str, Any]
Snapshot = dict[str, list[tuple[Any, ...]]]

BASE = "/api/user/v1"

# Byte for byte as SPEC §3.3 and seed 002 give them.
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


def headers(tenant: Tenant) -> dict[str, str]:
    creds = tenant["insider"]
    return {"X-PARTNER-NAME": creds["partner_name"], "X-REQUEST-TOKEN": creds["request_token"]}


def send(
    client: TestClient, sent_headers: dict[str, str], method: str, path: str, body: Any
) -> httpx2.Response:
    """One Insider call with exactly these headers (``body`` None: no body at all)."""
    if body is None:
        return client.request(method, f"{BASE}{path}", headers=sent_headers)
    return client.request(method, f"{BASE}{path}", json=body, headers=sent_headers)


def call(client: TestClient, tenant: Tenant, method: str, path: str, body: Any) -> httpx2.Response:
    """One Insider call with the tenant's own credentials."""
    return send(client, headers(tenant), method, path, body)


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
    """The upsert / attribute-delete answer as SPEC §3.3 shapes it."""
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


def tenant_id_of(container: Container, tenant: Tenant) -> str:
    with container.engine.connect() as conn:
        found = conn.execute(
            select(t.tenants.c.tenant_id).where(t.tenants.c.name == tenant["tenant"])
        ).scalar_one()
    return str(found)


def rows_of_tenant(snap: Snapshot, tenant_id: str) -> Snapshot:
    """The part of a snapshot that belongs to one tenant (``tenant_id`` leads every key)."""
    return {table: [r for r in rows if r[0] == repr(tenant_id)] for table, rows in snap.items()}


def receipts_of(container: Container, tenant_id: str) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(t.receipts).where(t.receipts.c.tenant_id == tenant_id).order_by(t.receipts.c.seq)
        )
        return [dict(r._mapping) for r in rows]
