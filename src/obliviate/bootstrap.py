"""The composition root: the only place that reads settings and wires the parts together."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette

from obliviate.http.app import build_app
from obliviate.http.runtime import Runtime, SystemClock
from obliviate.jobs.worker import Worker, WorkerConfig
from obliviate.ratelimit import RateLimiter
from obliviate.security import KeyedHasher
from obliviate.services.tenants import Authenticator
from obliviate.settings import Settings
from obliviate.storage.engine import make_engine, sqlite_path
from obliviate.storage.group_commit import GroupCommitter
from obliviate.storage.uow import SqlitePointReads, SqlUnitOfWorkFactory


def load_secret_key(settings: Settings) -> bytes:
    """The instance's hashing key: from settings, else a file made once and kept."""
    if settings.secret_key is not None:
        return settings.secret_key.encode()
    db_path = sqlite_path(settings.database_url)
    folder = db_path.parent if db_path is not None else Path(settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "secret.key"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return key_file.read_bytes().strip()


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow_factory: SqlUnitOfWorkFactory
    hasher: KeyedHasher
    clock: SystemClock


def build_container(settings: Settings) -> Container:
    engine = make_engine(settings.database_url)
    return Container(
        settings=settings,
        engine=engine,
        uow_factory=SqlUnitOfWorkFactory(engine),
        hasher=KeyedHasher(load_secret_key(settings)),
        clock=SystemClock(),
    )


def create_worker(container: Container) -> Worker:
    s = container.settings
    return Worker(
        engine=container.engine,
        uow_factory=container.uow_factory,
        hasher=container.hasher,
        clock=container.clock,
        config=WorkerConfig(
            poll_interval=s.worker_poll_interval,
            purge_interval=s.purge_interval,
            lease_ms=round(s.job_lease * 1000),
            max_attempts=s.job_max_attempts,
            backoff_base=s.job_backoff_base,
            backoff_max=s.job_backoff_max,
            purge_batch_size=s.purge_batch_size,
        ),
    )


def create_app(container: Container, *, worker: Worker | None = None) -> Starlette:
    s = container.settings
    runtime = Runtime(
        uow_factory=container.uow_factory,
        authenticator=Authenticator(
            container.engine,
            default_revival_window=s.revival_window,
            mass_delete_share=s.mass_delete_share,
            mass_delete_floor=s.mass_delete_floor,
        ),
        limiter=RateLimiter(
            s.ratelimit_url,
            {
                "gainsight": s.gainsight_rate_limit,
                "engagelab": s.engagelab_rate_limit,
                "insider": s.insider_rate_limit,
                "native": s.native_rate_limit,
            },
        ),
        hasher=container.hasher,
        clock=container.clock,
        max_body_bytes=s.max_body_bytes,
        auth_cache_ttl=s.auth_cache_ttl,
        on_job_enqueued=worker.wake.set if worker is not None else None,
        point_reads=(
            SqlitePointReads(container.engine) if sqlite_path(s.database_url) is not None else None
        ),
        group_commit=(
            GroupCommitter(container.engine)
            if s.group_commit and sqlite_path(s.database_url) is not None
            else None
        ),
    )
    return build_app(runtime, container.engine)


def start_worker_thread(worker: Worker) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="obliviate-worker", daemon=True)
    thread.start()
    return thread, stop
