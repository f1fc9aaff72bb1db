"""Batch deletions at the service layer, on SQLite and PostgreSQL.

A batch is worked in chunks, each its own transaction, and resumes where it stopped when another
worker takes it over; it ends ``completed`` only when no row of any subject is left in any
registered deletion target, else ``partial`` naming what is left. A dry run reports what the real
run then reports. Idempotency keys last 24 hours. Time is a fake clock the tests move.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from obliviate.bootstrap import Container
from obliviate.domain.batches import DryRun, JobStatus, Submission
from obliviate.domain.deletion import DELETION_BATCH, PURGE_PROFILE
from obliviate.domain.errors import IdempotencyMismatch, MassDeletionRefused
from obliviate.domain.events import NewEvent
from obliviate.domain.identifiers import Identifier, identifier
from obliviate.domain.tenants import Caller
from obliviate.jobs.worker import Worker
from obliviate.services import batches, deletions, devices, identity
from obliviate.services.batches import BatchRequest
from obliviate.services.devices import DeviceChange
from obliviate.services.identity import PersonInput
from obliviate.services.queue_port import ClaimedJob
from obliviate.storage import tables as t
from obliviate.storage.repositories.jobs import SqlJobQueue
from tests.support.clock import FakeClock, worker_on_clock
from tests.support.tenants import Tenant, sign_in

TERMINAL = {"completed", "partial", "failed", "cancelled"}
LEASE_MS = 10_000
PLANTED_ID = 900_000_000_001


def make_caller(container: Container, tenant: Tenant, floor: int = 1000) -> Caller:
    return sign_in(container, tenant, "native", revival_window=7 * 86400.0, mass_delete_floor=floor)


@pytest.fixture
def caller(container: Container, tenant: dict[str, Any]) -> Caller:
    return make_caller(container, tenant)


@pytest.fixture
def clocked_worker(container: Container, clock: FakeClock) -> Worker:
    return worker_on_clock(container, clock, purge_interval=3600.0, lease_ms=LEASE_MS)


def uuid(value: str) -> Identifier:
    return identifier("uuid", value)


def email(value: str) -> Identifier:
    return identifier("email", value)


def person(
    container: Container,
    caller: Caller,
    clock: FakeClock,
    name: str,
    *,
    events: int = 0,
    device: bool = False,
) -> int:
    """A profile with a uuid and an email, some events, and maybe a tagged, aliased device."""
    now = clock.now_ms()
    with container.uow_factory(caller.tenant.tenant_id) as uow:
        outcome = identity.upsert_person(
            uow,
            tenant=caller.tenant,
            person=PersonInput(
                identifiers=[uuid(name), email(f"{name}@example.com")],
                events=[NewEvent(f"e{n}", 1_000 + n, {}) for n in range(events)],
            ),
            now=now,
            hasher=container.hasher,
        )
        if device:
            rid = f"{name}-phone"
            devices.set_device(
                uow,
                registration_id=rid,
                change=DeviceChange(add=("news", "vip"), alias=f"al_{name}".replace("-", "_")),
                now=now,
                hasher=container.hasher,
            )
            devices.set_owner(uow, uuid=name, registration_id=rid, now=now)
        uow.commit()
    return outcome.profile_id


def submit(
    container: Container,
    caller: Caller,
    clock: FakeClock,
    subjects: Sequence[Identifier],
    *,
    mode: str = "hard",
    dry_run: bool = False,
    key: str | None = None,
    body: Any = None,
) -> Submission | DryRun:
    batch = BatchRequest(list(subjects), mode, False, dry_run)
    with container.uow_factory(caller.tenant.tenant_id) as uow:
        answer = batches.submit(
            uow,
            caller=caller,
            batch=batch,
            idempotency_key=key,
            body_hash=batches.request_hash(body if body is not None else repr(batch)),
            confirmed=False,
            now=clock.now_ms(),
            hasher=container.hasher,
        )
        uow.commit()
    return answer


def accepted(answer: Submission | DryRun) -> JobStatus:
    assert isinstance(answer, Submission), answer
    return answer.job


def status(container: Container, caller: Caller, job_id: int | str) -> JobStatus:
    with container.uow_factory(caller.tenant.tenant_id, write=False) as uow:
        return batches.status(uow, job_id=int(job_id))


def job(container: Container, job_id: int | str) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(select(t.jobs).where(t.jobs.c.job_id == int(job_id))).one()


def purge_jobs(container: Container, caller: Caller) -> list[Any]:
    with container.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.jobs).where(
                    t.jobs.c.tenant_id == caller.tenant.tenant_id,
                    t.jobs.c.kind == PURGE_PROFILE,
                )
            )
        )


def run_to_end(container: Container, worker: Worker, clock: FakeClock, job_id: int | str) -> str:
    """Run due jobs; when none is due, move the clock past the batch's short deferral."""
    for _ in range(5_000):
        state = str(job(container, job_id).state)
        if state in TERMINAL:
            return state
        if not worker.run_once():
            clock.advance(0.1)
    raise AssertionError(f"job {job_id} did not end")


