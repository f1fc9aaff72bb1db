"""Group commit on a real SQLite file and on PostgreSQL: many callers, one transaction, each
answered after it; on PostgreSQL a unit caught in a lock cycle with another group runs again
alone."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select, update

from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.storage import tables as t
from obliviate.storage.engine import make_engine, read_connection
from obliviate.storage.forget_log import FileForgetLog, read_entries
from obliviate.storage.group_commit import GroupCommitter
from obliviate.storage.migrate import migrate
from obliviate.storage.sealing import Vault
from obliviate.storage.uow import SharedTransactionUnitOfWork

NOW = 1_700_000_000_000
VAULT = Vault(b"v" * 32)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgres":
        engine = make_engine(str(request.getfixturevalue("postgres_url")))
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
        migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def tenant() -> str:
    # PostgreSQL's database is the session's: each test counts only its own tenant's rows.
    return f"gc-{uuid.uuid4().hex[:12]}"


def _profiles(engine: Engine, tenant: str) -> int:
    with read_connection(engine) as conn:
        query = select(func.count()).select_from(t.profiles)
        return int(conn.execute(query.where(t.profiles.c.tenant_id == tenant)).scalar_one())


def test_concurrent_writers_share_commits_and_an_error_undoes_only_its_own_writes(
    engine: Engine, tenant: str
) -> None:
    committer = GroupCommitter(engine, vault=VAULT)

    def create(fail: bool) -> Callable[[SharedTransactionUnitOfWork], int]:
        def work(uow: SharedTransactionUnitOfWork) -> int:
            profile = uow.profiles.insert(attributes={"n": 1}, now=NOW)
            if fail:
                raise ValueError("refused after writing")
            return profile.profile_id

        return work

    async def burst() -> list[int | BaseException]:
        calls = [committer.submit(tenant, create(fail=i % 5 == 0)) for i in range(200)]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    try:
        results = asyncio.run(burst())
    finally:
        committer.close()

    failed = [r for r in results if isinstance(r, ValueError)]
    ids = [r for r in results if isinstance(r, int)]
    assert len(failed) == 40
    assert len(ids) == 160
    assert len(set(ids)) == 160
    # Only the units that succeeded left rows behind, and every one of them is on disk.
    assert _profiles(engine, tenant) == 160
    assert committer.units == 200
    # 200 callers in flight at once did not take 200 commits.
    assert committer.groups < committer.units


def test_a_lone_caller_is_answered_without_waiting_for_company(engine: Engine, tenant: str) -> None:
    committer = GroupCommitter(engine, vault=VAULT)

    async def one() -> int:
        return await committer.submit(
            tenant, lambda uow: uow.profiles.insert(attributes={}, now=NOW).profile_id
        )

    try:
        asyncio.run(asyncio.wait_for(one(), timeout=10))
    finally:
        committer.close()
    assert committer.groups == 1
    assert _profiles(engine, tenant) == 1


def test_a_group_logs_the_deletions_of_its_committed_units_and_none_of_a_failed_one(
    engine: Engine, tenant: str, tmp_path: Path
) -> None:
    forget_log = FileForgetLog(tmp_path / "forget.log")
    committer = GroupCommitter(engine, vault=VAULT, forget_log=forget_log)

    def forget(n: int) -> Callable[[SharedTransactionUnitOfWork], int]:
        def work(uow: SharedTransactionUnitOfWork) -> int:
            uow.forget(
                ForgetEntry(ForgetKind.HARD_DELETE, tenant_id=tenant, at=n, profile_ids=(n,))
            )
            if n % 3 == 0:
                raise ValueError("refused after recording")
            return n

        return work

    async def burst() -> list[int | BaseException]:
        calls = [committer.submit(tenant, forget(n)) for n in range(1, 61)]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    try:
        results = asyncio.run(burst())
    finally:
        committer.close()
        forget_log.close()
    answered = sorted(r for r in results if isinstance(r, int))
    # Every caller answered has its entry in the log (durable before the answer); a unit
    # that failed left none.
    logged = sorted(e.profile_ids[0] for _, e in read_entries(tmp_path / "forget.log"))
    assert logged == answered == [n for n in range(1, 61) if n % 3]


def test_a_lock_cycle_between_two_groups_is_broken_and_its_victim_runs_again_alone(
    request: pytest.FixtureRequest, tenant: str
) -> None:
    """Two processes' groups each lock one row, then want the other's: on PostgreSQL one
    statement fails to break the cycle. Both callers still get their answer, and the victim's
    writes are in force: it ran again alone."""
    engine = make_engine(str(request.getfixturevalue("postgres_url")))
    first, second = GroupCommitter(engine, vault=VAULT), GroupCommitter(engine, vault=VAULT)
    ids = [1, 2]
    with engine.begin() as conn:
        for row in ids:
            conn.execute(
                t.profiles.insert().values(
                    tenant_id=tenant,
                    profile_id=row,
                    state="active",
                    attributes=b"",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    gates = {name: threading.Event() for name in ("first", "second", "a1", "b1")}
    runs: list[str] = []

    def touch(row: int, stamp: int, conn: Connection) -> None:
        conn.execute(
            update(t.profiles)
            .where(t.profiles.c.tenant_id == tenant, t.profiles.c.profile_id == row)
            .values(updated_at=stamp)
        )

    def gate(name: str) -> Callable[[SharedTransactionUnitOfWork], str]:
        def work(_: SharedTransactionUnitOfWork) -> str:
            assert gates[name].wait(10)
            return name

        return work

    def lock(
        name: str, row: int, after: str | None
    ) -> Callable[[SharedTransactionUnitOfWork], str]:
        def work(uow: SharedTransactionUnitOfWork) -> str:
            runs.append(name)
            if after is not None:
                assert gates[after].wait(10)
            touch(row, NOW + len(runs), uow._conn)
            if name in gates:
                gates[name].set()
            return name

        return work

    async def cycle() -> list[str]:
        # Each committer is held by a gate while the next two units queue behind it, so they
        # form one group: a1 + a2 on the first, b1 + b2 on the second.
        held = [first.submit(tenant, gate("first")), second.submit(tenant, gate("second"))]
        await asyncio.sleep(0)
        calls = [
            first.submit(tenant, lock("a1", ids[0], None)),
            first.submit(tenant, lock("a2", ids[1], "b1")),
            second.submit(tenant, lock("b1", ids[1], None)),
            second.submit(tenant, lock("b2", ids[0], "a1")),
        ]
        gates["first"].set()
        gates["second"].set()
        await asyncio.gather(*held)
        return list(await asyncio.wait_for(asyncio.gather(*calls), timeout=30))

    try:
        answered = asyncio.run(cycle())
    finally:
        first.close()
        second.close()
    assert answered == ["a1", "a2", "b1", "b2"]
    # One of a2 and b2 was the victim and ran twice; everyone else once.
    assert sorted(runs.count(n) for n in ("a2", "b2")) == [1, 2]
    assert runs.count("a1") == runs.count("b1") == 1
    with engine.connect() as conn:
        stamps = (
            conn.execute(select(t.profiles.c.updated_at).where(t.profiles.c.tenant_id == tenant))
            .scalars()
            .all()
        )
    engine.dispose()
    assert all(s > NOW for s in stamps)
