"""What a surface handler needs at run time: auth, limits and the transactions seam."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from anyio import to_thread
from cachetools import TTLCache
from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.errors import RateLimited
from obliviate.domain.forgetting import ForgetEntry
from obliviate.domain.tenants import Caller
from obliviate.http.metrics import ServingMetrics
from obliviate.http.text import refuse_nul_in_url
from obliviate.ratelimit import RateLimiter
from obliviate.security import hash_secret
from obliviate.services.ports import SubjectHasher, Transactions, UnitOfWork
from obliviate.services.queue_port import JobCounts, JobQueue
from obliviate.services.tenants import Authenticator

T = TypeVar("T")

# The surface of the request this task serves: set where the request is routed, read where
# its write commits, so a deletion is counted under its surface without every handler
# passing it on.
_SURFACE: ContextVar[str] = ContextVar("obliviate_surface", default="none")


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


@dataclass
class Runtime:
    transactions: Transactions
    # Every tenant's jobs, for the erasure and job figures of /metrics.
    queue: JobQueue
    job_counts: JobCounts
    authenticator: Authenticator
    limiter: RateLimiter
    hasher: SubjectHasher
    clock: SystemClock
    max_body_bytes: int

    # Resolved callers by credential hash, briefly: saves a query and a thread hop on every
    # request; a revoked or rotated credential stops working within the TTL.
    auth_cache_ttl: float = 5.0
    metrics: ServingMetrics = field(default_factory=ServingMetrics)
    caller_cache: TTLCache[str, Caller] = field(init=False)

    def __post_init__(self) -> None:
        self.caller_cache = TTLCache(maxsize=10_000, ttl=self.auth_cache_ttl)

    async def authenticated(
        self, request: Request, cache_key: str, resolve: Callable[[], Caller]
    ) -> Caller:
        key = hash_secret(cache_key)
        caller = self.caller_cache.get(key) if self.auth_cache_ttl > 0 else None
        if caller is None:
            caller = await to_thread.run_sync(resolve)
            if self.auth_cache_ttl > 0:
                self.caller_cache[key] = caller
        request.scope.setdefault("state", {})["tenant"] = caller.tenant.name
        return caller

    async def check_rate(self, surface: str, caller: Caller) -> None:
        decision = await self.limiter.hit(surface, caller.tenant.tenant_id)
        if not decision.allowed:
            raise RateLimited(decision.reset_after, decision.limit)

    async def write(self, tenant_id: str, work: Callable[[UnitOfWork, int], T]) -> T:
        """Run ``work`` in a write transaction, with the time it runs at; return once its
        writes are committed and every deletion it acknowledges is in the forget log."""
        now = self.clock.now_ms
        forgotten: list[tuple[ForgetEntry, ...]] = [()]

        def run(uow: UnitOfWork) -> T:
            result = work(uow, now())
            # Replaced, not added to: a unit the group committer runs again counts once.
            forgotten[0] = uow.pending_forgotten()
            return result

        result = await self.transactions.write(tenant_id, run)
        self.metrics.count_deletions(_SURFACE.get(), forgotten[0])
        return result

    async def read(
        self, tenant_id: str, work: Callable[[UnitOfWork], T], *, point: bool = False
    ) -> T:
        """Run ``work`` in a read transaction; a ``point`` read looks up a bounded number of
        rows by key (see ``Transactions.read``)."""
        return await self.transactions.read(tenant_id, work, point=point)


CONFIRM_MASS_DELETE = "x-obliviate-confirm-mass-delete"


def mass_delete_confirmed(request: Request) -> bool:
    """The caller's explicit yes to a deletion burst past the mass-deletion guard."""
    return request.headers.get(CONFIRM_MASS_DELETE, "").strip().lower() == "yes"


def mark_surface(request: Request, surface: str) -> None:
    request.scope.setdefault("state", {})["surface"] = surface
    _SURFACE.set(surface)


Handler = Callable[[Request, Caller], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def surface_endpoint(
    rt: Runtime,
    *,
    surface: str,
    authenticate: Callable[[Request], Awaitable[Caller]],
    to_response: Callable[[Exception], Response],
) -> Callable[[Handler], Endpoint]:
    """Wrap a handler: authenticate, rate-limit, run, and map every error to the surface's
    own envelope. Nothing runs when authentication fails."""

    def wrap(handler: Handler) -> Endpoint:
        async def run(request: Request) -> Response:
            mark_surface(request, surface)
            try:
                caller = await authenticate(request)
                await rt.check_rate(surface, caller)
                # After authentication: nothing about a request is judged before its caller
                # is known.
                refuse_nul_in_url(request)
                return await handler(request, caller)
            except Exception as exc:
                return to_response(exc)

        return run

    return wrap
