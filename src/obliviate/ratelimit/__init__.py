"""Per-tenant, per-surface rate limits on the ``limits`` library (memory:// or redis://)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits import strategies as sync_strategies
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import MemoryStorage, storage_from_string


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    # Seconds until a refused caller may try again (0 when allowed).
    reset_after: int


def _async_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


def make_storage(url: str) -> Storage:
    options: dict[str, str] = {}
    if url.startswith(("redis://", "rediss://", "async+redis")):
        # redis-py is already a dependency; coredis (the default) would be a second client.
        options["implementation"] = "redispy"
    storage = storage_from_string(_async_url(url), **options)
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
            self._memory_storage = MemoryStorage()
            self._memory = sync_strategies.MovingWindowRateLimiter(self._memory_storage)
        else:
            self._storage = make_storage(url)
            self._strategy = MovingWindowRateLimiter(self._storage)

    async def hit(self, surface: str, tenant_id: str) -> Decision:
        item = self._items[surface]
        if self._memory is not None:
            if self._memory.hit(item, surface, tenant_id):
                return Decision(True, item.amount, 0)
            stats = self._memory.get_window_stats(item, surface, tenant_id)
        else:
            if await self._strategy.hit(item, surface, tenant_id):
                return Decision(True, item.amount, 0)
            stats = await self._strategy.get_window_stats(item, surface, tenant_id)
        # The window is only read when a hit is refused: the answer then says when to retry.
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(False, item.amount, reset_after)

    async def reset(self) -> None:
        if self._memory is not None:
            self._memory_storage.reset()
        elif self._storage is not None:
            await self._storage.reset()

    async def close(self) -> None:
        """Close a Redis client's connections on the loop that opened them."""
        # limits exposes no close(); its redis-py bridge keeps the client as `.storage`.
        if self._storage is None:
            return
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
