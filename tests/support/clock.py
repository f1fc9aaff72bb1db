"""Time the tests move by hand, and a worker that reads it."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker, WorkerConfig
from obliviate.storage import tables as t
from obliviate.storage.erasure import Eraser
from obliviate.storage.repositories.jobs import SqlJobQueue


class FakeClock:
    """A clock the test moves by hand: time passing without sleeping."""

    def __init__(self, start_ms: int | None = None) -> None:
        self.now = int(time.time() * 1000) if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1000)


def now_ms() -> int:
    """The real time, in the milliseconds every service takes."""
    return int(time.time() * 1000)


def worker_on_clock(container: Container, clock: FakeClock, **config: Any) -> Worker:
    """A worker that reads time from ``clock``: purges and backoffs without waiting."""
    values: dict[str, Any] = {
        "poll_interval": 0.01,
        "purge_interval": 0.0,
        "lease_ms": 60_000,
        "max_attempts": 3,
        "backoff_base": 0.0,
        "backoff_max": 0.0,
        "purge_batch_size": 7,
        **config,
    }
    return Worker(
        queue=SqlJobQueue(container.engine),
        eraser=Eraser(container.engine),
        uow_factory=container.uow_factory,
        hasher=container.hasher,
        clock=clock,
        config=WorkerConfig(**values),
    )


def wait_until_revival_window_ends(container: Container, tenant_id: str) -> None:
    """Poll the app's clock until it passes the deadline stored on the tenant's soft-deleted
    profile (there must be exactly one)."""
    with container.engine.connect() as conn:
        deadline = conn.execute(
            select(t.profiles.c.revivable_until).where(
                t.profiles.c.tenant_id == tenant_id, t.profiles.c.state == "soft_deleted"
            )
        ).scalar_one()
    give_up = time.monotonic() + 10
    while container.clock.now_ms() <= deadline:
        assert time.monotonic() < give_up, "the revival window never ended"
        time.sleep(0.05)
