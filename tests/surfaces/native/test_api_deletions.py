"""Batch deletions on ``/api/v1/deletions``: 202 with the job, status with per-subject outcomes and
counts per kind, dry runs that match the real run, the 1,000 subject cap, Idempotency-Key, cancel,
and the closing check that ends a job ``partial`` when a row of a subject is left."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.domain.deletion import DELETION_BATCH, PURGE_PROFILE
from obliviate.jobs.worker import Worker
from obliviate.services.batches import request_hash
from obliviate.storage import tables as t
from tests.support.clock import now_ms
from tests.support.headers import native_headers
from tests.support.rows import jobs_of, rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.native.support import (
    API,
    HISTORY_COUNTS,
    accepted_job,
    add_events,
    assert_problem,
    create_profile,
    get_profile,
    job_row,
    job_status,
    person_with_history,
    plant_event,
    put_profile,
    run_until,
    run_until_terminal,
    subject,
    submit,
)

JOB_FIELDS = {
    "id",
    "kind",
    "state",
    "erasure",
    "receipt_id",
    "mode",
    "suppress",
    "subjects",
    "outcomes",
    "counts",
    "reason",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
    "finished_at",
}


def suppressed(id_type: str) -> str:
    return f"this {id_type} is suppressed and cannot be re-created"


def cancel(client: TestClient, tenant: Tenant, job_id: str) -> Any:
    return client.post(f"{API}/deletions/{job_id}/cancel", headers=native_headers(tenant))


def two_people(client: TestClient, tenant: Tenant) -> list[dict[str, str]]:
    """Two people with history, named by uuid and by email, and two subjects nobody holds."""
    person_with_history(client, tenant, "del-1")
    person_with_history(client, tenant, "del-2", tag="2")
    return [
        subject("uuid", "del-1"),
        subject("email", "DEL-2@example.com"),
        subject("uuid", "nobody"),
        subject("phone_number", "+6500000000"),
    ]


# --- submit and status --------------------------------------------------------------------------


def test_a_batch_is_202_with_the_queued_job_and_every_subject_pending(
    client: TestClient, tenant: Tenant
) -> None:
    subjects = two_people(client, tenant)
    job = accepted_job(submit(client, tenant, subjects))
    assert set(job) == JOB_FIELDS
    assert job["state"] == "queued"
    assert job["mode"] == "hard"
    assert job["suppress"] is False
    assert job["subjects"] == [
        {"index": n, "type": s["type"], "outcome": "pending"} for n, s in enumerate(subjects)
    ]
    assert job["outcomes"] == {"pending": 4}
    assert job["counts"] == {}
    assert job["finished_at"] is None
    assert job_status(client, tenant, job["id"]) == job


def test_a_job_holds_only_canonical_values_while_it_runs_and_none_once_it_ends(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    subjects = two_people(client, tenant)
    job = accepted_job(submit(client, tenant, subjects))
    row = job_row(container, job["id"])
    queued = repr(tuple(row))
    # The worker resolves subjects when it runs, so an unfinished job keeps the lookup hash
    # of each canonical value (never the value); the answer shows neither.
    assert container.vault.lookup_hash("email", "del-2@example.com") in queued
    assert [s["lookup_hash"] is not None for s in row.payload["subjects"]] == [True] * 4
    assert "del-2@example.com" not in queued
    assert "DEL-2@example.com" not in queued
    for raw in ("del-1", "del-2@example.com", "DEL-2@example.com", "nobody", "+6500000000"):
        assert raw not in repr(job)
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    ended = repr(tuple(job_row(container, job["id"])))
    for raw in ("del-1", "del-2@example.com", "DEL-2@example.com", "nobody", "+6500000000"):
        assert raw not in ended


def test_status_gives_each_subjects_outcome_counts_per_kind_and_the_tally(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    subjects = two_people(client, tenant)
    job = accepted_job(submit(client, tenant, subjects, mode="hard"))
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    assert done["state"] == "completed"
    assert done["reason"] is None
    assert done["finished_at"] is not None
    assert done["subjects"] == [
        {"index": 0, "type": "uuid", "outcome": "deleted", "counts": HISTORY_COUNTS},
        {"index": 1, "type": "email", "outcome": "deleted", "counts": HISTORY_COUNTS},
        {"index": 2, "type": "uuid", "outcome": "not_found"},
        {"index": 3, "type": "phone_number", "outcome": "not_found"},
    ]
    assert done["outcomes"] == {"deleted": 2, "not_found": 2}
    assert done["counts"] == {kind: 2 * n for kind, n in HISTORY_COUNTS.items()}
    for uuid in ("del-1", "del-2"):
        assert_problem(get_profile(client, tenant, uuid), 404)


def test_a_suppressing_batch_reports_suppressed_and_the_identifiers_stay_refused(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    create_profile(client, tenant, "sup-1", email="sup-1@example.com")
    job = accepted_job(
        submit(client, tenant, [subject("email", "sup-1@example.com")], suppress=True)
    )
    assert job["suppress"] is True
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    assert [s["outcome"] for s in done["subjects"]] == ["suppressed"]
    assert done["outcomes"] == {"suppressed": 1}
    for identifiers in (None, {"email": "sup-1@example.com"}):
        uuid = "sup-1" if identifiers is None else "someone-else"
        refused = put_profile(client, tenant, uuid, {}, identifiers)
        id_type = "uuid" if identifiers is None else "email"
        assert assert_problem(refused, 409, "suppressed")["detail"] == suppressed(id_type)


def test_a_soft_batch_hides_the_profiles_and_they_can_be_restored(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    create_profile(client, tenant, "soft-1")
    create_profile(client, tenant, "soft-2", phone_number="+6591234567")
    subjects = [subject("uuid", "soft-1"), subject("phone_number", "+6591234567")]
    job = accepted_job(submit(client, tenant, subjects, mode="soft"))
    assert job["mode"] == "soft"
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    assert done["outcomes"] == {"deleted": 2}
    assert done["counts"] == {"profiles": 2}
    assert jobs_of(container, tenant_id_of(container, tenant), PURGE_PROFILE) == []
    for uuid in ("soft-1", "soft-2"):
        assert_problem(get_profile(client, tenant, uuid), 404)
        restored = client.post(f"{API}/profiles/{uuid}/restore", headers=native_headers(tenant))
        assert restored.status_code == 200, restored.text


def test_a_batch_of_more_than_one_chunk_deletes_everyone(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    uuids = [f"many-{n}" for n in range(60)]
    for uuid in uuids:
        create_profile(client, tenant, uuid)
    job = accepted_job(submit(client, tenant, [subject("uuid", u) for u in uuids]))
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    assert done["outcomes"] == {"deleted": 60}
    assert done["counts"]["profiles"] == 60
    listed = client.get(f"{API}/profiles", headers=native_headers(tenant)).json()
    assert listed["profiles"] == []


# --- dry runs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_a_dry_run_reports_exactly_what_the_real_batch_then_reports_and_changes_nothing(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant, mode: str
) -> None:
    subjects = two_people(client, tenant)
    before = snapshot(container)
    response = submit(client, tenant, subjects, mode=mode, dry_run=True)
    assert response.status_code == 200, response.text
    dry = response.json()
    assert snapshot(container) == before
    assert dry["dry_run"] is True
    assert dry["mode"] == mode
    per_person = HISTORY_COUNTS if mode == "hard" else {"profiles": 1}
    assert dry["counts"] == {kind: 2 * n for kind, n in per_person.items()}
    job = accepted_job(submit(client, tenant, subjects, mode=mode))
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    done = job_status(client, tenant, job["id"])
    assert done["counts"] == dry["counts"]
    assert done["subjects"] == dry["subjects"]


def test_a_suppressing_dry_run_says_suppressed_and_suppresses_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    subjects = two_people(client, tenant)
    before = snapshot(container)
    response = submit(client, tenant, subjects, suppress=True, dry_run=True)
    assert response.status_code == 200, response.text
    outcomes = [s["outcome"] for s in response.json()["subjects"]]
    assert outcomes == ["suppressed", "suppressed", "not_found", "not_found"]
    assert snapshot(container) == before


# --- limits and validation ----------------------------------------------------------------------


def test_over_1000_subjects_is_413_problem_saying_the_limit_and_changes_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "keep-1")
    before = snapshot(container)
    subjects = [subject("uuid", "keep-1")] + [subject("uuid", f"x-{n}") for n in range(1000)]
    problem = assert_problem(submit(client, tenant, subjects), 413, "batch-too-large")
    assert "1000" in problem["detail"]
    assert "subjects" in problem["detail"]
    assert problem["limit"] == 1000
    assert snapshot(container) == before
    assert get_profile(client, tenant, "keep-1").status_code == 200


def test_exactly_1000_subjects_are_accepted(client: TestClient, tenant: Tenant) -> None:
    subjects = [subject("uuid", f"x-{n}") for n in range(1000)]
    job = accepted_job(submit(client, tenant, subjects))
    assert len(job["subjects"]) == 1000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subjects": []}, "subjects"),
        ({}, "subjects"),
        ({"subjects": [{"type": "uuid"}]}, "subjects.0.value"),
        ({"subjects": [{"type": "fax", "value": "1"}]}, "subjects.0"),
        ({"subjects": [{"type": "email", "value": "nope"}]}, "subjects.0"),
        ({"subjects": [{"type": "uuid", "value": "u"}], "mode": "purge"}, "mode"),
        ({"subjects": [{"type": "uuid", "value": "u"}], "mode": "soft", "suppress": True}, None),
        ({"subjects": [{"type": "uuid", "value": "u"}], "dry_run": "yes"}, "dry_run"),
    ],
    ids=repr,
)
def test_invalid_batches_are_422_naming_the_field_and_change_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    body: dict[str, Any],
    field: str | None,
) -> None:
    before = snapshot(container)
    response = client.post(f"{API}/deletions", json=body, headers=native_headers(tenant))
    problem = assert_problem(response, 422, "invalid-field")
    assert problem["field"] == (field or "suppress")
    assert snapshot(container) == before


# --- idempotency --------------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_give_the_same_job_and_one_job_row(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    subjects = two_people(client, tenant)
    key = {"Idempotency-Key": "req-1"}
    first = submit(client, tenant, subjects, headers=key)
    job = accepted_job(first)
    again = submit(client, tenant, subjects, headers=key)
    assert accepted_job(again)["id"] == job["id"]
    assert again.content == first.content
    run_until_terminal(container, worker, job["id"])
    after_it_ran = submit(client, tenant, subjects, headers=key)
    assert accepted_job(after_it_ran) == job
    assert after_it_ran.content == first.content
    batches = jobs_of(container, tenant_id_of(container, tenant), DELETION_BATCH)
    assert [b["job_id"] for b in batches] == [int(job["id"])]


def test_the_same_idempotency_key_with_a_different_body_is_422_and_makes_no_job(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    subjects = two_people(client, tenant)
    key = {"Idempotency-Key": "req-1"}
    job = accepted_job(submit(client, tenant, subjects, headers=key))
    before = snapshot(container)
    for changed in (
        {"subjects": subjects[:1]},
        {"subjects": subjects, "mode": "soft"},
        {"subjects": subjects, "suppress": True},
    ):
        response = client.post(
            f"{API}/deletions", json=changed, headers={**native_headers(tenant), **key}
        )
        assert_problem(response, 422, "idempotency-key-reused")
    assert snapshot(container) == before
    assert job_status(client, tenant, job["id"])["state"] == "queued"


def test_a_key_remembered_before_answers_were_typed_replays_its_answer_byte_for_byte(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    subjects = [subject("uuid", "gone-by-now"), subject("email", "gone@example.com")]
    body = {"subjects": subjects, "mode": "hard", "suppress": True}
    # An accepted batch's status as the service stored it with the key, JSON and all.
    stored = {
        "id": "7549747237752672495",
        "kind": "batch",
        "state": "queued",
        "erasure": {"state": "pending", "at": None},
        "receipt_id": None,
        "mode": "hard",
        "suppress": True,
        "subjects": [
            {"index": 0, "type": "uuid", "outcome": "pending"},
            {"index": 1, "type": "email", "outcome": "pending"},
        ],
        "outcomes": {"pending": 2},
        "counts": {},
        "reason": None,
        "attempts": 0,
        "last_error": None,
        "created_at": 1800000007000,
        "updated_at": 1800000007000,
        "finished_at": None,
    }
    tenant_id = tenant_id_of(container, tenant)
    with container.engine.begin() as conn:
        conn.execute(
            insert(t.idempotency_keys).values(
                tenant_id=tenant_id,
                key="stored-before",
                request_hash=request_hash(body),
                status=202,
                response=stored,
                created_at=now_ms(),
            )
        )
    replayed = client.post(
        f"{API}/deletions",
        json=body,
        headers={**native_headers(tenant), "Idempotency-Key": "stored-before"},
    )
    assert replayed.status_code == 202
    assert replayed.content == orjson.dumps(stored)


def test_an_idempotency_key_belongs_to_one_tenant(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    key = {"Idempotency-Key": "shared"}
    mine = accepted_job(submit(client, tenant, [subject("uuid", "a")], headers=key))
    theirs = accepted_job(submit(client, other_tenant, [subject("uuid", "b")], headers=key))
    assert theirs["id"] != mine["id"]


def test_without_a_key_each_submission_is_a_new_job(client: TestClient, tenant: Tenant) -> None:
    first = accepted_job(submit(client, tenant, [subject("uuid", "a")]))
    second = accepted_job(submit(client, tenant, [subject("uuid", "a")]))
    assert first["id"] != second["id"]


def test_an_overlong_idempotency_key_is_422(client: TestClient, tenant: Tenant) -> None:
    response = submit(
        client, tenant, [subject("uuid", "a")], headers={"Idempotency-Key": "k" * 256}
    )
    assert_problem(response, 422)


# --- cancel -------------------------------------------------------------------------------------


def test_a_queued_job_can_be_cancelled_and_then_never_runs(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    subjects = two_people(client, tenant)
    job = accepted_job(submit(client, tenant, subjects))
    response = cancel(client, tenant, job["id"])
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    tenant_id = tenant_id_of(container, tenant)
    before = rows_of_tenant(snapshot(container), tenant_id)
    worker.drain()
    assert rows_of_tenant(snapshot(container), tenant_id) == before
    row = job_row(container, job["id"])
    assert (row.state, row.attempts) == ("cancelled", 0)
    assert jobs_of(container, tenant_id, PURGE_PROFILE) == []
    for uuid in ("del-1", "del-2"):
        assert get_profile(client, tenant, uuid).status_code == 200
    again = assert_problem(cancel(client, tenant, job["id"]), 409, "not-cancellable")
    assert again["detail"] == "only a queued job can be cancelled; this one is cancelled"


def test_cancelling_a_job_that_ran_is_409_naming_its_state(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    create_profile(client, tenant, "ran-1")
    job = accepted_job(submit(client, tenant, [subject("uuid", "ran-1")]))
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    problem = assert_problem(cancel(client, tenant, job["id"]), 409, "not-cancellable")
    assert problem["state"] == "completed"
    assert problem["detail"] == "only a queued job can be cancelled; this one is completed"
    assert job_status(client, tenant, job["id"])["state"] == "completed"


def test_cancelling_a_batch_that_already_started_its_deletions_is_409(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    """Once the worker has taken the batch, its subjects are deleted: too late to cancel, even
    while it waits (queued again for a moment) for its purges to finish."""
    create_profile(client, tenant, "ran-1")
    job = accepted_job(submit(client, tenant, [subject("uuid", "ran-1")]))
    run_until(worker, lambda: bool(job_row(container, job["id"]).result), "the batch's first step")
    assert_problem(get_profile(client, tenant, "ran-1"), 404)
    late = assert_problem(cancel(client, tenant, job["id"]), 409, "not-cancellable")
    assert late["detail"] == "only a queued job can be cancelled; this one is running"
    assert run_until_terminal(container, worker, job["id"]) == "completed"


@pytest.mark.parametrize("job_id", ["123456789", "abc", "-1"])
def test_status_and_cancel_of_an_unknown_job_are_404(
    client: TestClient, tenant: Tenant, job_id: str
) -> None:
    headers = native_headers(tenant)
    for response in (
        client.get(f"{API}/deletions/{job_id}", headers=headers),
        cancel(client, tenant, job_id),
    ):
        assert assert_problem(response, 404, "not-found")["detail"] == "no such deletion job"


def test_a_purge_job_is_readable_with_its_erasure_but_cannot_be_cancelled(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "single-1")
    deleted = client.delete(f"{API}/profiles/single-1?mode=hard", headers=native_headers(tenant))
    purge_id = deleted.json()["job_id"]
    status = job_status(client, tenant, purge_id)
    assert set(status) == JOB_FIELDS
    assert (status["kind"], status["state"], status["erasure"]) == (
        "profile",
        "queued",
        {"state": "pending", "at": None},
    )
    # The person is already unreachable and their key destroyed: nothing to call back.
    refused = assert_problem(cancel(client, tenant, purge_id), 404, "not-found")
    assert refused["detail"] == "no such deletion job"
    assert job_row(container, purge_id).state == "queued"


# --- the closing check --------------------------------------------------------------------------


def test_a_row_left_after_the_purge_ends_the_job_partial_naming_the_leftover(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> None:
    create_profile(client, tenant, "left-1")
    add_events(client, tenant, "left-1", 2)
    create_profile(client, tenant, "clean-1")
    subjects = [subject("uuid", "left-1"), subject("uuid", "clean-1")]
    job = accepted_job(submit(client, tenant, subjects))
    tenant_id = tenant_id_of(container, tenant)
    left_profile = job_row(container, job["id"]).payload["subjects"][0]["profile_ids"][0]

    # Run until both purges are done while the batch still waits to check them.
    def purged() -> bool:
        purges = jobs_of(container, tenant_id, PURGE_PROFILE)
        return len(purges) == 2 and all(p["state"] == "completed" for p in purges)

    run_until(worker, purged, "the purges")
    assert job_row(container, job["id"]).state not in ("completed", "partial")
    plant_event(container, tenant_id, left_profile, event_id=987_654_321)
    assert run_until_terminal(container, worker, job["id"]) == "partial"
    done = job_status(client, tenant, job["id"])
    assert done["state"] == "partial"
    assert "events=1" in done["reason"]
    assert "subject 0" in done["reason"]
    assert "clean" not in done["reason"]
    first, second = done["subjects"]
    assert first["outcome"] == "failed"
    assert "events=1" in first["reason"]
    assert second["outcome"] == "deleted"
    assert done["outcomes"] == {"deleted": 1, "failed": 1}


# --- tenancy ------------------------------------------------------------------------------------


def test_another_tenant_gets_404_for_this_tenants_job_and_cannot_cancel_it(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    create_profile(client, tenant, "mine")
    job = accepted_job(submit(client, tenant, [subject("uuid", "mine")]))
    theirs = native_headers(other_tenant)
    for response in (
        client.get(f"{API}/deletions/{job['id']}", headers=theirs),
        cancel(client, other_tenant, job["id"]),
    ):
        assert assert_problem(response, 404, "not-found")["detail"] == "no such deletion job"
    assert job_status(client, tenant, job["id"])["state"] == "queued"


def test_another_tenants_batch_naming_this_tenants_people_finds_nobody(
    client: TestClient, container: Container, worker: Worker, tenant: Tenant, other_tenant: Tenant
) -> None:
    create_profile(client, tenant, "mine", email="mine@example.com")
    subjects = [subject("uuid", "mine"), subject("email", "mine@example.com")]
    job = accepted_job(submit(client, other_tenant, subjects))
    assert run_until_terminal(container, worker, job["id"]) == "completed"
    assert job_status(client, other_tenant, job["id"])["outcomes"] == {"not_found": 2}
    assert get_profile(client, tenant, "mine").status_code == 200
