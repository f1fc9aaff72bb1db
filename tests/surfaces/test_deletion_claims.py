"""Every deletion claim holds, tried as a careless and as a hostile client would.

A deletion job resolves its subject when it runs and follows merges; an email deletion covers
Gainsight users holding it only in their ``email`` field; equivalent spellings of a value are one
value; a suppressed value comes back through no side door (identity change, revival); and an
upsert cannot fold many people into one profile and have the guard count them as one.
Each runs on SQLite and PostgreSQL through the real ASGI app and worker.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.support.headers import gs_headers, insider_headers, native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.gainsight import support as gs
from tests.surfaces.insider import support as ins
from tests.surfaces.native.support import (
    API,
    accepted_job,
    assert_problem,
    create_profile,
    job_status,
    put_profile,
    run_until_terminal,
    subject,
    submit,
)


def hard_delete_suppressed(client: TestClient, tenant: Tenant, uuid: str) -> None:
    response = client.delete(
        f"{API}/profiles/{uuid}?mode=hard&suppress=true", headers=native_headers(tenant)
    )
    assert response.status_code in (200, 202), response.text


# --- 1. a batch follows a merge made after it was submitted ------------------------------------


def test_a_batch_deletion_follows_a_merge_made_before_the_worker_ran(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    ins.upsert(client, tenant, ins.user({"uuid": "older-q"}, {"name": "Q"}))
    ins.upsert(
        client,
        tenant,
        ins.user(
            {"email": "merged@example.com"},
            {"surname": "P"},
            [ins.ev("bought", "2026-11-01T10:00:00Z", sku="x")],
        ),
    )
    job = accepted_job(submit(client, tenant, [subject("email", "merged@example.com")]))
    # Before the worker runs, one upsert names both: the person is merged into the older Q.
    ins.upsert(client, tenant, ins.user({"uuid": "older-q", "email": "merged@example.com"}))
    assert ins.attributes_of(client, tenant, {"email": "merged@example.com"})["surname"] == "P"

    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    assert [s["outcome"] for s in done["subjects"]] == ["deleted"]
    assert done["counts"]["events"] == 1
    for identifiers in ({"email": "merged@example.com"}, {"uuid": "older-q"}):
        ins.assert_json(
            ins.profile(client, tenant, identifiers),
            404,
            {"error": "no such user for these identifiers: no data"},
        )


def test_a_batch_deletion_finds_a_subject_created_after_submission(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    job = accepted_job(submit(client, tenant, [subject("email", "late@example.com")]))
    create_profile(client, tenant, "late", email="late@example.com")
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    assert [s["outcome"] for s in job_status(client, tenant, job["id"])["subjects"]] == ["deleted"]
    assert_problem(client.get(f"{API}/profiles/late", headers=native_headers(tenant)), 404)


# --- 2. an email deletion covers Gainsight users' email field ----------------------------------


def test_an_email_deletion_removes_every_gainsight_user_holding_it_in_the_email_field(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    gs.create_user(client, tenant, "gs-shared-1", email="Shared@Example.com")
    gs.create_user(client, tenant, "gs-shared-2", email="shared@example.com")
    gs.create_user(client, tenant, "gs-other", email="other@example.com")
    job = accepted_job(
        submit(client, tenant, [subject("email", "SHARED@example.com")], suppress=True)
    )
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    assert [s["outcome"] for s in done["subjects"]] == ["suppressed"]
    assert done["counts"]["profiles"] == 2
    headers = gs_headers(tenant)
    for gone in ("gs-shared-1", "gs-shared-2"):
        gs.assert_error(client.get(f"/v1/users/{gone}", headers=headers), 404, "NOT_FOUND")
    assert client.get("/v1/users/gs-other", headers=headers).status_code == 200


def test_an_insider_delete_by_email_removes_a_gainsight_user_holding_it_in_the_email_field(
    client: TestClient, tenant: Tenant
) -> None:
    gs.create_user(client, tenant, "gs-ins", email="Both@Example.com")
    deleted = ins.call(
        client, tenant, "POST", "/delete", {"identifiers": {"email": "both@example.com."}}
    )
    ins.assert_json(deleted, 200, {})
    headers = gs_headers(tenant)
    gs.assert_error(client.get("/v1/users/gs-ins", headers=headers), 404, "NOT_FOUND")


def test_a_suppressed_email_is_refused_in_the_gainsight_email_field_in_any_spelling(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "sup-g", email="ana@example.com")
    hard_delete_suppressed(client, tenant, "sup-g")
    gs.create_user(client, tenant, "gs-innocent", email="innocent@example.com")
    headers = gs_headers(tenant)
    before = snapshot(container)
    for spelling in ("ana@example.com", "ANA@Example.COM", " ana@example.com.", "ana@EXAMPLE.com."):
        created = client.post(
            "/v1/users",
            json={"identifyId": "gs-new", "propertyKeys": ["AP-1"], "email": spelling},
            headers=headers,
        )
        gs.assert_error(created, 409, "CONFLICT")
        assert "suppressed" in created.json()["externalapierror"]["message"]
        updated = client.put("/v1/users/gs-innocent", json={"email": spelling}, headers=headers)
        gs.assert_error(updated, 409, "CONFLICT")
    assert snapshot(container) == before


# --- 3. equivalent spellings get past no suppression -------------------------------------------

EQUIVALENT_EMAILS = [
    "jose\u0301@example.com",  # NFD of josé
    "JOSÉ@example.com",
    "José@Example.COM.",  # trailing dot on the domain
    "  josé@example.com\n",
]
UNCANONICAL_EMAILS = [
    "jos\u200bé@example.com",  # zero-width space
    "\ufeffjosé@example.com",  # byte-order mark
    "josé@example.com\u200e",  # left-to-right mark
]
UNCANONICAL_PHONES = [
    "+\u0666\u0665\u0669\u0668\u0667\u0666\u0665\u0664\u0663\u0662",  # Arabic-Indic digits
    "+\uff16\uff15\uff19\uff18\uff17\uff16\uff15\uff14\uff13\uff12",  # full-width digits
    "+659876543\u0662",
    "\uff0b6598765432",  # full-width plus
]


@pytest.fixture
def suppressed_person(client: TestClient, tenant: Tenant) -> None:
    create_profile(client, tenant, "josé-1", email="josé@example.com", phone_number="+6598765432")
    hard_delete_suppressed(client, tenant, "josé-1")


@pytest.mark.usefixtures("suppressed_person")
@pytest.mark.parametrize("spelling", EQUIVALENT_EMAILS + UNCANONICAL_EMAILS)
def test_no_spelling_of_a_suppressed_email_makes_a_new_person(
    client: TestClient, container: Container, tenant: Tenant, spelling: str
) -> None:
    before = snapshot(container)
    native = put_profile(client, tenant, "newcomer", {}, {"email": spelling})
    if spelling in EQUIVALENT_EMAILS:
        assert_problem(native, 409, "suppressed")
    else:
        problem = assert_problem(native, 422, "invalid-field")
        assert problem["field"] == "identifiers.email"
    answer = ins.call(client, tenant, "POST", "/upsert", {"users": [ins.user({"email": spelling})]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["successful"] == {}
    assert list(answer.json()["data"]["fail"]["errors"]) == ["users.0.identifiers.email"]
    assert snapshot(container) == before


@pytest.mark.usefixtures("suppressed_person")
@pytest.mark.parametrize("spelling", UNCANONICAL_PHONES)
def test_phone_numbers_in_other_digits_are_refused_not_taken_for_new_people(
    client: TestClient, container: Container, tenant: Tenant, spelling: str
) -> None:
    before = snapshot(container)
    problem = assert_problem(
        put_profile(client, tenant, "newcomer", {}, {"phone_number": spelling}), 422
    )
    assert problem["field"] == "identifiers.phone_number"
    assert "E.164" in problem["detail"]
    refused = put_profile(client, tenant, "newcomer", {}, {"phone_number": "+6598765432"})
    assert_problem(refused, 409, "suppressed")
    assert snapshot(container) == before


def test_equivalent_spellings_name_one_person_on_every_surface(
    client: TestClient, tenant: Tenant
) -> None:
    create_profile(client, tenant, "one", email="jose\u0301@EXAMPLE.com.")
    for spelling in EQUIVALENT_EMAILS:
        assert ins.attributes_of(client, tenant, {"email": spelling})["name"] == "one"


# --- 4. no side door for a suppressed value ------------------------------------------------------


def test_changing_an_identifier_to_a_suppressed_value_is_refused_and_changes_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "gone", email="gone@example.com")
    hard_delete_suppressed(client, tenant, "gone")
    create_profile(client, tenant, "stays", email="stays@example.com")
    before = snapshot(container)
    for new in ("gone@example.com", "GONE@example.com."):
        moved = ins.call(
            client,
            tenant,
            "PATCH",
            "/identity",
            {"old_identifier": {"email": "stays@example.com"}, "new_identifier": {"email": new}},
        )
        assert moved.status_code == 400, moved.text
        assert "suppressed" in moved.json()["error"]
    assert snapshot(container) == before


@pytest.mark.parametrize("suppressed", [("uuid", "soft-1"), ("email", "Soft-1@example.com")])
def test_suppressing_a_soft_deleted_person_stops_their_revival_on_every_surface(
    client: TestClient, container: Container, tenant: Tenant, suppressed: tuple[str, str]
) -> None:
    headers = gs_headers(tenant)
    gs.create_user(client, tenant, "soft-1", email="soft-1@example.com")
    assert client.delete("/v1/users/soft-1", headers=headers).status_code == 200
    id_type, value = suppressed
    added = client.post(
        f"{API}/suppressions",
        json={"type": id_type, "value": value},
        headers=native_headers(tenant),
    )
    assert added.status_code == 201, added.text
    before = snapshot(container)
    revived = client.put("/v1/users/soft-1", json={"firstName": "Back"}, headers=headers)
    gs.assert_error(revived, 409, "CONFLICT")
    again = client.post(
        "/v1/users", json={"identifyId": "soft-1", "propertyKeys": ["AP-1"]}, headers=headers
    )
    gs.assert_error(again, 409, "CONFLICT")
    restored = client.post(f"{API}/profiles/soft-1/restore", headers=native_headers(tenant))
    assert_problem(restored, 409, "suppressed")
    upserted = ins.call(
        client, tenant, "POST", "/upsert", {"users": [ins.user({"uuid": "soft-1"})]}
    )
    assert upserted.json()["data"]["successful"] == {}, upserted.text
    assert snapshot(container) == before
    gs.assert_error(client.get("/v1/users/soft-1", headers=headers), 404, "NOT_FOUND")


# --- 6. a placeholder identifier cannot fold many people into one ------------------------------

PLACEHOLDER = "unknown@example.com"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"mass_delete_floor": 5, "mass_delete_share": 0.0}


def test_an_upsert_cannot_fold_more_than_the_merge_limit_into_one_profile(
    client: TestClient, tenant: Tenant
) -> None:
    people = [ins.user({"uuid": f"p{n}"}, {"name": f"person {n}"}) for n in range(12)]
    ins.upsert(client, tenant, *people)
    sharing = [ins.user({"uuid": f"p{n}", "email": PLACEHOLDER}) for n in range(12)]
    answer = ins.call(client, tenant, "POST", "/upsert", {"users": sharing})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["successful"] == {"count": 11}
    assert data["fail"]["count"] == 1
    (message,) = data["fail"]["errors"]["users.11.identifiers"]
    assert "would fold 11 other people into one profile, more than the 10 allowed" in message
    assert ins.attributes_of(client, tenant, {"uuid": "p11"})["name"] == "person 11"
    again = ins.call(client, tenant, "POST", "/upsert", {"users": sharing[11:]})
    assert again.json()["data"]["fail"]["count"] == 1
    with_header = client.post(
        "/api/user/v1/upsert",
        json={"users": sharing[11:]},
        headers={**insider_headers(tenant), "X-Obliviate-Confirm-Mass-Delete": "yes"},
    )
    assert with_header.json()["data"]["successful"] == {"count": 1}, with_header.text


def test_new_people_sharing_a_placeholder_email_are_not_folded_into_one_profile(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    sharing = [
        ins.user({"uuid": f"n{n}", "email": PLACEHOLDER}, {"name": f"new {n}"}) for n in range(100)
    ]
    answer = ins.call(client, tenant, "POST", "/upsert", {"users": sharing})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["successful"] == {"count": 11}
    assert data["fail"]["count"] == 89
    assert set(data["fail"]["errors"]) == {f"users.{n}.identifiers" for n in range(11, 100)}
    ins.assert_json(
        ins.profile(client, tenant, {"uuid": "n50"}),
        404,
        {"error": "no such user for these identifiers: no data"},
    )
    # The 11 attached are 11 people to the guard (floor 5 here): one delete cannot take them.
    before = snapshot(container)
    refused = ins.call(client, tenant, "POST", "/delete", {"identifiers": {"uuid": "n0"}})
    assert refused.status_code == 400, refused.text
    assert "11 deletions" in refused.text
    assert "5 allowed" in refused.text
    assert snapshot(container) == before


def test_deleting_a_merged_profile_counts_every_person_merged_into_it(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    people = [ins.user({"uuid": f"m{n}"}) for n in range(7)]
    ins.upsert(client, tenant, *people)
    ins.upsert(
        client, tenant, *[ins.user({"uuid": f"m{n}", "email": PLACEHOLDER}) for n in range(7)]
    )
    before = snapshot(container)
    refused = ins.call(client, tenant, "POST", "/delete", {"identifiers": {"email": PLACEHOLDER}})
    assert refused.status_code == 400, refused.text
    assert "7 deletions" in refused.text
    assert "5 allowed" in refused.text
    assert snapshot(container) == before
