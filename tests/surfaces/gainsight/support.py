"""Helpers shared by the Gainsight surface tests: envelopes, tenant rows and person rows."""

from __future__ import annotations

import time
from typing import Any

import httpx2
from sqlalchemy import func, select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.storage import tables as t
from tests.factories import gainsight_event, gainsight_user, gs_headers

Snapshot = dict[str, list[tuple[Any, ...]]]

DELETED_BODY = {"body": {}, "statusCode": "200", "statusCodeValue": 200}


def assert_error(response: httpx2.Response, code: int, status: str) -> None:
    """The whole Gainsight envelope, where SPEC fixes the status but not the message text."""
    assert response.status_code == code, response.text
    body = response.json()
    # support.py is not assertion-rewritten by pytest: say what was received.
    assert set(body) == {"externalapierror"}, body
    error = body["externalapierror"]
    assert set(error) == {"status", "message", "debugMessage", "subErrors"}, body
    assert error["status"] == status, f"status {error['status']!r} != {status!r}"
    assert isinstance(error["message"], str), body
    assert error["message"], body
    assert error["debugMessage"] is None, body
    assert error["subErrors"] is None, body


def create_user(
    client: TestClient, tenant: dict[str, Any], identify_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    response = client.post(
        "/v1/users", json=gainsight_user(identify_id, **fields), headers=gs_headers(tenant)
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


def add_event(
    client: TestClient,
    tenant: dict[str, Any],
    identify_id: str,
    name: str = "clicked",
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        "/v1/events/custom",
        json=gainsight_event(identify_id, name, **fields),
        headers=gs_headers(tenant),
    )
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    return event


def events_of(client: TestClient, tenant: dict[str, Any], identify_id: str) -> dict[str, Any]:
    response = client.get(
        "/v1/events/custom",
        params={"filter": f"identifyId=={identify_id}", "pageSize": "1000"},
        headers=gs_headers(tenant),
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def tenant_id_of(container: Container, tenant: dict[str, Any]) -> str:
    with container.engine.connect() as conn:
        found = conn.execute(
            select(t.tenants.c.tenant_id).where(t.tenants.c.name == tenant["tenant"])
        ).scalar_one()
    return str(found)


def rows_of_tenant(snap: Snapshot, tenant_id: str) -> Snapshot:
    """The part of a snapshot that belongs to one tenant (``tenant_id`` leads every key)."""
    return {table: [r for r in rows if r[0] == repr(tenant_id)] for table, rows in snap.items()}


def profile_id_of(user: dict[str, Any]) -> int:
    """``aptrinsicId`` is the profile id in hexadecimal."""
    return int(user["aptrinsicId"], 16)


def person_rows(container: Container, tenant_id: str, profile_id: int) -> dict[str, int]:
    """How many rows of one profile remain in each table that holds person data."""
    counts: dict[str, int] = {}
    with container.engine.connect() as conn:
        for table in (t.events, t.identifiers, t.profiles):
            counts[table.name] = conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.tenant_id == tenant_id, table.c.profile_id == profile_id)
            ).scalar_one()
    return counts


def receipts_of(container: Container, tenant_id: str) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(t.receipts).where(t.receipts.c.tenant_id == tenant_id).order_by(t.receipts.c.seq)
        )
        return [dict(r._mapping) for r in rows]


def now_ms() -> int:
    return int(time.time() * 1000)


def list_users(client: TestClient, tenant: dict[str, Any], query: str = "") -> dict[str, Any]:
    response = client.get(f"/v1/users{query}", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page
