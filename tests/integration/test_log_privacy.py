from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.http.logging import JsonFormatter
from tests.factories import gainsight_event, gainsight_user, uid
from tests.support.headers import gs_headers, native_headers


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


def test_engagelab_and_insider_logs_carry_no_identifiers(
    client: TestClient,
    container: Container,
    tenant: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rid, alias = uid("device-secret"), "alias_secret_1"
    email, phone = "planted-person@example.com", "+6598765432"
    basic = (tenant["engagelab"]["app_key"], tenant["engagelab"]["master_secret"])
    insider = {
        "X-PARTNER-NAME": tenant["insider"]["partner_name"],
        "X-REQUEST-TOKEN": tenant["insider"]["request_token"],
    }
    with caplog.at_level(logging.INFO, logger="obliviate"):
        client.post(
            f"/v4/devices/{rid}", json={"tags": {"add": ["t1"]}, "alias": alias}, auth=basic
        )
        client.get(f"/v4/devices/{rid}", auth=basic)
        client.get(f"/v4/aliases/{alias}", auth=basic)
        client.delete(f"/v4/devices/{rid}", auth=basic)
        client.post(
            "/api/user/v1/upsert",
            headers=insider,
            json={"users": [{"identifiers": {"email": email, "phone_number": phone}}]},
        )
        client.post("/api/user/v1/profile", headers=insider, json={"identifiers": {"email": email}})
        client.request(
            "DELETE",
            "/api/user/v1/identity",
            headers=insider,
            json={"identifiers": {"phone_number": phone}},
        )
        client.post("/api/user/v1/delete", headers=insider, json={"identifiers": {"email": email}})
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert text.count('"msg": "request"') + text.count('"msg":"request"') == 8
    for planted in (rid, alias, email, phone, tenant["insider"]["request_token"]):
        assert planted not in text
    subjects = {json.loads(line).get("subject") for line in text.splitlines()}
    assert container.hasher("registration_id", rid) in subjects
    assert container.hasher("email", email) in subjects


def test_native_logs_and_metrics_carry_no_identifiers(
    client: TestClient,
    tenant: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    uuid, email = uid("native-secret"), "native-planted@example.com"
    bearer = native_headers(tenant)
    with caplog.at_level(logging.INFO, logger="obliviate"):
        client.put(
            f"/api/v1/profiles/{uuid}", headers=bearer, json={"identifiers": {"email": email}}
        )
        client.post(
            f"/api/v1/profiles/{uuid}/events", headers=bearer, json={"events": [{"name": "seen"}]}
        )
        client.delete(f"/api/v1/profiles/{uuid}?mode=hard&dry_run=true", headers=bearer)
        client.post(
            "/api/v1/deletions",
            headers=bearer,
            json={"subjects": [{"type": "email", "value": email}], "suppress": True},
        )
        client.get(f"/api/v1/suppressions/email/{email}", headers=bearer)
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    metrics = client.get("/metrics").text
    assert "obliviate_requests_total" in metrics
    for planted in (uuid, email, tenant["native"]["token"]):
        assert planted not in text
        assert planted not in metrics