def run_first_pass(container: Container, worker: Worker, job_id: int | str) -> None:
    """Run due jobs until the batch has dealt with its subjects and waits for its purges (on
    PostgreSQL older tests' jobs may be due first)."""
    for _ in range(5_000):
        if job(container, job_id).result.get("children") is not None:
            return
        assert worker.run_once(), "the batch never ran"
    raise AssertionError(f"job {job_id} never ran")


def run_children(container: Container, worker: Worker, caller: Caller) -> None:
    """Run due jobs without moving the clock: the purges run, the deferred batch waits."""
    for _ in range(5_000):
        if not worker.run_once():
            break
    assert all(p.state == "completed" for p in purge_jobs(container, caller))


def claim_batch(container: Container, clock: FakeClock, worker_id: str) -> ClaimedJob:
    claimed = SqlJobQueue(container.engine).claim(
        worker_id=worker_id, now=clock.now_ms(), lease_ms=LEASE_MS
    )
    assert claimed is not None
    assert claimed.kind == DELETION_BATCH
    return claimed


def step(container: Container, clock: FakeClock, claimed: ClaimedJob, worker_id: str) -> str:
    with container.uow_factory(claimed.tenant_id) as uow:
        outcome = batches.dispatch_step(
            uow,
            tenant_id=claimed.tenant_id,
            job_id=claimed.job_id,
            payload=claimed.payload,
            worker_id=worker_id,
            now=clock.now_ms(),
            hasher=container.hasher,
        )
        uow.commit()
    return outcome


# --- chunks, take-over --------------------------------------------------------------------------


def test_a_batch_is_worked_in_chunks_and_a_worker_that_takes_it_over_goes_on_from_there(
    container: Container,
    caller: Caller,
    clock: FakeClock,
    clocked_worker: Worker,
) -> None:
    # On PostgreSQL older tests' jobs share the table: run them first so the claim is ours.
    clocked_worker.drain()
    names = [f"chunk-{n}" for n in range(60)]
    for name in names:
        person(container, caller, clock, name, events=2)
    subjects = [uuid(n) for n in names] + [uuid(f"nobody-{n}") for n in range(10)]
    answer = accepted(submit(container, caller, clock, subjects))
    first = claim_batch(container, clock, "worker-a")
    assert step(container, clock, first, "worker-a") == "more"
    assert len(job(container, answer.job_id).result["outcomes"]) == 50
    assert len(purge_jobs(container, caller)) == 50
    # worker-a dies here; once its lease has run out the clocked worker takes the batch over.
    clock.advance(LEASE_MS / 1000 + 1)
    assert run_to_end(container, clocked_worker, clock, answer.job_id) == "completed"
    assert len(purge_jobs(container, caller)) == 60
    done = status(container, caller, answer.job_id)
    assert done.outcomes == {"deleted": 60, "not_found": 10}
    assert done.counts["events"] == 120
    assert done.counts["profiles"] == 60
    assert done.attempts == 2
    # worker-a wakes up: it no longer holds the batch, so its step changes nothing.
    before = job(container, answer.job_id)
    assert step(container, clock, first, "worker-a") == "done"
    assert job(container, answer.job_id) == before


# --- the closing check --------------------------------------------------------------------------


