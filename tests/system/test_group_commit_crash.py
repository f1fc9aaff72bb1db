"""kill -9 the server in the middle of a burst of soft deletes that group commit batches, on
SQLite and on PostgreSQL: every deletion it acknowledged is in force after the restart."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from obliviate.storage import tables as t
from obliviate.storage.engine import normalise_url
from tests.factories import gainsight_user, uid
from tests.support import sealed
from tests.support.servers import BACKENDS, SYSTEM_KEY, Server, database_url_for, wait_for

pytestmark = pytest.mark.system
GS = {
    "X-APTRINSIC-API-KEY": "demo-gainsight-key",
    "Content-Type": "application/json",
    "X-Obliviate-Confirm-Mass-Delete": "yes",
}
PEOPLE = 600
CLIENTS = 32


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_acknowledged_soft_delete_survives_kill_9_mid_burst(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {
        "OBLIVIATE_DATABASE_URL": database_url_for(backend, tmp_path, request),
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_GAINSIGHT_RATE_LIMIT": "1000000/second",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
        "OBLIVIATE_GROUP_COMMIT": "true",
    }
    server = Server(env, tmp_path / "server.log", "--no-worker")
    people = [uid() for _ in range(PEOPLE)]
    acknowledged: list[str] = []
    lock = threading.Lock()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            created = pool.map(
                lambda u: server.request("POST", "/v1/users", gainsight_user(u), GS)[0], people
            )
            assert set(created) == {201}

        def delete(uuid: str) -> None:
            try:
                status, _ = server.request("DELETE", f"/v1/users/{uuid}", None, GS)
            except OSError:
                return  # the server died before answering: not acknowledged
            if status == 200:
                with lock:
                    acknowledged.append(uuid)

        def done() -> int:
            with lock:
                return len(acknowledged)

        pool = ThreadPoolExecutor(CLIENTS)
        try:
            for uuid in people:
                pool.submit(delete, uuid)
            wait_for(lambda: done() >= PEOPLE // 4, "a quarter of the deletes to be answered")
            server.kill9()
        finally:
            pool.shutdown(wait=True)
    finally:
        server.kill9()

    assert len(acknowledged) < PEOPLE, "the kill came after the burst: nothing was tested"

    # On disk, straight after the crash, before any server touches the file again.
    engine = create_engine(normalise_url(env["OBLIVIATE_DATABASE_URL"]))
    try:
        with engine.connect() as conn:
            by_hash = dict(
                conn.execute(
                    select(t.identifiers.c.value_hash, t.profiles.c.state).join(
                        t.profiles,
                        (t.profiles.c.tenant_id == t.identifiers.c.tenant_id)
                        & (t.profiles.c.profile_id == t.identifiers.c.profile_id),
                    )
                ).all()
            )
            vault = sealed.vault_of(conn, env)
            # PostgreSQL's database is the session's: only this test's people are looked at.
            states = {u: by_hash.get(vault.lookup_hash("uuid", u)) for u in people}
    finally:
        engine.dispose()
    assert None not in states.values()
    assert {states[u] for u in acknowledged} == {"soft_deleted"}

    restarted = Server(env, tmp_path / "server2.log", "--no-worker")
    try:
        for uuid in acknowledged:
            assert restarted.request("GET", f"/v1/users/{uuid}", None, GS)[0] == 404
    finally:
        restarted.stop()
