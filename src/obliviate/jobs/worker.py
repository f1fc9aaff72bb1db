"""The worker: runs due jobs and, every purge interval, starts purges of expired soft deletes."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import StatementError

from obliviate.domain.deletion import DELETION_BATCH, PURGE_DEVICE, PURGE_PROFILE
from obliviate.domain.exports import EXPORT_BATCH
from obliviate.services import batches, deletions, exports
from obliviate.services.ports import Clock, SubjectHasher, UnitOfWorkFactory
from obliviate.services.queue_port import ClaimedJob, ErasureBusy, ErasurePass, JobQueue

log = logging.getLogger("obliviate.worker")


def job_error(exc: Exception) -> str:
    """What a failed step leaves in the job row. A database error's text quotes the statement
    and its parameters, a person's identifiers among them, so only its classes are kept."""
    if isinstance(exc, StatementError):
        cause = type(exc.orig).__name__ if exc.orig is not None else "error"
        return f"{type(exc).__name__}: {cause}"
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    poll_interval: float
    purge_interval: float
    lease_ms: int
    max_attempts: int
    backoff_base: float
    backoff_max: float
    purge_batch_size: int
    # How long a purged job may wait for its erasure pass (one pass covers all waiting).
    erasure_delay_ms: int = 0


class Worker:
    def __init__(
        self,
        *,
        queue: JobQueue,
        eraser: ErasurePass,
        uow_factory: UnitOfWorkFactory,
        hasher: SubjectHasher,
        clock: Clock,
        config: WorkerConfig,
    ) -> None:
        self._queue = queue
        self._eraser = eraser
        # Purged jobs a pass of this worker has covered since (their rows were gone, and
        # committed, before the pass began): each is finished without a pass of its own.
        self._covered: set[tuple[str, int]] = set()
        self._uow = uow_factory
        self._hasher = hasher
        self._clock = clock
        self._config = config
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._handlers: dict[str, Callable[[ClaimedJob], None]] = {
            PURGE_PROFILE: self._purge,
            PURGE_DEVICE: self._purge,
            DELETION_BATCH: self._batch,
            EXPORT_BATCH: self._export,
        }
        self._next_sweep = 0.0
        self.wake = threading.Event()

    def run_once(self) -> bool:
        """Claim and run one due job. Returns False when none was due."""
        now = self._clock.now_ms()
        job = self._queue.claim(worker_id=self.worker_id, now=now, lease_ms=self._config.lease_ms)
        if job is None:
            return False
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            handler(job)
        except Exception as exc:
            state = self._queue.retry_or_fail(
                job,
                worker_id=self.worker_id,
                error=job_error(exc),
                now=self._clock.now_ms(),
                max_attempts=self._config.max_attempts,
                backoff_base=self._config.backoff_base,
                backoff_max=self._config.backoff_max,
            )
            log.warning(
                "job failed",
                extra={
                    "job_id": job.job_id,
                    "kind": job.kind,
                    "state": state,
                    "error": type(exc).__name__,
                },
            )
        return True

    def sweep_expired(self) -> int:
        """Start purges for soft deletes whose revival window has ended (all tenants)."""
        now = self._clock.now_ms()
        started = 0
        for tenant_id in self._queue.tenants_with_expired_profiles(now=now):
            with self._uow(tenant_id) as uow:
                started += deletions.purge_expired(uow, now=now, hasher=self._hasher, limit=500)
                uow.commit()
        return started

    def drain(self) -> int:
        """Run jobs until none is due (tests and the CLI's ``purge --expired`` use this)."""
        ran = 0
        while self.run_once():
            ran += 1
        return ran

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if time.monotonic() >= self._next_sweep:
                    self._next_sweep = time.monotonic() + self._config.purge_interval
                    self.sweep_expired()
                if self.run_once():
                    continue
            except Exception:
                # A database hiccup must not kill the worker; the job's lease brings it back.
                log.exception("worker loop error")
            self.wake.wait(self._config.poll_interval)
            self.wake.clear()

    def _purge(self, job: ClaimedJob) -> None:
        while True:
            now = self._clock.now_ms()
            with self._uow(job.tenant_id) as uow:
                step = deletions.purge_step(
                    uow,
                    job_id=job.job_id,
                    payload=job.payload,
                    batch_size=self._config.purge_batch_size,
                    now=now,
                    worker_id=self.worker_id,
                    # Each step extends the lease as it records progress: one commit (one
                    # fsync) per batch instead of two.
                    lease_until=now + self._config.lease_ms,
                )
                uow.commit()
            if step.progress is deletions.PurgeProgress.ENDED:
                return
            if step.progress is deletions.PurgeProgress.ERASE:
                break
        self._erase(job, purged_at=step.purged_at or 0)

    def _erase(self, job: ClaimedJob, *, purged_at: int) -> None:
        """Make the purged rows' bytes unreadable on disk, then complete the job."""
        key = (job.tenant_id, job.job_id)
        now = self._clock.now_ms()
        if key not in self._covered:
            due = purged_at + self._config.erasure_delay_ms
            if now < due:
                # Wait, so one pass covers every purge of the moment.
                self._queue.defer(job, worker_id=self.worker_id, until=due, now=now)
                return
            # Read before the pass starts: every purge listed is committed, so the pass
            # covers it.
            waiting = self._queue.purged_awaiting_erasure()
            try:
                self._eraser.erase()
            except ErasureBusy as busy:
                # Why, for whoever watches the erasure lag grow (no person data in it).
                log.warning("erasure pass busy", extra={"job_id": job.job_id, "reason": str(busy)})
                retry = now + max(50, round(self._config.poll_interval * 1000))
                self._queue.defer(job, worker_id=self.worker_id, until=retry, now=now)
                return
            self._covered = waiting | {key}
        with self._uow(job.tenant_id) as uow:
            deletions.finish_erasure(
                uow,
                job_id=job.job_id,
                payload=job.payload,
                worker_id=self.worker_id,
                now=self._clock.now_ms(),
            )
            uow.commit()
        self._covered.discard(key)

    def _batch(self, job: ClaimedJob) -> None:
        while True:
            with self._uow(job.tenant_id) as uow:
                step = batches.dispatch_step(
                    uow,
                    tenant_id=job.tenant_id,
                    job_id=job.job_id,
                    payload=job.payload,
                    worker_id=self.worker_id,
                    now=self._clock.now_ms(),
                    hasher=self._hasher,
                )
                uow.commit()
            if step == "done":
                return
            now = self._clock.now_ms()
            if step == "wait":
                # Its purge jobs are still running: look again shortly, without holding a slot.
                wait_ms = max(50, round(self._config.poll_interval * 1000))
                self._queue.defer(job, worker_id=self.worker_id, until=now + wait_ms, now=now)
                return
            if not self._queue.heartbeat(
                job, worker_id=self.worker_id, now=now, lease_ms=self._config.lease_ms
            ):
                return

    def _export(self, job: ClaimedJob) -> None:
        # One transaction: resolving a thousand subjects is a few thousand reads by key. The
        # documents themselves are rendered when downloaded, not here.
        with self._uow(job.tenant_id) as uow:
            exports.run_export_job(
                uow,
                job_id=job.job_id,
                payload=job.payload,
                worker_id=self.worker_id,
                now=self._clock.now_ms(),
            )
            uow.commit()