def plant(container: Container, tenant_id: str, kind: str, profile_id: int, now: int) -> None:
    """One row of the purged profile in the target ``kind``, written behind the services."""
    rows: dict[str, list[tuple[Any, dict[str, Any]]]] = {
        "events": [
            (
                t.events,
                {
                    "event_id": PLANTED_ID,
                    "profile_id": profile_id,
                    "name": "late",
                    "occurred_at": now,
                    # Sealed under a key that no longer exists: what matters is the row.
                    "sealed_body": b"sealed",
                },
            )
        ],
        "identifiers": [
            (
                t.identifiers,
                {
                    "id_type": "custom.late",
                    "value_hash": "0" * 64,
                    "sealed_value": b"sealed",
                    "profile_id": profile_id,
                    "created_at": now,
                },
            )
        ],
        "merges": [
            (
                t.merges,
                {
                    "merge_id": PLANTED_ID,
                    "survivor_profile_id": profile_id,
                    "merged_profile_id": PLANTED_ID,
                    "moved": {},
                    "created_at": now,
                },
            )
        ],
        "profiles": [
            (
                t.profiles,
                {
                    "profile_id": profile_id,
                    "state": "active",
                    "attributes": b"sealed",
                    "created_at": now,
                    "updated_at": now,
                },
            )
        ],
    }
    device = {
        "device_id": PLANTED_ID,
        "registration_hash": "1" * 64,
        "state": "active",
        "sealed_details": b"sealed",
        "profile_id": profile_id,
        "created_at": now,
        "updated_at": now,
    }
    rows["devices"] = [(t.devices, device)]
    rows["tags"] = [
        (t.devices, device),
        (
            t.device_tags,
            {"device_id": PLANTED_ID, "tag_hash": "2" * 64, "sealed_tag": b"sealed"},
        ),
    ]
    with container.engine.begin() as conn:
        for table, values in rows[kind]:
            conn.execute(insert(table).values(tenant_id=tenant_id, **values))


@pytest.mark.parametrize("kind", ["events", "identifiers", "devices", "tags", "merges", "profiles"])
def test_a_row_left_in_any_deletion_target_ends_the_batch_partial_naming_it(
    container: Container, caller: Caller, clock: FakeClock, clocked_worker: Worker, kind: str
) -> None:
    left = person(container, caller, clock, "left", events=3, device=True)
    person(container, caller, clock, "clean", events=1)
    answer = accepted(submit(container, caller, clock, [uuid("left"), uuid("clean")]))
    run_first_pass(container, clocked_worker, answer.job_id)
    run_children(container, clocked_worker, caller)
    assert job(container, answer.job_id).state == "queued"
    plant(container, caller.tenant.tenant_id, kind, left, clock.now_ms())
    assert run_to_end(container, clocked_worker, clock, answer.job_id) == "partial"
    done = status(container, caller, answer.job_id)
    assert done.reason is not None
    assert f"{kind}=1" in done.reason
    assert done.reason.startswith("subject 0:")
    assert [s.outcome.outcome for s in done.subjects] == ["failed", "deleted"]
    assert f"{kind}=1" in (done.subjects[0].outcome.reason or "")


def test_a_purge_that_failed_makes_its_subject_failed_with_the_purges_error(
    container: Container, caller: Caller, clock: FakeClock, clocked_worker: Worker
) -> None:
    person(container, caller, clock, "doomed", events=2)
    person(container, caller, clock, "fine")
    answer = accepted(submit(container, caller, clock, [uuid("doomed"), uuid("fine")]))
    run_first_pass(container, clocked_worker, answer.job_id)
    children = job(container, answer.job_id).result["children"]
    with container.engine.begin() as conn:
        conn.execute(
            update(t.jobs)
            .where(t.jobs.c.job_id == children["0"][0])
            .values(state="failed", last_error="OSError: disk full", finished_at=clock.now_ms())
        )
    assert run_to_end(container, clocked_worker, clock, answer.job_id) == "partial"
    done = status(container, caller, answer.job_id)
    assert "disk full" in (done.reason or "")
    assert done.subjects[0].outcome.outcome == "failed"
    assert done.subjects[0].outcome.reason
    assert done.subjects[1].outcome.outcome == "deleted"


# --- dry runs -----------------------------------------------------------------------------------


def dry_then_real(
    container: Container,
    caller: Caller,
    clock: FakeClock,
    worker: Worker,
    subjects: Sequence[Identifier],
    mode: str = "hard",
) -> tuple[DryRun, JobStatus]:
    dry = submit(container, caller, clock, subjects, mode=mode, dry_run=True)
    assert isinstance(dry, DryRun)
    answer = accepted(submit(container, caller, clock, subjects, mode=mode))
    assert run_to_end(container, worker, clock, answer.job_id) == "completed"
    return dry, status(container, caller, answer.job_id)


def test_a_dry_run_of_a_soft_deleted_profile_matches_the_hard_deletion_that_follows(
    container: Container, caller: Caller, clock: FakeClock, clocked_worker: Worker
) -> None:
    person(container, caller, clock, "hidden", events=4, device=True)
    with container.uow_factory(caller.tenant.tenant_id) as uow:
        deletions.soft_delete_profile(uow, caller=caller, uuid="hidden", now=clock.now_ms())
        uow.commit()
    dry, real = dry_then_real(container, caller, clock, clocked_worker, [uuid("hidden")])
    assert dry.counts["events"] == 4
    assert dry.counts["tags"] == 2
    assert dry.counts == real.counts
    assert dry.subjects == real.subjects


