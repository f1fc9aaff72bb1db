"""Helpers shared by the Gainsight surface tests: the error envelope, users, events and the
person rows a deletion leaves behind."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import func, select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.storage import tables as t
from tests.factories import gainsight_event, gainsight_user
from tests.support.headers import gs_headers

DELETED_BODY = {"body": {}, "statusCode": "200", "statusCodeValue": 200}


def assert_error(response: httpx2.Response, code: int, status: str) -> None:
    """The whole Gainsight envelope: the status is pinned, the message text is not."""
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


def list_users(client: TestClient, tenant: dict[str, Any], query: str = "") -> dict[str, Any]:
    response = client.get(f"/v1/users{query}", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page
