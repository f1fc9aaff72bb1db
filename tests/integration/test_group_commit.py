"""Group commit on a real SQLite file: many callers, one transaction, each answered after it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

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


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    migrate(engine)
    return engine


def _profiles(engine: Engine) -> int:
    with read_connection(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(t.profiles)).scalar_one())


def test_concurrent_writers_share_commits_and_an_error_undoes_only_its_own_writes(
    engine: Engine,
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
        calls = [committer.submit("t1", create(fail=i % 5 == 0)) for i in range(200)]
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
    assert _profiles(engine) == 160
    assert committer.units == 200
    # 200 callers in flight at once did not take 200 commits.
    assert committer.groups < committer.units


def test_a_lone_caller_is_answered_without_waiting_for_company(engine: Engine) -> None:
    committer = GroupCommitter(engine, vault=VAULT)

    async def one() -> int:
        return await committer.submit(
            "t1", lambda uow: uow.profiles.insert(attributes={}, now=NOW).profile_id
        )

    try:
        asyncio.run(asyncio.wait_for(one(), timeout=10))
    finally:
        committer.close()
    assert committer.groups == 1
    assert _profiles(engine) == 1


def test_a_group_logs_the_deletions_of_its_committed_units_and_none_of_a_failed_one(
    engine: Engine, tmp_path: Path
) -> None:
    forget_log = FileForgetLog(tmp_path / "forget.log")
    committer = GroupCommitter(engine, vault=VAULT, forget_log=forget_log)

    def forget(n: int) -> Callable[[SharedTransactionUnitOfWork], int]:
        def work(uow: SharedTransactionUnitOfWork) -> int:
            uow.forget(ForgetEntry(ForgetKind.HARD_DELETE, tenant_id="t1", at=n, profile_ids=(n,)))
            if n % 3 == 0:
                raise ValueError("refused after recording")
            return n

        return work

    async def burst() -> list[int | BaseException]:
        calls = [committer.submit("t1", forget(n)) for n in range(1, 61)]
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
