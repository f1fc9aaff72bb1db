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
            self._memory_storage = _SweptMemoryStorage()
            self._memory = sync_strategies.MovingWindowRateLimiter(self._memory_storage)
            self._next_sweep = 0.0
        else:
            self._storage = make_storage(url)
            self._strategy = MovingWindowRateLimiter(self._storage)

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
