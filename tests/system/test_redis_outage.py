"""The rate limiter's Redis goes away and comes back: service pauses, then resumes by itself.

A real ``redis-server`` of the test's own, on its own port, killed with SIGKILL and started
again on the same port; a real ``obliviate serve`` process in front of it. While Redis is down
every surface answers its own 503 envelope with ``Retry-After`` and runs nothing, ``/readyz``
is 503 naming redis and ``/healthz`` stays 200; once Redis is back, service resumes by itself.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from starlette.testclient import TestClient

from obliviate.domain.errors import DependencyUnavailable
from obliviate.ratelimit import REDIS_TIMEOUT_S, RateLimiter
from tests.support.environment import unavailable
from tests.support.headers import tenant_headers
from tests.support.servers import SYSTEM_KEY, Server, create_tenant, free_port, wait_for

pytestmark = pytest.mark.redis
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisProcess:
    """One redis-server that keeps nothing on disk, on a port that outlives restarts."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        assert self.popen is not None, "redis-server exited"
        assert self.popen.poll() is None, "redis-server exited"
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    if not os.access(REDIS_SERVER, os.X_OK):
        unavailable("redis-server", FileNotFoundError(REDIS_SERVER))
    proc = RedisProcess(tmp_path)
    proc.start()
    yield proc
    proc.kill()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    data = None if body is None else orjson.dumps(body)
    sent = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(base + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw, got = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        with err:
            status, raw, got = err.code, err.read(), err.headers
    return Answer(
        status, {k.lower(): v for k, v in got.items()}, orjson.loads(raw) if raw else None
    )


@dataclass(frozen=True)
class SurfaceCall:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    # The status the call answers while Redis is up.
    normal: int


def surface_calls(creds: dict[str, Any]) -> dict[str, SurfaceCall]:
    signed = tenant_headers(creds)
    gs, el, ins, native = (signed[s] for s in ("gainsight", "engagelab", "insider", "native"))
    return {
        "gainsight": SurfaceCall("GET", "/v1/users", None, gs, 200),
        "engagelab": SurfaceCall("GET", "/v4/tags", None, el, 200),
        "insider": SurfaceCall(
            "POST", "/api/user/v1/profile", {"identifiers": {"uuid": "nobody"}}, ins, 404
        ),
        "native": SurfaceCall("GET", "/api/v1/profiles", None, native, 200),
    }


def answers_normally(base: str, c: SurfaceCall) -> bool:
    return call(base, c.method, c.path, c.body, c.headers).status == c.normal


def assert_unavailable(surface: str, answer: Answer) -> None:
    """The surface's own 503 envelope, naming redis, with a whole-second Retry-After."""
    assert answer.status == 503, f"{surface}: {answer.status} {answer.body}"
    retry_after = answer.headers.get("retry-after", "")
    assert retry_after.isdigit(), f"{surface}: {answer.headers}"
    assert int(retry_after) >= 1, f"{surface}: {answer.headers}"
    body = answer.body
    if surface == "gainsight":
        assert body == {
            "externalapierror": {
                "status": "SERVICE_UNAVAILABLE",
                "message": "Service temporarily unavailable (redis unreachable); retry later",
                "debugMessage": None,
                "subErrors": None,
            }
        }, body
    elif surface == "engagelab":
        assert body == {
            "error": {
                "code": 1000,
                "message": "service temporarily unavailable (redis unreachable), retry later",
            }
        }, body
    elif surface == "insider":
        assert body == {"error": "redis is unreachable: service unavailable"}, body
    else:
        assert answer.headers["content-type"] == "application/problem+json", answer.headers
        assert body == {
            "type": "https://obliviate.dev/problems/dependency-unavailable",
            "title": "Service Unavailable",
            "status": 503,
            "detail": f"redis is unreachable; retry after {retry_after} s",
            "dependency": "redis",
        }, body


@pytest.mark.system
def test_redis_outage_is_a_503_on_every_surface_and_service_resumes_by_itself(
    tmp_path: Path, redis_process: RedisProcess
) -> None:
    env = {
        "OBLIVIATE_DATABASE_URL": f"sqlite:///{tmp_path / 'obliviate.db'}",
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_RATELIMIT_URL": redis_process.url,
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }
    creds = create_tenant(env, "outage")
    calls = surface_calls(creds)
    server = Server(env, tmp_path / "server.log", "--no-worker")
    try:
        for surface, c in calls.items():
            answer = call(server.base, c.method, c.path, c.body, c.headers)
            assert answer.status == c.normal, f"{surface}: {answer.status} {answer.body}"

        redis_process.kill()
        wait_for(lambda: call(server.base, "GET", "/readyz").status == 503, "/readyz 503")
        ready = call(server.base, "GET", "/readyz")
        assert ready.body == {"status": "redis unreachable", "unreachable": ["redis"]}
        assert call(server.base, "GET", "/healthz").status == 200
        for surface, c in calls.items():
            assert_unavailable(surface, call(server.base, c.method, c.path, c.body, c.headers))
        # Fail closed: a write refused for want of a limit check is not run either.
        gs_headers = calls["gainsight"].headers
        new_user = {"identifyId": "during-outage", "propertyKeys": ["AP-1"]}
        assert_unavailable(
            "gainsight", call(server.base, "POST", "/v1/users", new_user, gs_headers)
        )

        redis_process.start()
        wait_for(lambda: call(server.base, "GET", "/readyz").status == 200, "/readyz 200")
        assert call(server.base, "GET", "/readyz").body == {"status": "ready"}
        for surface, c in calls.items():
            wait_for(partial(answers_normally, server.base, c), f"{surface} answering again")
        missing = call(server.base, "GET", "/v1/users/during-outage", headers=gs_headers)
        assert missing.status == 404, missing.body
    finally:
        server.stop()


# --- in process, on both backends --------------------------------------------------------------


@pytest.fixture
def settings_overrides(redis_process: RedisProcess) -> dict[str, Any]:
    return {"ratelimit_url": redis_process.url}


def test_redis_outage_on_each_backend_refuses_every_surface_and_recovers(
    client: TestClient, tenant: dict[str, Any], redis_process: RedisProcess
) -> None:
    calls = surface_calls(tenant)

    def answer(c: SurfaceCall) -> Answer:
        response = client.request(c.method, c.path, json=c.body, headers=c.headers)
        return Answer(response.status_code, dict(response.headers), response.json())

    for surface, c in calls.items():
        assert answer(c).status == c.normal, surface
    redis_process.kill()
    for surface, c in calls.items():
        assert_unavailable(surface, answer(c))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "redis unreachable", "unreachable": ["redis"]}
    assert client.get("/healthz").status_code == 200
    redis_process.start()
    wait_for(lambda: client.get("/readyz").status_code == 200, "/readyz 200")
    for surface, c in calls.items():
        wait_for(partial(lambda c: answer(c).status == c.normal, c), f"{surface} again")


