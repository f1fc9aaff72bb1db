"""The transactions seam: every strategy commits before it answers, and wakes the worker after a
commit that enqueued a job — never before it, never for work that failed or enqueued nothing."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from obliviate.bootstrap import Container
from obliviate.services.ports import UnitOfWork
from obliviate.storage import tables as t
from obliviate.storage.engine import read_connection
from obliviate.storage.transactions import (
    SqliteGroupCommitTransactions,
    SqliteTransactions,
    ThreadedTransactions,
)

NOW = 1_700_000_000_000
STRATEGIES = {
    "threaded": ThreadedTransactions,
    "sqlite": SqliteTransactions,
    "sqlite-group-commit": SqliteGroupCommitTransactions,
}


@dataclass
class WakeProbe:
    """Records, at each wake-up, which of the tenant's jobs a separate connection already
    sees: a wake-up before the COMMIT that enqueued a job would not see it."""

    container: Container
    tenant_id: str
    seen_at_wake: list[frozenset[int]] = field(default_factory=list)

    def job_ids(self) -> frozenset[int]:
        with read_connection(self.container.engine) as conn:
            query = select(t.jobs.c.job_id).where(t.jobs.c.tenant_id == self.tenant_id)
            return frozenset(int(job_id) for job_id in conn.execute(query).scalars())

    def __call__(self) -> None:
        self.seen_at_wake.append(self.job_ids())


COMBINATIONS = [
    *(pytest.param(("sqlite", name), id=f"sqlite-{name}") for name in STRATEGIES),
    pytest.param(("postgres", "threaded"), marks=pytest.mark.postgres, id="postgres-threaded"),
]


@pytest.fixture(params=COMBINATIONS)
def combination(request: pytest.FixtureRequest) -> tuple[str, str]:
    backend, strategy = request.param
    return str(backend), str(strategy)


@pytest.fixture
def backend(combination: tuple[str, str]) -> str:
    return combination[0]


@pytest.fixture
def strategy(combination: tuple[str, str]) -> str:
    return combination[1]


@pytest.fixture
def probe(container: Container) -> Iterator[WakeProbe]:
    made = WakeProbe(container, f"seam-{secrets.token_hex(4)}")
    yield made
    # The jobs name no real subject: no later test's worker may pick them up.
    with container.engine.begin() as conn:
        conn.execute(t.jobs.delete().where(t.jobs.c.tenant_id == made.tenant_id))


@pytest.fixture
def transactions(
    container: Container, strategy: str, probe: WakeProbe
) -> Iterator[ThreadedTransactions]:
    made = STRATEGIES[strategy](container.uow_factory, wake_worker=probe)
    yield made
    made.close()


def enqueue(uow: UnitOfWork) -> int:
    return uow.jobs.enqueue(kind="purge_profile", payload={"subject_id": 0}, now=NOW)


def test_a_write_that_enqueues_wakes_the_worker_once_after_its_commit(
    transactions: ThreadedTransactions, probe: WakeProbe
) -> None:
    def two_jobs(uow: UnitOfWork) -> list[int]:
        return [enqueue(uow), enqueue(uow)]

    job_ids = asyncio.run(transactions.write(probe.tenant_id, two_jobs))

    assert len(job_ids) == 2
    assert probe.seen_at_wake == [frozenset(job_ids)]


def test_writes_that_enqueue_nothing_or_fail_do_not_wake_the_worker(
    transactions: ThreadedTransactions, probe: WakeProbe
) -> None:
    def nothing(uow: UnitOfWork) -> str:
        return uow.tenant_id

    def enqueue_then_fail(uow: UnitOfWork) -> None:
        enqueue(uow)
        raise ValueError("refused after enqueueing")

    async def run() -> None:
        assert await transactions.write(probe.tenant_id, nothing) == probe.tenant_id
        with pytest.raises(ValueError, match="refused after enqueueing"):
            await transactions.write(probe.tenant_id, enqueue_then_fail)

    asyncio.run(run())

    assert probe.seen_at_wake == []
    assert probe.job_ids() == frozenset()


def test_concurrent_writes_each_committed_before_the_wake_that_follows_them(
    transactions: ThreadedTransactions, probe: WakeProbe, strategy: str
) -> None:
    async def burst() -> list[int]:
        return list(
            await asyncio.gather(*(transactions.write(probe.tenant_id, enqueue) for _ in range(40)))
        )

    job_ids = asyncio.run(burst())

    assert len(set(job_ids)) == 40
    assert probe.job_ids() == frozenset(job_ids)
    # Grouped commits may share a wake-up, so there may be fewer than 40; each job was
    # visible at a wake-up that followed its commit.
    assert 1 <= len(probe.seen_at_wake) <= 40
    assert frozenset().union(*probe.seen_at_wake) == frozenset(job_ids)
    if strategy == "threaded":
        assert len(probe.seen_at_wake) == 40


@pytest.mark.parametrize("point", [True, False], ids=["point", "scan"])
def test_reads_see_committed_writes_and_are_bound_to_their_tenant(
    transactions: ThreadedTransactions, probe: WakeProbe, point: bool
) -> None:
    def count(uow: UnitOfWork) -> int:
        return len(uow.job_views.states([job_id]))

    async def run() -> tuple[int, int]:
        mine = await transactions.read(probe.tenant_id, count, point=point)
        other = await transactions.read("another-tenant", count, point=point)
        return mine, other

    job_id = asyncio.run(transactions.write(probe.tenant_id, enqueue))

    assert asyncio.run(run()) == (1, 0)
