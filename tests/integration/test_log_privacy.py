from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.http.logging import JsonFormatter
from tests.factories import gainsight_event, gainsight_user, gs_headers, uid


def test_request_logs_carry_keyed_hashes_never_identifiers(
    client: TestClient,
    container: Container,
    tenant: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    uuid = uid("secret-person")
    h = gs_headers(tenant)
    with caplog.at_level(logging.INFO, logger="obliviate"):
        client.post("/v1/users", json=gainsight_user(uuid, email="hidden@example.com"), headers=h)
        client.post("/v1/events/custom", json=gainsight_event(uuid), headers=h)
        client.get(f"/v1/users/{uuid}", headers=h)
        client.get(f"/v1/events/custom?filter=identifyId=={uuid}", headers=h)
        client.delete(f"/v1/users/{uuid}?hardDelete=true", headers=h)
        client.get(f"/v1/users/{uuid}", headers=h)
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert len([line for line in lines if '"request"' in line]) == 6
    text = "\n".join(lines)
    assert uuid not in text
    assert "hidden@example.com" not in text
    assert tenant["gainsight"]["api_key"] not in text
    records = [json.loads(line) for line in lines]
    assert container.hasher("uuid", uuid) in {r.get("subject") for r in records}
