"""Four real servers sharing one Redis admit 1,000 requests of a tenant a minute, no more."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.servers import SYSTEM_KEY, Server, create_tenant

pytestmark = [pytest.mark.system, pytest.mark.redis]
PROFILE = "/api/user/v1/profile"
UNKNOWN = {"identifiers": {"uuid": "nobody"}}


def _headers(partner: str, token: str) -> dict[str, str]:
    return {
        "X-PARTNER-NAME": partner,
        "X-REQUEST-TOKEN": token,
        "Content-Type": "application/json",
    }


def test_four_servers_sharing_redis_admit_exactly_the_limit_per_tenant(
    tmp_path: Path, redis_url: str
) -> None:
    env = {
        "OBLIVIATE_DATABASE_URL": f"sqlite:///{tmp_path / 'obliviate.db'}",
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_RATELIMIT_URL": redis_url,
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }
    other = create_tenant(env, "other")["insider"]
    servers: list[Server] = []
    try:
        # One after another: the first creates the demo tenant the others then find.
        for n in range(4):
            servers.append(Server(env, tmp_path / f"server{n}.log", "--no-worker"))
        demo = _headers("demo", "demo-request-token")

        def call(i: int) -> int:
            return servers[i % 4].request("POST", PROFILE, UNKNOWN, demo)[0]

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(call, range(1100)))
        admitted = [s for s in statuses if s != 429]
        assert set(admitted) == {404}, "an admitted request is answered normally"
        assert len(admitted) == 1000
        assert statuses.count(429) == 100

        limited = servers[2].request("POST", PROFILE, UNKNOWN, demo)
        assert limited == (429, {"error": "rejected: too many requests"})

        elsewhere = _headers(other["partner_name"], other["request_token"])
        for i in range(20):
            assert servers[i % 4].request("POST", PROFILE, UNKNOWN, elsewhere)[0] == 404
    finally:
        for server in servers:
            server.stop()
