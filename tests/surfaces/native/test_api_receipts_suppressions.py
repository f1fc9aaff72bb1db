"""Receipts and suppressions on the native API: receipts by id and by time, holding only a keyed
hash of the subject; a hard delete with ``suppress=true`` refuses the person's identifiers on
every surface, each in its own envelope, until ``DELETE /api/v1/suppressions/{type}/{value}``."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.factories import gainsight_user
from tests.support.headers import el_headers, gs_headers, insider_headers, native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import INVALID
from tests.surfaces.engagelab.support import assert_error as assert_engagelab_error
from tests.surfaces.gainsight.support import assert_error as assert_gainsight_error
from tests.surfaces.native.support import (
    API,
    accepted_job,
    assert_problem,
    create_profile,
    get_profile,
    job_status,
    own_device,
    person_with_history,
    put_profile,
    receipts,
    run_until,
    run_until_terminal,
    scoped_token,
    subject,
    submit,
)

RECEIPT_FIELDS = {
    "receipt_id",
    "seq",
    "job_id",
    "surface",
    "credential_ref",
    "subject_hash",
    "reason",
    "counts",
    "requested_at",
    "completed_at",
    "prev_hash",
    "hash",
    "erased_at",
    "erasure",
}
SUPPRESSED_MESSAGE = ["identifier is suppressed and cannot be re-created"]


def hard_delete(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant, uuid: str
) -> str:
    """Hard-delete through the native API, run the purge; the purge job's id."""
    response = client.delete(f"{API}/profiles/{uuid}?mode=hard", headers=native_headers(tenant))
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    assert run_until_terminal(container, worker, job_id) == "completed"
    return job_id


def receipt_of(client: TestClient, tenant: Tenant, job_id: str) -> Any:
    [found] = [r for r in receipts(client, tenant) if r["job_id"] == job_id]
    return found


# --- receipts -----------------------------------------------------------------------------------


