"""``/metrics``: what this process counted, and what the database says of the jobs.

Counters are per process (Prometheus adds them up across a deployment); the job figures are
read from the database on each scrape, so every process reports the same ones.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from anyio import to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.services.queue_port import JobCounts, JobQueue

_MODES = {
    ForgetKind.SOFT_DELETE: "soft",
    ForgetKind.HARD_DELETE: "hard",
    ForgetKind.DEVICE_DELETE: "device",
}


def deletion_mode(entry: ForgetEntry) -> str | None:
    """The mode a forget-log entry counts under, or None for what is not a deletion."""
    if entry.kind is ForgetKind.SUBJECTS_DELETE:
        return entry.mode or "hard"
    return _MODES.get(entry.kind)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class ServingMetrics:
    def __init__(self, *, token: str | None = None) -> None:
        self.registry = registry = CollectorRegistry()
        # Compared as digests, in constant time: the length of the token is not given away.
        self._token = None if token is None else _digest(token)
        self.requests = Counter(
            "obliviate_requests", "Requests served", ["surface", "status"], registry=registry
        )
        self.deletions = Counter(
            "obliviate_deletions",
            "Deletion requests acknowledged (committed and in the forget log), by surface and "
            "mode (soft, hard, device); a batch deletion counts once",
            ["surface", "mode"],
            registry=registry,
        )
        self.exports = Counter(
            "obliviate_exports",
            "Subject access exports asked for, by kind (profile: one person at once, batch: a "
            "job of several)",
            ["kind"],
            registry=registry,
        )
        self.jobs = Gauge(
            "obliviate_jobs", "Jobs of every tenant, by state", ["state"], registry=registry
        )
        self.queue_lag = Gauge(
            "obliviate_job_queue_lag_seconds",
            "How long the oldest queued job has been due without a worker taking it "
            "(0 when none is waiting): the purge lag",
            registry=registry,
        )
        self.erasure_pending = Gauge(
            "obliviate_erasure_pending",
            "Deletion jobs whose bytes are not yet erased on disk (purging, or waiting for a pass)",
            registry=registry,
        )
        self.erasure_lag = Gauge(
            "obliviate_erasure_lag_seconds",
            "Age of the oldest deletion whose erasure is not done (0 when none is pending)",
            registry=registry,
        )

    def count_deletions(self, surface: str, entries: Iterable[ForgetEntry]) -> None:
        for entry in entries:
            mode = deletion_mode(entry)
            if mode is not None:
                self.deletions.labels(surface, mode).inc()

    def allowed(self, request: Request) -> bool:
        if self._token is None:
            return True
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            _digest(given.strip()), self._token
        )

    async def render(
        self, request: Request, *, queue: JobQueue, counts: JobCounts, now_ms: int
    ) -> Response:
        if not self.allowed(request):
            return JSONResponse(
                {"error": "metrics need the bearer token set in OBLIVIATE_METRICS_TOKEN"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        backlog = await to_thread.run_sync(queue.erasure_backlog)
        census = await to_thread.run_sync(counts.census)
        self.erasure_pending.set(backlog.pending)
        oldest = backlog.oldest_created_at
        self.erasure_lag.set(0 if oldest is None else max(0, now_ms - oldest) / 1000)
        for state, count in census.by_state.items():
            self.jobs.labels(state).set(count)
        due = census.oldest_queued_due_at
        self.queue_lag.set(0 if due is None else max(0, now_ms - due) / 1000)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
