"""The durable job queue: retries with backoff, lease take-over, one claim per job."""

from __future__ import annotations

import threading
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import select

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from obliviate.storage import tables as t
from obliviate.storage.migrate import alembic_config, migrate
from obliviate.storage.repositories.jobs import SqlJobQueue
from tests.support.clock import FakeClock, worker_on_clock
from tests.support.rows import tenant_id_of
from tests.support.tenants import sign_in


def _worker(container: Container, clock: FakeClock, **config: Any) -> Worker:
    values: dict[str, Any] = {
        "purge_interval": 3600.0,
        "lease_ms": 10_000,
        "backoff_base": 2.0,
        "backoff_max": 60.0,
        "purge_batch_size": 10,
    }
    return worker_on_clock(container, clock, **{**values, **config})


def _enqueue(container: Container, tenant_id: str, kind: str, now: int) -> int:
    with container.uow_factory(tenant_id) as uow:
        job_id = uow.jobs.enqueue(kind=kind, payload={}, now=now)
        uow.commit()
    return job_id


def _job(container: Container, job_id: int) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(select(t.jobs).where(t.jobs.c.job_id == job_id)).one()


def test_a_failing_job_is_retried_with_backoff_then_marked_failed(
    container: Container, tenant: dict[str, Any], clock: FakeClock
) -> None:
    worker = _worker(container, clock)
    worker.drain()  # PostgreSQL is shared by the whole session: run what earlier tests left
    job_id = _enqueue(container, tenant_id_of(container, tenant), "no_such_kind", clock.now_ms())

    assert worker.run_once() is True
    first = _job(container, job_id)
    assert (first.state, first.attempts) == ("queued", 1)
    assert first.run_after == clock.now_ms() + 2_000
    assert "no_such_kind" in first.last_error

    assert worker.run_once() is False  # not due yet
    clock.advance(2)
    assert worker.run_once() is True
    assert _job(container, job_id).run_after == clock.now_ms() + 4_000

    clock.advance(4)
    assert worker.run_once() is True
    final = _job(container, job_id)
    assert (final.state, final.attempts) == ("failed", 3)
    assert final.finished_at is not None
    clock.advance(3600)
    assert worker.run_once() is False


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(
    container: Container, tenant: dict[str, Any], clock: FakeClock
) -> None:
    tenant_id = tenant_id_of(container, tenant)
    _worker(container, clock).drain()
    job_id = _enqueue(container, tenant_id, "no_such_kind", clock.now_ms())
    claimed = SqlJobQueue(container.engine).claim(
        worker_id="dead", now=clock.now_ms(), lease_ms=10_000
    )
    assert claimed is not None
    assert claimed.job_id == job_id
    # The claimant is gone (kill -9): nobody may take the job while the lease holds...
    assert (
        SqlJobQueue(container.engine).claim(worker_id="b", now=clock.now_ms(), lease_ms=10_000)
        is None
    )
    clock.advance(10.001)
    again = SqlJobQueue(container.engine).claim(worker_id="b", now=clock.now_ms(), lease_ms=10_000)
    assert again is not None
    assert again.job_id == job_id
    assert again.attempts == 2
    assert _job(container, job_id).locked_by == "b"


