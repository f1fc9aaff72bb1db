"""kill -9 the real server or worker right after it answered: nothing acknowledged is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from obliviate.storage import tables as t
from tests.factories import gainsight_event, gainsight_user, uid
from tests.support.rows import count_rows
from tests.support.servers import SYSTEM_KEY, Proc, Server, wait_for

pytestmark = pytest.mark.system
GS = {"X-APTRINSIC-API-KEY": "demo-gainsight-key", "Content-Type": "application/json"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "OBLIVIATE_DATABASE_URL": f"sqlite:///{tmp_path / 'obliviate.db'}",
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_GAINSIGHT_RATE_LIMIT": "100000/second",
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        "OBLIVIATE_PURGE_BATCH_SIZE": "20",
        "OBLIVIATE_JOB_LEASE": "2s",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_env(request: pytest.FixtureRequest, env: dict[str, str]) -> dict[str, str]:
    if request.param == "postgres":
        return {**env, "OBLIVIATE_DATABASE_URL": request.getfixturevalue("postgres_url")}
    return env


def test_soft_delete_is_in_force_after_kill_9_right_after_the_200(
    any_env: dict[str, str], tmp_path: Path
) -> None:
    env = any_env
    server = Server(env, tmp_path / "server.log")
    uuid = uid()
    try:
        assert server.request("POST", "/v1/users", gainsight_user(uuid), GS)[0] == 201
        assert server.request("POST", "/v1/events/custom", gainsight_event(uuid), GS)[0] == 201
        status, body = server.request("DELETE", f"/v1/users/{uuid}", None, GS)
        assert status == 200
        assert body["statusCode"] == "200"
    finally:
        server.kill9()

    restarted = Server(env, tmp_path / "server2.log")
    try:
        assert restarted.request("GET", f"/v1/users/{uuid}", None, GS)[0] == 404
        # Soft, not lost: an update within the window brings it back with its event.
        assert restarted.request("PUT", f"/v1/users/{uuid}", {"firstName": "B"}, GS)[0] == 204
        status, events = restarted.request(
            "GET", f"/v1/events/custom?filter=identifyId=={uuid}", None, GS
        )
        assert status == 200
        assert events["totalHits"] == 1
    finally:
        restarted.stop()


def test_hard_delete_acknowledged_before_kill_9_is_purged_after_restart(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = Server(env, tmp_path / "server.log", "--no-worker")
    uuid = uid()
    try:
        assert server.request("POST", "/v1/users", gainsight_user(uuid), GS)[0] == 201
        for _ in range(30):
            assert server.request("POST", "/v1/events/custom", gainsight_event(uuid), GS)[0] == 201
        assert server.request("DELETE", f"/v1/users/{uuid}?hardDelete=true", None, GS)[0] == 200
    finally:
        server.kill9()

    restarted = Server(env, tmp_path / "server2.log")
    try:
        assert restarted.request("GET", f"/v1/users/{uuid}", None, GS)[0] == 404
        done = select(func.count()).select_from(t.jobs).where(t.jobs.c.state == "completed")
        wait_for(lambda: count_rows(env, done) == 1, "the purge job to complete")
        assert count_rows(env, select(func.count()).select_from(t.events)) == 0
        assert count_rows(env, select(func.count()).select_from(t.receipts)) == 1
    finally:
        restarted.stop()


def test_killing_the_worker_mid_purge_loses_nothing_and_writes_one_receipt_each(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = Server(env, tmp_path / "server.log", "--no-worker")
    people = [uid() for _ in range(40)]
    try:
        for uuid in people:
            assert server.request("POST", "/v1/users", gainsight_user(uuid), GS)[0] == 201
            for _ in range(25):
                status = server.request("POST", "/v1/events/custom", gainsight_event(uuid), GS)[0]
                assert status == 201
        for uuid in people:
            assert server.request("DELETE", f"/v1/users/{uuid}?hardDelete=true", None, GS)[0] == 200

        completed = select(func.count()).select_from(t.jobs).where(t.jobs.c.state == "completed")
        worker = Proc(["worker"], env, tmp_path / "worker.log")
        wait_for(lambda: count_rows(env, completed) >= 5, "the worker to make progress")
        worker.kill9()
        assert count_rows(env, completed) < len(people), "the kill came too late to test anything"

        worker = Proc(["worker"], env, tmp_path / "worker2.log")
        try:
            wait_for(lambda: count_rows(env, completed) == len(people), "every job to complete", 60)
        finally:
            worker.stop()
        assert count_rows(env, select(func.count()).select_from(t.events)) == 0
        assert count_rows(env, select(func.count()).select_from(t.identifiers)) == 0
        assert count_rows(env, select(func.count()).select_from(t.profiles)) == 0
        receipts = select(func.count(func.distinct(t.receipts.c.job_id))).select_from(t.receipts)
        assert count_rows(env, receipts) == len(people)
        assert count_rows(env, select(func.count()).select_from(t.receipts)) == len(people)
    finally:
        server.stop()
