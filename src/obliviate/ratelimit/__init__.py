"""Per-tenant, per-surface rate limits on the ``limits`` library (memory:// or redis://)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
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
        self._storage = make_storage(url)
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {name: parse(p) for name, p in policies.items()}

    async def hit(self, surface: str, tenant_id: str) -> Decision:
        item = self._items[surface]
        allowed = await self._strategy.hit(item, surface, tenant_id)
        stats = await self._strategy.get_window_stats(item, surface, tenant_id)
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, item.amount, stats.remaining, reset_after)

    async def reset(self) -> None:
        await self._storage.reset()

    async def close(self) -> None:
        """Close a Redis client's connections on the loop that opened them."""
        # limits exposes no close(); its redis-py bridge keeps the client as `.storage`.
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