def test_concurrent_workers_claim_each_job_exactly_once(
    container: Container, tenant: dict[str, Any], clock: FakeClock
) -> None:
    tenant_id = tenant_id_of(container, tenant)
    wanted = {_enqueue(container, tenant_id, "k", clock.now_ms()) for _ in range(40)}
    claims: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while True:
            job = SqlJobQueue(container.engine).claim(
                worker_id=name, now=clock.now_ms(), lease_ms=60_000
            )
            if job is None:
                return
            with lock:
                claims.append(job.job_id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    mine = [c for c in claims if c in wanted]
    assert sorted(mine) == sorted(wanted)


def test_migrations_can_run_again_without_change(container: Container) -> None:
    migrate(container.engine)
    migrate(container.engine)
    with container.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert version == head


def _hard_deleted_with_events(
    container: Container, tenant: dict[str, Any], clock: FakeClock, uuid: str
) -> tuple[str, int]:
    """A person with five events, hard-deleted: the tenant id and the person's profile id
    (its purge job is queued)."""
    from obliviate.domain.events import NewEvent
    from obliviate.services import deletions, profiles

    _worker(container, clock).drain()
    caller = sign_in(container, tenant, "gainsight", revival_window=60)
    with container.uow_factory(caller.tenant.tenant_id) as uow:
        view, _ = profiles.create_profile(
            uow,
            uuid=uuid,
            attributes={},
            now=clock.now_ms(),
            hasher=container.hasher,
        )
        for _ in range(5):
            uow.events.add(
                profile_id=view.profile.profile_id, event=NewEvent("e", 1), now=clock.now_ms()
            )
        deletions.hard_delete_profile(
            uow, caller=caller, uuid=uuid, now=clock.now_ms(), hasher=container.hasher
        )
        uow.commit()
    return caller.tenant.tenant_id, view.profile.profile_id


def test_a_worker_that_lost_its_lease_cannot_touch_the_job_its_successor_holds(
    container: Container, tenant: dict[str, Any], clock: FakeClock
) -> None:
    from obliviate.services import deletions

    tenant_id, profile_id = _hard_deleted_with_events(container, tenant, clock, "lease-1")
    first = SqlJobQueue(container.engine).claim(worker_id="a", now=clock.now_ms(), lease_ms=1_000)
    assert first is not None
    clock.advance(2)
    second = SqlJobQueue(container.engine).claim(worker_id="b", now=clock.now_ms(), lease_ms=60_000)
    assert second is not None
    assert second.job_id == first.job_id

    def step(worker_id: str) -> deletions.PurgeProgress:
        with container.uow_factory(tenant_id) as uow:
            done = deletions.purge_step(
                uow,
                job_id=first.job_id,
                payload=first.payload,
                batch_size=2,
                now=clock.now_ms(),
                worker_id=worker_id,
            )
            uow.commit()
        return done.progress

    assert step("a") is deletions.PurgeProgress.ENDED  # the stale holder stops at once...
    with container.uow_factory(tenant_id, write=False) as uow:
        assert uow.person_rows.count("profile", profile_id)["events"] == 5
    # ...and the holder removes every row, counting each once, then waits for its erasure.
    while step("b") is deletions.PurgeProgress.MORE:
        pass
    with container.uow_factory(tenant_id) as uow:
        assert not deletions.finish_erasure(
            uow, job_id=first.job_id, payload=first.payload, worker_id="a", now=clock.now_ms()
        )
        assert deletions.finish_erasure(
            uow, job_id=first.job_id, payload=first.payload, worker_id="b", now=clock.now_ms()
        )
        uow.commit()
    final = _job(container, first.job_id)
    assert final.state == "completed"
    assert final.result["counts"]["events"] == 5


def test_each_purge_step_extends_the_lease_so_a_long_purge_is_not_taken_over(
    container: Container, tenant: dict[str, Any], clock: FakeClock
) -> None:
    from obliviate.services import deletions

    tenant_id, _ = _hard_deleted_with_events(container, tenant, clock, "lease-2")
    held = SqlJobQueue(container.engine).claim(worker_id="a", now=clock.now_ms(), lease_ms=1_000)
    assert held is not None
    with container.uow_factory(tenant_id) as uow:
        done = deletions.purge_step(
            uow,
            job_id=held.job_id,
            payload=held.payload,
            batch_size=2,
            now=clock.now_ms(),
            worker_id="a",
            lease_until=clock.now_ms() + 60_000,
        )
        uow.commit()
    assert done.progress is deletions.PurgeProgress.MORE
    # Past the lease the claim gave, but within the one the step wrote: nobody else gets it.
    clock.advance(2)
    assert (
        SqlJobQueue(container.engine).claim(worker_id="b", now=clock.now_ms(), lease_ms=1_000)
        is None
    )
