"""A batch deletion run by a separate worker process follows a merge made after submission.

Real processes: ``serve --no-worker`` takes the batch and the merging upsert; an ``obliviate
worker`` started only afterwards runs the batch. It must end ``completed`` with the person found
and gone under every identifier, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.support.headers import surface_headers
from tests.support.servers import SYSTEM_KEY, Proc, Server, create_tenant, wait_for

pytestmark = pytest.mark.system

NO_SUCH_USER = {"error": "no such user for these identifiers: no data"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def system_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'obliviate.db'}"
    return {
        "OBLIVIATE_DATABASE_URL": url,
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_DATA_DIR": str(tmp_path),
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }


def test_a_separate_worker_deletes_the_person_a_merge_moved_after_submission(
    tmp_path: Path, system_env: dict[str, str]
) -> None:
    server = Server(system_env, tmp_path / "server.log", "--no-worker")
    worker: Proc | None = None
    try:
        creds = create_tenant(system_env, f"merge{secrets.token_hex(4)}")
        json_type = {"Content-Type": "application/json"}
        insider = {**surface_headers("insider", creds["insider"]), **json_type}
        native = {**surface_headers("native", creds["native"]), **json_type}

        def upsert(*users: dict[str, Any]) -> None:
            status, answer = server.request(
                "POST", "/api/user/v1/upsert", {"users": list(users)}, insider
            )
            assert status == 200, answer
            assert answer["data"]["fail"] == {}, answer

        upsert({"identifiers": {"uuid": "q-older"}, "attributes": {"name": "Q"}})
        upsert(
            {
                "identifiers": {"email": "moved@example.com"},
                "attributes": {"surname": "P"},
                "events": [{"event_name": "paid", "timestamp": "2026-11-01T10:00:00Z"}],
            }
        )
        status, job = server.request(
            "POST",
            "/api/v1/deletions",
            {"subjects": [{"type": "email", "value": "MOVED@example.com"}], "mode": "hard"},
            native,
        )
        assert status == 202, job
        upsert({"identifiers": {"uuid": "q-older", "email": "moved@example.com"}})

        worker = Proc(["worker"], system_env, tmp_path / "worker.log")

        def ended() -> bool:
            return server.request("GET", f"/api/v1/deletions/{job['id']}", None, native)[1][
                "state"
            ] in ("completed", "partial", "failed")

        wait_for(ended, "the batch to end", timeout=60)
        done = server.request("GET", f"/api/v1/deletions/{job['id']}", None, native)[1]
        assert done["state"] == "completed", done
        assert [s["outcome"] for s in done["subjects"]] == ["deleted"], done
        assert done["counts"]["events"] == 1, done
        for identifiers in ({"email": "moved@example.com"}, {"uuid": "q-older"}):
            status, answer = server.request(
                "POST", "/api/user/v1/profile", {"identifiers": identifiers}, insider
            )
            assert (status, answer) == (404, NO_SUCH_USER)
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
