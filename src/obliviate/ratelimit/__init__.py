"""Per-tenant, per-surface rate limits on the ``limits`` library (memory:// or redis://).

With a shared Redis the limiter fails closed: when Redis cannot be reached a check raises
``DependencyUnavailable`` (answered 503 with Retry-After on every surface) instead of either
crashing the request or letting unlimited traffic through. Each Redis call is bounded by a
socket timeout, and the client reconnects by itself once Redis is back.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import redis
from limits import RateLimitItem, parse
from limits import strategies as sync_strategies
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from obliviate.domain.errors import DependencyUnavailable

REDIS = "redis"
# Bounds every connect and every command: a Redis that stopped answering (not only one that
# refuses connections) costs a request at most this long per attempt, not forever.
REDIS_TIMEOUT_S = 0.5
# One immediate retry: the first command on a pooled connection Redis dropped (a restart)
# fails, and its retry on a fresh connection is what makes service resume by itself. redis-py's
# default (3 retries, exponential backoff up to 10 s) would hold each request for seconds.
REDIS_RETRIES = 1
# After a failed call the limiter refuses at once for this long instead of asking Redis again
# for every request; the next request after it (or a /readyz probe) tries Redis again.
OUTAGE_HOLD_S = 1.0
# What a refused caller is told to wait (Retry-After, whole seconds).
OUTAGE_RETRY_AFTER_S = 1
_REDIS_FAILURES = (StorageError, redis.RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    # Seconds until a refused caller may try again (0 when allowed).
    reset_after: int


# How often the in-memory windows are swept of expired hits.
SWEEP_S = 1.0


class _SweptMemoryStorage(MemoryStorage):
    """limits' in-memory storage, swept of expired hits by its owner instead of by a thread.

    MemoryStorage starts a new ``threading.Timer`` on every hit after its last sweep ended:
    about a hundred threads a second under load. Each start waits for the new thread to take
    the GIL, and with the group-commit thread busy that was 15-20% of a soft delete's time on
    the event loop (py-spy, bench soft delete row). Here no hit starts a thread;
    ``RateLimiter.hit`` sweeps at most every ``SWEEP_S``. Old hits only wait longer to be
    dropped: the moving window itself never counts them."""

    def _MemoryStorage__schedule_expiry(self) -> None:
        return None

    def sweep(self) -> None:
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _async_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


def make_storage(url: str) -> Storage:
    options: dict[str, Any] = {}
    if url.startswith(("redis://", "rediss://", "async+redis")):
        # redis-py is already a dependency; coredis (the default) would be a second client.
        options["implementation"] = "redispy"
        options["socket_timeout"] = REDIS_TIMEOUT_S
        options["socket_connect_timeout"] = REDIS_TIMEOUT_S
        options["retry"] = Retry(NoBackoff(), REDIS_RETRIES)
    # Storage failures arrive as limits' StorageError whatever the client library.
    storage = storage_from_string(_async_url(url), wrap_exceptions=True, **options)
    assert isinstance(storage, Storage)
    return storage


class RateLimiter:
    def __init__(self, url: str, policies: dict[str, str]) -> None:
        self._items: dict[str, RateLimitItem] = {name: parse(p) for name, p in policies.items()}
        # memory://: limits' synchronous in-memory storage, called on the event loop. Its
        # asyncio twin hands every expiry sweep to a thread, which cost more than the rest of
        # a GET request; a dict update needs no thread.
        self._memory: sync_strategies.MovingWindowRateLimiter | None = None
        self._storage: Storage | None = None
        if url.startswith("memory://"):
            self._memory_storage = _SweptMemoryStorage()
            self._memory = sync_strategies.MovingWindowRateLimiter(self._memory_storage)
            self._next_sweep = 0.0
        else:
            self._storage = make_storage(url)
            self._strategy = MovingWindowRateLimiter(self._storage)
        # monotonic() before which a shared storage counts as down (see OUTAGE_HOLD_S).
        self._down_until = 0.0

    @property
    def dependency(self) -> str | None:
        """The outside service the limiter needs, if any (for ``/readyz``)."""
        return None if self._storage is None else REDIS

    async def hit(self, surface: str, tenant_id: str) -> Decision:
        item = self._items[surface]
        if self._memory is not None:
            now = time.monotonic()
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_S
                self._memory_storage.sweep()
            if self._memory.hit(item, surface, tenant_id):
                return Decision(True, item.amount, 0)
            stats = self._memory.get_window_stats(item, surface, tenant_id)
        else:
            if time.monotonic() < self._down_until:
                raise DependencyUnavailable(REDIS, OUTAGE_RETRY_AFTER_S)
            try:
                if await self._strategy.hit(item, surface, tenant_id):
                    return Decision(True, item.amount, 0)
                stats = await self._strategy.get_window_stats(item, surface, tenant_id)
            except _REDIS_FAILURES as exc:
                # Fail closed: a check that could not be made admits nobody.
                self._down_until = time.monotonic() + OUTAGE_HOLD_S
                raise DependencyUnavailable(REDIS, OUTAGE_RETRY_AFTER_S) from exc
        # The window is only read when a hit is refused: the answer then says when to retry.
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(False, item.amount, reset_after)

    async def reset(self) -> None:
        if self._memory is not None:
            self._memory_storage.reset()
        elif self._storage is not None:
            await self._storage.reset()

    def _client(self) -> Any:
        # limits exposes neither ping nor close with our error handling; its redis-py bridge
        # keeps the client as `.storage`.
        return getattr(getattr(self._storage, "bridge", None), "storage", None)

    async def reachable(self) -> bool:
        """Whether the shared storage answers a PING now (always true for memory://). Used by
        ``/readyz``; a success also ends the outage hold, so traffic resumes at once."""
        if self._storage is None:
            return True
        client = self._client()
        if client is None:
            # Not redis-py (another limits storage URL): its own health check.
            return bool(await self._storage.check())
        try:
            # limits' own check() swallows every exception, cancellation included.
            await client.ping()
        except _REDIS_FAILURES:
            self._down_until = time.monotonic() + OUTAGE_HOLD_S
            return False
        self._down_until = 0.0
        return True

    async def close(self) -> None:
        """Close a Redis client's connections on the loop that opened them."""
        if self._storage is None:
            return
        client = self._client()
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
