"""Races on PostgreSQL: 32 clients, 2 server processes, the same 50 people.

Creates, updates, soft and hard deletes collide. No request may fail with a 5xx, and the end
state must be one some serial order could produce: every identifier points at a live profile,
no hard-deleted profile came back, and every person reads as exactly what the store holds.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from obliviate.storage import tables as t
from obliviate.storage.engine import normalise_url
from tests.support import sealed
from tests.support.servers import SYSTEM_KEY, Server, create_tenant, wait_for

pytestmark = [pytest.mark.system, pytest.mark.postgres]
PEOPLE = [f"race-{i}" for i in range(50)]


def test_concurrent_writers_on_two_servers_leave_a_serial_state(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {
        "OBLIVIATE_DATABASE_URL": postgres_url,
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_GAINSIGHT_RATE_LIMIT": "1000000/second",
        "OBLIVIATE_MASS_DELETE_FLOOR": "1000000",
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }
    name = f"race{random.randrange(10**9)}"
    key = create_tenant(env, name)["gainsight"]["api_key"]
    headers = {"X-APTRINSIC-API-KEY": key, "Content-Type": "application/json"}
    servers = [Server(env, tmp_path / f"s{n}.log") for n in range(2)]
    try:

        def client(seed: int) -> list[int]:
            rng = random.Random(seed)
            statuses = []
            for _ in range(40):
                server = servers[rng.randrange(2)]
                uuid = rng.choice(PEOPLE)
                op = rng.random()
                if op < 0.35:
                    body = {"identifyId": uuid, "propertyKeys": ["k"], "firstName": str(seed)}
                    status = server.request("POST", "/v1/users", body, headers)[0]
                elif op < 0.6:
                    status = server.request("PUT", f"/v1/users/{uuid}", {"lastName": "x"}, headers)[
                        0
                    ]
                elif op < 0.8:
                    status = server.request("DELETE", f"/v1/users/{uuid}", None, headers)[0]
                else:
                    path = f"/v1/users/{uuid}?hardDelete=true"
                    status = server.request("DELETE", path, None, headers)[0]
                statuses.append(status)
            return statuses

        with ThreadPoolExecutor(max_workers=32) as pool:
            results = [s for batch in pool.map(client, range(32)) for s in batch]
        assert not [s for s in results if s >= 500], "a request failed with a 5xx"
        assert set(results) <= {200, 201, 204, 400, 404}

        engine = create_engine(normalise_url(postgres_url))
        try:
            with engine.connect() as conn:
                tenant_id = conn.execute(
                    select(t.tenants.c.tenant_id).where(t.tenants.c.name == name)
                ).scalar_one()

            def quiet() -> bool:
                with engine.connect() as conn:
                    pending = conn.execute(
                        select(t.jobs.c.job_id).where(
                            t.jobs.c.tenant_id == tenant_id,
                            t.jobs.c.state.in_(["queued", "running"]),
                        )
                    ).first()
                return pending is None

            wait_for(quiet, "the purges to finish", 60)
            with engine.connect() as conn:
                profiles = {
                    r.profile_id: r.state
                    for r in conn.execute(
                        select(t.profiles.c.profile_id, t.profiles.c.state).where(
                            t.profiles.c.tenant_id == tenant_id
                        )
                    )
                }
                idents = sealed.identifiers(conn, sealed.vault_of(conn, env), tenant_id)
                states = [
                    r.state
                    for r in conn.execute(
                        select(t.jobs.c.state).where(t.jobs.c.tenant_id == tenant_id)
                    )
                ]
        finally:
            engine.dispose()
        assert set(states) <= {"completed"}
        # Purged profiles are gone whole; the rest are active or soft-deleted.
        assert set(profiles.values()) <= {"active", "soft_deleted"}
        owners = {}
        for _id_type, value, profile_id in idents:
            assert profile_id in profiles, f"orphan identifier {value}"
            owners[value] = profile_id
        assert len(owners) == len(idents)
        for uuid in PEOPLE:
            status = servers[0].request("GET", f"/v1/users/{uuid}", None, headers)[0]
            live = uuid in owners and profiles[owners[uuid]] == "active"
            assert status == (200 if live else 404), uuid
    finally:
        for server in servers:
            server.stop()