def test_a_soft_dry_run_of_a_soft_deleted_profile_matches_the_soft_batch_that_follows(
    container: Container, caller: Caller, clock: FakeClock, clocked_worker: Worker
) -> None:
    person(container, caller, clock, "hidden")
    person(container, caller, clock, "shown")
    with container.uow_factory(caller.tenant.tenant_id) as uow:
        deletions.soft_delete_profile(uow, caller=caller, uuid="hidden", now=clock.now_ms())
        uow.commit()
    subjects = [uuid("hidden"), uuid("shown")]
    dry, real = dry_then_real(container, caller, clock, clocked_worker, subjects, mode="soft")
    assert dry.counts == real.counts
    assert dry.subjects == real.subjects


@pytest.mark.parametrize(
    ("mode", "removed"),
    [
        ("hard", {"events": 3, "identifiers": 2, "keys": 1, "profiles": 1}),
        ("soft", {"profiles": 1}),
    ],
)
def test_one_person_named_twice_is_counted_once_by_the_dry_run_and_the_real_run(
    container: Container,
    caller: Caller,
    clock: FakeClock,
    clocked_worker: Worker,
    mode: str,
    removed: dict[str, int],
) -> None:
    person(container, caller, clock, "twice", events=3)
    subjects = [uuid("twice"), email("twice@example.com")]
    dry, real = dry_then_real(container, caller, clock, clocked_worker, subjects, mode=mode)
    assert {k: n for k, n in real.counts.items() if n} == removed
    assert dry.counts == real.counts
    assert dry.subjects == real.subjects


# --- the guard and idempotency ------------------------------------------------------------------


def test_the_guard_counts_people_not_subjects(
    container: Container, tenant: dict[str, Any], clock: FakeClock
) -> None:
    tight = make_caller(container, tenant, floor=1)
    person(container, tight, clock, "one")
    person(container, tight, clock, "two")
    person(container, tight, clock, "three")
    # One person by two identifiers, and nobody: one deletion.
    same = [uuid("one"), email("one@example.com"), uuid("nobody")]
    assert isinstance(submit(container, tight, clock, same), Submission)
    with pytest.raises(MassDeletionRefused):
        submit(container, tight, clock, [uuid("two")])


def test_an_idempotency_key_replays_for_24_hours_and_is_then_forgotten(
    container: Container, caller: Caller, clock: FakeClock
) -> None:
    person(container, caller, clock, "idem")
    body = {"subjects": [{"type": "uuid", "value": "idem"}]}
    first = accepted(submit(container, caller, clock, [uuid("idem")], key="k", body=body))
    clock.advance(24 * 3600 - 1)
    again = submit(container, caller, clock, [uuid("idem")], key="k", body=body)
    assert again == Submission(job=first, replayed=True)
    with pytest.raises(IdempotencyMismatch):
        submit(container, caller, clock, [uuid("other")], key="k", body={"other": 1})
    clock.advance(2)
    fresh = submit(container, caller, clock, [uuid("other")], key="k", body={"other": 1})
    assert isinstance(fresh, Submission)
    assert not fresh.replayed
    assert fresh.job.job_id != first.job_id


def test_a_batch_that_fails_for_good_keeps_no_identifier_value(
    container: Container, caller: Caller, clock: FakeClock, clocked_worker: Worker
) -> None:
    person(container, caller, clock, "doomed-for-good")
    doomed = [email("Doomed-For-Good@example.com")]
    job_id = accepted(submit(container, caller, clock, doomed)).job_id
    # A payload the worker cannot act on (an unknown surface): every attempt fails.
    payload = dict(job(container, job_id).payload)
    with container.engine.begin() as conn:
        conn.execute(
            update(t.jobs)
            .where(t.jobs.c.job_id == int(job_id))
            .values(payload={**payload, "surface": "nowhere"})
        )
    assert run_to_end(container, clocked_worker, clock, job_id) == "failed"
    ended = job(container, job_id)
    assert "doomed-for-good" not in repr(tuple(ended))
    assert [s["lookup_hash"] for s in ended.payload["subjects"]] == [None]
    assert ended.last_error == "ValueError: 'nowhere' is not a valid Surface"


def test_a_database_error_leaves_only_its_classes_in_the_job_row() -> None:
    from sqlalchemy.exc import IntegrityError

    from obliviate.jobs.worker import job_error

    error = IntegrityError("INSERT ... VALUES (?)", ("ana@example.com",), Exception("dup"))
    assert job_error(error) == "IntegrityError: Exception"
    assert "ana@example.com" not in job_error(error)
