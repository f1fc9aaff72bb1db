"""Subject access exports through the native API, on SQLite and PostgreSQL: a person planted
through all four surfaces comes back whole, nobody else's data does, and the export is in the
audit chain."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from obliviate.services.audit import verify_tenant
from obliviate.storage import tables as t
from tests.factories import gainsight_event, gainsight_user
from tests.support.headers import el_headers, gs_headers, insider_headers, native_headers
from tests.support.rows import tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.native.support import (
    API,
    CONFIRM,
    create_profile,
    own_device,
    run_until_terminal,
)

UUID = "exp-ada"
EMAIL = "ada@example.com"
PHONE = "+491511234567"
RID = "exp-ada-phone"


def plant_person(client: TestClient, tenant: Tenant, uuid: str = UUID, phone: str = PHONE) -> None:
    """One person through every surface: Gainsight user and event, Insider identifiers,
    attributes, an event and a merge, an EngageLab device with tags and alias, native events
    and device ownership."""
    email, rid = f"{uuid}@example.com", f"{uuid}-phone"
    gs = client.post(
        "/v1/users", json=gainsight_user(uuid, email=email), headers=gs_headers(tenant)
    )
    assert gs.status_code == 201, gs.text
    event = client.post(
        "/v1/events/custom", json=gainsight_event(uuid, "clicked"), headers=gs_headers(tenant)
    )
    assert event.status_code == 201, event.text
    # A second profile the Insider upsert folds into the first: a merge to export.
    create_profile(client, tenant, f"{uuid}-twin", phone_number=phone)
    upsert = client.post(
        "/api/user/v1/upsert",
        json={
            "users": [
                {
                    "identifiers": {"uuid": uuid, "phone_number": phone, "custom": {"crm": uuid}},
                    "attributes": {"name": "Ada", "custom": {"tier": "gold"}},
                    "events": [
                        {
                            "event_name": "purchase",
                            "timestamp": "2024-03-01T10:00:00Z",
                            "event_params": {"amount": 12},
                        }
                    ],
                }
            ]
        },
        headers={**insider_headers(tenant), **CONFIRM},
    )
    assert upsert.status_code == 200, upsert.text
    assert upsert.json()["data"]["fail"] == {}, upsert.text
    native = client.post(
        f"{API}/profiles/{uuid}/events",
        json={"events": [{"name": "opened", "timestamp": 5_000, "properties": {"k": "v"}}]},
        headers=native_headers(tenant),
    )
    assert native.status_code == 201, native.text
    own_device(
        client, tenant, uuid, rid, tags=("news", "vip"), alias=f"al_{uuid}".replace("-", "_")
    )
    details = client.put(
        f"{API}/devices/{rid}",
        json={"platform": "ios", "timezone": "Europe/Berlin", "info": {"os": "17"}},
        headers=native_headers(tenant),
    )
    assert details.status_code in (200, 201), details.text


def export(client: TestClient, tenant: Tenant, uuid: str = UUID, **kw: Any) -> Any:
    headers = kw.pop("headers", None) or native_headers(tenant)
    return client.get(f"{API}/profiles/{uuid}/export", headers=headers)


def export_json(client: TestClient, tenant: Tenant, uuid: str = UUID) -> Any:
    response = export(client, tenant, uuid)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return orjson.loads(response.content)


def receipts_of(container: Container, tenant: Tenant) -> list[Any]:
    with container.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.receipts)
                .where(t.receipts.c.tenant_id == tenant_id_of(container, tenant))
                .order_by(t.receipts.c.seq)
            )
        )


def test_a_person_planted_through_all_four_surfaces_comes_back_whole(
    client: TestClient, tenant: Tenant
) -> None:
    plant_person(client, tenant)

    doc = export_json(client, tenant)

    assert list(doc) == [
        "subject",
        "identifiers",
        "attributes",
        "events",
        "devices",
        "merges",
        "suppressed",
        "receipts",
    ]
    assert doc["subject"]["state"] == "active"
    held = {(i["type"], i["value"]) for i in doc["identifiers"]}
    assert {("uuid", UUID), ("phone_number", PHONE), ("custom.crm", UUID)} <= held
    assert ("uuid", f"{UUID}-twin") in held
    assert doc["attributes"]["firstName"] == "Ada"
    assert doc["attributes"]["email"] == f"{UUID}@example.com"
    assert doc["attributes"]["custom"]["tier"] == "gold"
    names = sorted(e["name"] for e in doc["events"])
    assert names == ["clicked", "opened", "purchase"]
    by_name = {e["name"]: e for e in doc["events"]}
    assert by_name["clicked"]["properties"]["button"] == "save"
    assert by_name["purchase"]["properties"]["amount"] == 12
    assert by_name["opened"] == {
        "id": by_name["opened"]["id"],
        "name": "opened",
        "timestamp": 5_000,
        "properties": {"k": "v"},
        "context": by_name["opened"]["context"],
    }
    assert doc["devices"] == [
        {
            "registration_id": RID,
            "platform": "ios",
            "timezone": "Europe/Berlin",
            "info": {"os": "17"},
            "tags": ["news", "vip"],
            "alias": "al_exp_ada",
        }
    ]
    assert len(doc["merges"]) == 1
    assert doc["suppressed"] == []
    assert doc["receipts"] == []


def test_an_export_is_a_receipt_the_chain_verification_accepts(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    plant_person(client, tenant)
    assert receipts_of(container, tenant) == []

    export_json(client, tenant)

    [record] = receipts_of(container, tenant)
    assert record.reason == "export"
    assert record.surface == "native"
    assert record.counts["events"] == 3
    assert record.counts["devices"] == 1
    assert record.subject_hash == container.hasher("uuid", UUID)
    with container.uow_factory(tenant_id_of(container, tenant), write=False) as uow:
        assert verify_tenant(uow) is None
    # A second export chains on the first.
    export_json(client, tenant)
    with container.uow_factory(tenant_id_of(container, tenant), write=False) as uow:
        assert verify_tenant(uow) is None
    assert [r.seq for r in receipts_of(container, tenant)] == [1, 2]


def test_another_tenants_and_another_persons_data_never_appear(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    plant_person(client, tenant)
    plant_person(client, tenant, "exp-bob", "+491511234568")
    plant_person(client, other_tenant)

    doc = export_json(client, tenant)
    text = orjson.dumps(doc).decode()
    assert "exp-bob" not in text
    # The other tenant's Ada is another person: only this tenant's rows are in the export.
    other = export_json(client, other_tenant)
    ids = {e["id"] for e in doc["events"]}
    assert ids.isdisjoint({e["id"] for e in other["events"]})
    assert len(doc["events"]) == 3
    assert export(client, other_tenant, "exp-bob").status_code == 404


def test_an_unknown_or_hard_deleted_person_is_404_and_records_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    unknown = export(client, tenant, "nobody")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no such profile"
    assert unknown.headers["content-type"] == "application/problem+json"

    plant_person(client, tenant)
    deleted = client.delete(f"{API}/profiles/{UUID}?mode=hard", headers=native_headers(tenant))
    assert deleted.status_code in (200, 202), deleted.text
    gone = export(client, tenant)
    assert gone.status_code == 404
    assert gone.json()["detail"] == "no such profile"
    assert receipts_of(container, tenant) == []


def test_a_soft_deleted_person_is_exported_as_held_with_its_revival_deadline(
    client: TestClient, tenant: Tenant
) -> None:
    plant_person(client, tenant)
    deleted = client.delete(f"/v1/users/{UUID}", headers=gs_headers(tenant))
    assert deleted.status_code == 200
    assert client.get(f"/v1/users/{UUID}", headers=gs_headers(tenant)).status_code == 404

    doc = export_json(client, tenant)

    assert doc["subject"]["state"] == "soft_deleted"
    assert doc["subject"]["revivable_until"] > doc["subject"]["deleted_at"]
    assert len(doc["events"]) == 3
    assert [d["registration_id"] for d in doc["devices"]] == [RID]


def test_a_past_deletion_of_the_same_uuid_is_in_the_receipts(
    client: TestClient, container: Container, tenant: Tenant, worker: Worker
) -> None:
    create_profile(client, tenant, UUID)
    deleted = client.delete(f"{API}/profiles/{UUID}?mode=hard", headers=native_headers(tenant))
    job_id = deleted.json()["job_id"]
    assert run_until_terminal(container, worker, job_id) == "completed"
    create_profile(client, tenant, UUID)

    doc = export_json(client, tenant)

    [receipt] = doc["receipts"]
    assert receipt["reason"] != "export"
    assert receipt["counts"]["profiles"] == 1


# --- export jobs ------------------------------------------------------------------------------


def submit(client: TestClient, tenant: Tenant, body: Any, **headers: str) -> Any:
    return client.post(f"{API}/exports", json=body, headers={**native_headers(tenant), **headers})


def test_an_export_job_resolves_any_identifier_and_downloads_every_named_person(
    client: TestClient, container: Container, tenant: Tenant, worker: Worker
) -> None:
    plant_person(client, tenant)
    plant_person(client, tenant, "exp-bob", "+491511234568")
    body = {
        "subjects": [
            {"type": "email", "value": f"{UUID}@EXAMPLE.com"},
            {"type": "custom.crm", "value": "exp-bob"},
            {"type": "uuid", "value": "nobody"},
        ]
    }
    accepted = submit(client, tenant, body)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["state"] == "queued"
    early = client.get(f"{API}/exports/{job['id']}/download", headers=native_headers(tenant))
    assert early.status_code == 409
    assert early.json()["type"].endswith("/conflict")

    assert run_until_terminal(container, worker, job["id"]) == "completed"
    status = client.get(f"{API}/exports/{job['id']}", headers=native_headers(tenant)).json()
    assert [(s["type"], s["outcome"], s["profiles"]) for s in status["subjects"]] == [
        ("email", "found", 1),
        ("custom.crm", "found", 1),
        ("uuid", "not_found", 0),
    ]
    download = client.get(f"{API}/exports/{job['id']}/download", headers=native_headers(tenant))
    assert download.status_code == 200, download.text
    got = orjson.loads(download.content)
    assert got["id"] == job["id"]
    first, second, third = got["subjects"]
    assert first["exports"][0]["subject"]["uuid"] in (UUID, f"{UUID}-twin")
    assert {e["name"] for e in first["exports"][0]["events"]} == {"clicked", "opened", "purchase"}
    assert "exp-bob" not in orjson.dumps(first).decode()
    assert any(i["value"] == "exp-bob" for i in second["exports"][0]["identifiers"])
    assert third == {"index": 2, "type": "uuid", "outcome": "not_found", "exports": []}
    assert [r.reason for r in receipts_of(container, tenant)] == ["export", "export"]
    # The ended job keeps no lookup hash of its subjects.
    with container.engine.connect() as conn:
        payload = conn.execute(
            select(t.jobs.c.payload).where(t.jobs.c.job_id == int(job["id"]))
        ).scalar_one()
    assert all(s["lookup_hash"] is None for s in payload["subjects"])


def test_an_idempotency_key_replays_the_first_export_job(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    body = {"subjects": [{"type": "uuid", "value": UUID}]}
    first = submit(client, tenant, body, **{"Idempotency-Key": "k1"})
    again = submit(client, tenant, body, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    other = submit(
        client, tenant, {"subjects": [{"type": "uuid", "value": "x"}]}, **{"Idempotency-Key": "k1"}
    )
    assert other.status_code == 422
    assert _jobs(container, tenant) == 1


def _jobs(container: Container, tenant: Tenant) -> int:
    with container.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(t.jobs)
                .where(t.jobs.c.tenant_id == tenant_id_of(container, tenant))
            ).scalar_one()
        )


BAD_BODIES = [
    pytest.param(b"{not json", 400, "malformed-json", id="malformed"),
    pytest.param(b'{"subjects": "uuid:a"}', 422, "invalid-field", id="not-a-list"),
    pytest.param(b'{"subjects": [{"type": "uuid", "value": 7}]}', 422, "invalid-field", id="int"),
    pytest.param(b'{"subjects": []}', 422, "invalid-field", id="empty"),
    pytest.param(b'{"subjects": [{"type": "fax", "value": "1"}]}', 422, "invalid-field", id="type"),
    pytest.param(
        b'{"subjects": [{"type": "email", "value": "no"}]}', 422, "invalid-field", id="em"
    ),
    pytest.param(b'["subjects"]', 422, "invalid-field", id="array"),
    pytest.param(
        orjson.dumps({"subjects": [{"type": "uuid", "value": str(n)} for n in range(1001)]}),
        413,
        "batch-too-large",
        id="1001",
    ),
]


@pytest.mark.parametrize(("body", "status", "kind"), BAD_BODIES)
def test_bad_export_requests_get_the_problem_envelope_and_change_nothing(
    client: TestClient, container: Container, tenant: Tenant, body: bytes, status: int, kind: str
) -> None:
    response = client.post(
        f"{API}/exports",
        content=body,
        headers={**native_headers(tenant), "content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"https://obliviate.dev/problems/{kind}"
    assert response.json()["detail"]
    assert _jobs(container, tenant) == 0
    assert receipts_of(container, tenant) == []


def test_unknown_and_other_tenants_jobs_are_404_everywhere(
    client: TestClient, container: Container, tenant: Tenant, other_tenant: Tenant, worker: Worker
) -> None:
    plant_person(client, other_tenant)
    theirs = submit(client, other_tenant, {"subjects": [{"type": "uuid", "value": UUID}]}).json()
    assert run_until_terminal(container, worker, theirs["id"]) == "completed"
    for job_id in ("123", "abc", "²", "99999999999999999999", theirs["id"]):
        for suffix in ("", "/download"):
            got = client.get(f"{API}/exports/{job_id}{suffix}", headers=native_headers(tenant))
            assert got.status_code == 404, (job_id, suffix, got.text)
            assert got.json()["detail"] == "no such export job"
    # A deletion job is not an export job, nor the other way round.
    assert (
        client.get(
            f"{API}/deletions/{theirs['id']}", headers=native_headers(other_tenant)
        ).status_code
        == 404
    )
    assert receipts_of(container, tenant) == []
    assert receipts_of(container, other_tenant) == []


def test_a_token_without_read_scope_is_403_and_exports_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    from tests.surfaces.native.support import scoped_token

    plant_person(client, tenant)
    writer = scoped_token(container, tenant, "write", "delete")
    for method, path in (
        ("GET", f"{API}/profiles/{UUID}/export"),
        ("POST", f"{API}/exports"),
        ("GET", f"{API}/exports/1"),
        ("GET", f"{API}/exports/1/download"),
    ):
        body = {"subjects": [{"type": "uuid", "value": UUID}]} if method == "POST" else None
        got = client.request(method, path, json=body, headers=writer)
        assert got.status_code == 403, (path, got.text)
        assert got.json()["scope"] == "read"
    reader = scoped_token(container, tenant, "read")
    assert export(client, tenant, headers=reader).status_code == 200
    assert _jobs(container, tenant) == 0
    assert len(receipts_of(container, tenant)) == 1


def test_engagelab_headers_cannot_export(client: TestClient, tenant: Tenant) -> None:
    plant_person(client, tenant)
    got = client.get(f"{API}/profiles/{UUID}/export", headers=el_headers(tenant))
    assert got.status_code == 401


def test_an_invalid_uuid_is_422_and_records_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    got = export(client, tenant, "bad%E2%80%8Buuid")
    assert got.status_code == 422, got.text
    assert got.json()["type"] == "https://obliviate.dev/problems/invalid-field"
    assert got.json()["field"] == "uuid"
    assert receipts_of(container, tenant) == []


def test_a_person_deleted_after_the_job_ran_is_not_in_its_download(
    client: TestClient, container: Container, tenant: Tenant, worker: Worker
) -> None:
    plant_person(client, tenant)
    job = submit(client, tenant, {"subjects": [{"type": "uuid", "value": UUID}]}).json()
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    deleted = client.delete(f"{API}/profiles/{UUID}?mode=hard", headers=native_headers(tenant))
    assert deleted.status_code in (200, 202), deleted.text

    download = client.get(f"{API}/exports/{job['id']}/download", headers=native_headers(tenant))

    assert download.status_code == 200, download.text
    [only] = orjson.loads(download.content)["subjects"]
    assert only["exports"] == []
    assert UUID not in download.text
    assert [r.reason for r in receipts_of(container, tenant) if r.reason == "export"] == []


def test_an_idempotency_key_of_a_deletion_is_refused_for_an_export(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    body = {"subjects": [{"type": "uuid", "value": "nobody"}]}
    deletion = client.post(
        f"{API}/deletions",
        json=body,
        headers={**native_headers(tenant), "Idempotency-Key": "shared"},
    )
    assert deletion.status_code == 202, deletion.text
    reused = submit(client, tenant, body, **{"Idempotency-Key": "shared"})
    assert reused.status_code == 422
    assert reused.json()["type"] == "https://obliviate.dev/problems/idempotency-key-reused"
    assert _jobs(container, tenant) == 1


def test_a_suppressed_identifier_of_a_soft_deleted_person_is_named_as_suppressed(
    client: TestClient, tenant: Tenant
) -> None:
    plant_person(client, tenant)
    assert client.delete(f"/v1/users/{UUID}", headers=gs_headers(tenant)).status_code == 200
    suppressed = client.post(
        f"{API}/suppressions",
        json={"type": "phone_number", "value": PHONE},
        headers=native_headers(tenant),
    )
    assert suppressed.status_code in (200, 201), suppressed.text

    doc = export_json(client, tenant)

    assert doc["suppressed"] == [{"type": "phone_number", "value": PHONE}]


def test_a_queued_export_job_row_holds_no_subject_value_in_any_spelling(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    plant_person(client, tenant)
    spellings = [f"{UUID}@EXAMPLE.com", f" {UUID}@example.COM. "]
    body = {"subjects": [{"type": "email", "value": s} for s in spellings]}
    accepted = submit(client, tenant, body)
    assert accepted.status_code == 202, accepted.text
    with container.engine.connect() as conn:
        row = conn.execute(
            select(t.jobs).where(t.jobs.c.job_id == int(accepted.json()["id"]))
        ).one()
    stored = orjson.dumps([str(v) for v in row]).decode().lower()
    assert row.state == "queued"
    # The values (any spelling) contain "exp-ada", which no hash or id can.
    assert UUID not in stored
