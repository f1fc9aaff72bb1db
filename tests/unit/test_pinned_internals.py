"""The private parts of dependencies that Obliviate relies on are still there: an upgrade that
removes one fails here, by name, instead of silently changing behaviour."""

from __future__ import annotations

import asyncio

from limits.storage import MemoryStorage

from obliviate.ratelimit import RateLimiter


def test_limits_memory_storage_still_has_the_expiry_hooks_the_limiter_replaces() -> None:
    # The limiter turns off the timer thread per hit and sweeps by itself (ratelimit module).
    assert callable(getattr(MemoryStorage, "_MemoryStorage__schedule_expiry", None))
    assert callable(getattr(MemoryStorage, "_MemoryStorage__expire_events", None))


def test_the_in_memory_limiter_still_refuses_over_its_limit_across_a_sweep() -> None:
    limiter = RateLimiter("memory://", {"native": "2/minute"})

    async def hits() -> list[bool]:
        allowed = [(await limiter.hit("native", "t1")).allowed for _ in range(2)]
        limiter._memory_storage.sweep()  # the hook the limiter calls between hits
        allowed.append((await limiter.hit("native", "t1")).allowed)
        allowed.append((await limiter.hit("native", "t2")).allowed)
        return allowed

    assert asyncio.run(hits()) == [True, True, False, True]