def test_a_receipt_is_read_by_id_and_holds_only_a_keyed_hash_of_the_subject(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    person_with_history(client, tenant, "rc-1")
    job_id = hard_delete(client, container, worker, tenant, "rc-1")
    listed = receipt_of(client, tenant, job_id)
    response = client.get(f"{API}/receipts/{listed['receipt_id']}", headers=native_headers(tenant))
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt == listed
    assert set(receipt) == RECEIPT_FIELDS
    assert receipt["surface"] == "native"
    assert receipt["reason"] == "hard_delete"
    assert receipt["counts"]["events"] == 3
    assert receipt["requested_at"] <= receipt["completed_at"]
    assert receipt["credential_ref"] not in tenant["native"]["token"]
    assert len(receipt["subject_hash"]) == 64
    for raw in ("rc-1", "rc-1@example.com", "rc-1-phone", "a_rc_1"):
        assert raw not in response.text


def test_receipts_since_a_time_are_those_completed_at_or_after_it_in_chain_order(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    for uuid in ("rc-1", "rc-2", "rc-3"):
        create_profile(client, tenant, uuid)
    first = receipt_of(client, tenant, hard_delete(client, container, worker, tenant, "rc-1"))
    give_up = time.monotonic() + 5
    while container.clock.now_ms() <= first["completed_at"]:
        assert time.monotonic() < give_up
        time.sleep(0.002)
    second = receipt_of(client, tenant, hard_delete(client, container, worker, tenant, "rc-2"))
    third = receipt_of(client, tenant, hard_delete(client, container, worker, tenant, "rc-3"))
    assert [r["receipt_id"] for r in receipts(client, tenant)] == [
        first["receipt_id"],
        second["receipt_id"],
        third["receipt_id"],
    ]
    later = receipts(client, tenant, since=first["completed_at"] + 1)
    assert [r["receipt_id"] for r in later] == [second["receipt_id"], third["receipt_id"]]
    assert receipts(client, tenant, since=third["completed_at"] + 1) == []
    assert second["prev_hash"] == first["hash"]
    assert third["prev_hash"] == second["hash"]
    assert [first["seq"], second["seq"], third["seq"]] == [1, 2, 3]


def test_receipts_page_with_a_cursor(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    for n in range(3):
        create_profile(client, tenant, f"rc-{n}")
        hard_delete(client, container, worker, tenant, f"rc-{n}")
    seen: list[str] = []
    query = "?limit=2"
    for _ in range(5):
        page = client.get(f"{API}/receipts{query}", headers=native_headers(tenant)).json()
        seen += [r["receipt_id"] for r in page["receipts"]]
        if page["next_cursor"] is None:
            break
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert seen == [r["receipt_id"] for r in receipts(client, tenant)]
    assert len(seen) == 3


def test_a_batch_writes_one_receipt_per_person_with_the_batchs_counts(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    person_with_history(client, tenant, "rc-1")
    person_with_history(client, tenant, "rc-2", tag="2")
    subjects = [subject("uuid", "rc-1"), subject("uuid", "rc-2"), subject("uuid", "nobody")]
    job = accepted_job(submit(client, tenant, subjects))
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    written = receipts(client, tenant)
    assert len(written) == 2
    totals: dict[str, int] = {}
    for receipt in written:
        assert receipt["job_id"] != job["id"]
        for kind, n in receipt["counts"].items():
            totals[kind] = totals.get(kind, 0) + n
    assert totals == done["counts"]


def test_receipts_name_the_surface_that_asked(
    client: TestClient, worker: Worker, tenant: Tenant
) -> None:
    created = client.post("/v1/users", json=gainsight_user("gs-1"), headers=gs_headers(tenant))
    assert created.status_code == 201, created.text
    deleted = client.delete("/v1/users/gs-1?hardDelete=true", headers=gs_headers(tenant))
    assert deleted.status_code == 200, deleted.text
    run_until(worker, lambda: bool(receipts(client, tenant)), "the Gainsight purge")
    assert [r["surface"] for r in receipts(client, tenant)] == ["gainsight"]


@pytest.mark.parametrize("query", ["?since=yesterday", "?since=-5", "?limit=0", "?cursor=x"])
def test_bad_receipt_queries_are_422(client: TestClient, tenant: Tenant, query: str) -> None:
    assert_problem(client.get(f"{API}/receipts{query}", headers=native_headers(tenant)), 422)


def test_an_unknown_receipt_is_404_problem(client: TestClient, tenant: Tenant) -> None:
    response = client.get(f"{API}/receipts/{'0' * 32}", headers=native_headers(tenant))
    assert assert_problem(response, 404, "not-found")["detail"] == "no such receipt"


def test_another_tenant_gets_404_for_this_tenants_receipt_and_lists_none(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant, other_tenant: Tenant
) -> None:
    create_profile(client, tenant, "rc-1")
    receipt = receipt_of(client, tenant, hard_delete(client, container, worker, tenant, "rc-1"))
    theirs = native_headers(other_tenant)
    theirs_read = client.get(f"{API}/receipts/{receipt['receipt_id']}", headers=theirs)
    assert assert_problem(theirs_read, 404, "not-found")["detail"] == "no such receipt"
    assert receipts(client, other_tenant) == []


# --- suppression on every surface ---------------------------------------------------------------


def suppressed_person(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    """sup-1 (email, phone, an owned device with tags and an alias), hard-deleted with
    suppress=true and purged."""
    create_profile(client, tenant, "sup-1", email="sup-1@example.com", phone_number="+6590000001")
    own_device(client, tenant, "sup-1", "sup-phone", tags=("news",), alias="sup_alias")
    response = client.delete(
        f"{API}/profiles/sup-1?mode=hard&suppress=true", headers=native_headers(tenant)
    )
    assert response.status_code == 202, response.text
    assert run_until_terminal(container, worker, response.json()["job_id"]) == "completed"


def suppressed(id_type: str) -> str:
    return f"this {id_type} is suppressed and cannot be re-created"


def unsuppress(client: TestClient, tenant: Tenant, id_type: str, value: str) -> None:
    response = client.delete(
        f"{API}/suppressions/{id_type}/{quote(value, safe='')}", headers=native_headers(tenant)
    )
    assert response.status_code == 204, response.text


def insider_upsert(client: TestClient, tenant: Tenant, *identifiers: dict[str, str]) -> Any:
    users = [{"identifiers": i} for i in identifiers]
    response = client.post(
        "/api/user/v1/upsert", json={"users": users}, headers=insider_headers(tenant)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_suppressed_persons_identifiers_are_refused_on_every_surface_in_its_own_envelope(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    suppressed_person(client, container, worker, tenant)
    before = snapshot(container)
    gainsight = client.post("/v1/users", json=gainsight_user("sup-1"), headers=gs_headers(tenant))
    assert_gainsight_error(gainsight, 409, "CONFLICT")
    assert insider_upsert(client, tenant, {"email": "sup-1@example.com"}, {"uuid": "sup-1"}) == {
        "data": {
            "successful": {},
            "fail": {
                "count": 2,
                "errors": {
                    "users.0.identifiers.email": SUPPRESSED_MESSAGE,
                    "users.1.identifiers.uuid": SUPPRESSED_MESSAGE,
                },
            },
        }
    }
    engagelab = client.post(
        "/v4/devices/sup-phone", json={"tags": {"add": ["back"]}}, headers=el_headers(tenant)
    )
    assert_engagelab_error(engagelab, 400, INVALID)
    by_uuid = put_profile(client, tenant, "sup-1", {})
    assert assert_problem(by_uuid, 409, "suppressed")["detail"] == suppressed("uuid")
    by_phone = put_profile(client, tenant, "other", {}, {"phone_number": "+6590000001"})
    assert assert_problem(by_phone, 409, "suppressed")["detail"] == suppressed("phone_number")
    device = client.put(
        f"{API}/devices/sup-phone", json={"platform": "ios"}, headers=native_headers(tenant)
    )
    assert assert_problem(device, 409, "suppressed")["detail"] == suppressed("registration_id")
    assert snapshot(container) == before


def test_unsuppressing_an_identifier_lets_it_back_on_every_surface(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    suppressed_person(client, container, worker, tenant)
    unsuppress(client, tenant, "uuid", "sup-1")
    created = client.post("/v1/users", json=gainsight_user("sup-1"), headers=gs_headers(tenant))
    assert created.status_code == 201, created.text
    # The email is still suppressed: the native API refuses to give it to sup-1.
    refused = put_profile(client, tenant, "sup-1", {}, {"email": "sup-1@example.com"})
    assert assert_problem(refused, 409, "suppressed")["detail"] == suppressed("email")
    unsuppress(client, tenant, "email", "sup-1@example.com")
    assert insider_upsert(client, tenant, {"email": "sup-1@example.com"}) == {
        "data": {"successful": {"count": 1}, "fail": {}}
    }
    unsuppress(client, tenant, "phone_number", "+6590000001")
    by_phone = put_profile(client, tenant, "sup-2", {}, {"phone_number": "+6590000001"})
    assert by_phone.status_code == 201, by_phone.text
    # A new person with no history: the old one's events and devices are gone.
    assert get_profile(client, tenant, "sup-1").status_code == 200


def test_unsuppressing_a_devices_registration_id_lets_engagelab_register_it_again(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    suppressed_person(client, container, worker, tenant)
    unsuppress(client, tenant, "registration_id", "sup-phone")
    response = client.post(
        "/v4/devices/sup-phone", json={"tags": {"add": ["back"]}}, headers=el_headers(tenant)
    )
    assert response.status_code == 200, response.text


def test_a_suppression_of_one_tenant_does_not_touch_another(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant, other_tenant: Tenant
) -> None:
    suppressed_person(client, container, worker, tenant)
    theirs = put_profile(client, other_tenant, "sup-1", {}, {"email": "sup-1@example.com"})
    assert theirs.status_code == 201, theirs.text
    gone = client.delete(f"{API}/suppressions/uuid/sup-1", headers=native_headers(other_tenant))
    assert assert_problem(gone, 404, "not-found")["detail"] == "no such suppression"
    still = put_profile(client, tenant, "sup-1", {})
    assert assert_problem(still, 409, "suppressed")["detail"] == suppressed("uuid")


# --- suppressions CRUD --------------------------------------------------------------------------


def test_suppressions_can_be_added_read_listed_and_removed_by_an_admin(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    admin = scoped_token(container, tenant, "admin")
    body = {"type": "email", "value": "Someone@Example.com"}
    added = client.post(f"{API}/suppressions", json=body, headers=admin)
    assert added.status_code == 201, added.text
    path = f"{API}/suppressions/email/someone@example.com"
    got = client.get(path, headers=admin)
    assert got.status_code == 200, got.text
    assert got.json() == {"type": "email", "suppressed": True}
    listed = client.get(f"{API}/suppressions", headers=admin)
    assert listed.status_code == 200, listed.text
    [entry] = listed.json()["suppressions"]
    assert entry["type"] == "email"
    assert "someone" not in listed.text.lower()
    refused = insider_upsert(client, tenant, {"email": "someone@example.com"})
    assert refused["data"]["fail"]["count"] == 1
    assert client.delete(path, headers=admin).status_code == 204
    for response in (client.get(path, headers=admin), client.delete(path, headers=admin)):
        assert assert_problem(response, 404, "not-found")["detail"] == "no such suppression"
    assert insider_upsert(client, tenant, {"email": "someone@example.com"})["data"]["fail"] == {}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{API}/suppressions", None),
        ("POST", f"{API}/suppressions", {"type": "uuid", "value": "x"}),
        ("GET", f"{API}/suppressions/uuid/x", None),
        ("DELETE", f"{API}/suppressions/uuid/x", None),
    ],
    ids=["list", "add", "get", "remove"],
)
def test_suppressions_need_the_admin_scope(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    method: str,
    path: str,
    body: Any,
) -> None:
    added = client.post(
        f"{API}/suppressions", json={"type": "uuid", "value": "x"}, headers=native_headers(tenant)
    )
    assert added.status_code == 201, added.text
    not_admin = scoped_token(container, tenant, "read", "write", "delete")
    before = snapshot(container)
    response = client.request(method, path, json=body, headers=not_admin)
    assert assert_problem(response, 403, "forbidden")["scope"] == "admin"
    assert snapshot(container) == before


@pytest.mark.parametrize(
    "body",
    [{"type": "fax", "value": "1"}, {"type": "email", "value": "nope"}, {"type": "uuid"}],
    ids=repr,
)
def test_invalid_suppressions_are_422(
    client: TestClient, container: Container, tenant: Tenant, body: dict[str, Any]
) -> None:
    before = snapshot(container)
    response = client.post(f"{API}/suppressions", json=body, headers=native_headers(tenant))
    assert_problem(response, 422, "invalid-field")
    assert snapshot(container) == before
