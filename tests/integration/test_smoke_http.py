from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.factories import gainsight_user
from tests.support.headers import gs_headers


def test_created_user_can_be_read_back(client: TestClient, tenant: dict[str, Any]) -> None:
    body = gainsight_user()
    created = client.post("/v1/users", json=body, headers=gs_headers(tenant))
    assert created.status_code == 201
    got = client.get(f"/v1/users/{body['identifyId']}", headers=gs_headers(tenant))
    assert got.status_code == 200
    assert got.json()["email"] == "person@example.com"


def test_every_answer_carries_a_request_id_of_its_own_or_the_callers(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(i.isalnum() and len(i) == 32 for i in ids)
    mine = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    # Anything but a plain token is replaced: it would end up in the logs as sent.
    odd = client.get("/healthz", headers={"X-Request-Id": "a b\tc"})
    assert odd.headers["x-request-id"] not in ("a b\tc", "abc-123")
