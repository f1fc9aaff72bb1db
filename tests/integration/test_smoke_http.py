from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.factories import gainsight_user, gs_headers


def test_created_user_can_be_read_back(client: TestClient, tenant: dict[str, Any]) -> None:
    body = gainsight_user()
    created = client.post("/v1/users", json=body, headers=gs_headers(tenant))
    assert created.status_code == 201
    got = client.get(f"/v1/users/{body['identifyId']}", headers=gs_headers(tenant))
    assert got.status_code == 200
    assert got.json()["email"] == "person@example.com"