# --- the limiter on its own -----------------------------------------------------------------


def test_limiter_fails_closed_while_redis_is_down_and_resumes_on_the_same_client(
    redis_process: RedisProcess,
) -> None:
    limiter = RateLimiter(redis_process.url, {"native": "1000/second"})

    async def scenario() -> None:
        assert (await limiter.hit("native", "t")).allowed
        redis_process.kill()
        for _ in range(3):
            with pytest.raises(DependencyUnavailable) as refused:
                await limiter.hit("native", "t")
            assert refused.value.dependency == "redis"
            assert refused.value.retry_after >= 1
        assert not await limiter.reachable()
        redis_process.start()
        # The PING that finds Redis back ends the outage hold: the next check goes through,
        # on connections the client makes again by itself (and with its scripts re-loaded).
        assert await limiter.reachable()
        assert (await limiter.hit("native", "t")).allowed
        await limiter.close()

    asyncio.run(scenario())


def test_limiter_does_not_hang_on_a_redis_that_stopped_answering(
    redis_process: RedisProcess,
) -> None:
    limiter = RateLimiter(redis_process.url, {"native": "1000/second"})
    assert redis_process.popen is not None
    pid = redis_process.popen.pid

    async def scenario() -> float:
        assert (await limiter.hit("native", "t")).allowed
        # Stopped, not killed: connections are accepted by the kernel and never answered.
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(DependencyUnavailable):
                await limiter.hit("native", "t")
            return time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
            await limiter.close()

    waited = asyncio.run(scenario())
    # One attempt and its one retry, each bounded by the socket timeout (plus scheduling).
    assert waited < 2 * REDIS_TIMEOUT_S + 1.0, waited
