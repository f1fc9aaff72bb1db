from __future__ import annotations

import asyncio
import secrets
import threading
import time

import pytest

from obliviate.ratelimit import RateLimiter


def _admitted(limiter: RateLimiter, tenant: str, n: int) -> list[bool]:
    async def go() -> list[bool]:
        return [(await limiter.hit("gainsight", tenant)).allowed for _ in range(n)]

    return asyncio.run(go())


def test_memory_limit_admits_exactly_the_policy_per_tenant() -> None:
    limiter = RateLimiter("memory://", {"gainsight": "5/minute"})
    assert _admitted(limiter, "t1", 7) == [True] * 5 + [False] * 2
    assert _admitted(limiter, "t2", 5) == [True] * 5


def test_refusal_says_when_to_retry() -> None:
    limiter = RateLimiter("memory://", {"gainsight": "1/minute"})

    async def go() -> tuple[bool, int]:
        await limiter.hit("gainsight", "t")
        decision = await limiter.hit("gainsight", "t")
        return decision.allowed, decision.reset_after

    allowed, retry_after = asyncio.run(go())
    assert not allowed
    assert 1 <= retry_after <= 60


def _timers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_memory_hits_start_no_threads() -> None:
    limiter = RateLimiter("memory://", {"gainsight": "1000/second"})
    for timer in _timers():
        timer.join()  # limits' storage starts one at construction
    assert _admitted(limiter, "t", 50) == [True] * 50
    assert _timers() == []


def test_memory_windows_are_swept_of_expired_hits() -> None:
    limiter = RateLimiter("memory://", {"gainsight": "3/second"})
    assert _admitted(limiter, "t", 4) == [True] * 3 + [False]
    events = limiter._memory_storage.events
    assert sum(len(hits) for hits in events.values()) == 3
    deadline = time.monotonic() + 10
    # Poll until the window has passed and a sweep has run: the tenant is admitted again,
    # and only that one new hit is left in memory.
    while not _admitted(limiter, "t", 1)[0] or sum(len(h) for h in events.values()) != 1:
        assert time.monotonic() < deadline, "expired hits were never swept"
        limiter._next_sweep = 0.0
        time.sleep(0.05)


@pytest.mark.redis
def test_processes_sharing_redis_share_one_budget(redis_url: str) -> None:
    tenant = f"t-{secrets.token_hex(6)}"

    async def go() -> tuple[list[bool], list[bool]]:
        # Two limiters stand for two server processes: separate clients, one Redis.
        one = RateLimiter(redis_url, {"gainsight": "6/minute"})
        two = RateLimiter(redis_url, {"gainsight": "6/minute"})
        shared = [(await lim.hit("gainsight", tenant)).allowed for lim in [one, two] * 4]
        other = [(await two.hit("gainsight", f"{tenant}-b")).allowed for _ in range(6)]
        await one.close()
        await two.close()
        return shared, other

    shared, other = asyncio.run(go())
    assert shared == [True] * 6 + [False] * 2
    assert other == [True] * 6
