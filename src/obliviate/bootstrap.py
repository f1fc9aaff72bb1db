"""The composition root: the only place that reads settings and wires the parts together."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from obliviate.http.app import build_app
from obliviate.http.dispatch import LeanApp
from obliviate.http.metrics import ServingMetrics
from obliviate.http.runtime import Runtime, SystemClock
from obliviate.jobs.worker import Worker, WorkerConfig
from obliviate.ratelimit import RateLimiter
from obliviate.security import DeploymentKeys, KeyedHasher
from obliviate.services.ports import Transactions
from obliviate.services.tenants import Authenticator
from obliviate.settings import Settings
from obliviate.storage.deployment_keys import check_key, load_vault
from obliviate.storage.engine import make_engine, sqlite_path
from obliviate.storage.erasure import Eraser
from obliviate.storage.forget_log import FileForgetLog
from obliviate.storage.job_census import SqlJobCensus
from obliviate.storage.migrate import migrate
from obliviate.storage.repositories.jobs import SqlJobQueue
from obliviate.storage.sealing import Vault
from obliviate.storage.tenant_store import SqlTenants
from obliviate.storage.transactions import (
    PostgresGroupCommitTransactions,
    SqliteGroupCommitTransactions,
    SqliteTransactions,
    ThreadedTransactions,
)
from obliviate.storage.uow import SqlUnitOfWorkFactory


def _key_file_key(key_file: Path) -> bytes:
    """The key in ``key_file``, made once. Processes starting together all read the same one:
    the file appears by a hard link of a complete temporary file, never empty or half written."""
    try:
        return key_file.read_bytes().strip()
    except FileNotFoundError:
        pass
    fd, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=".secret.key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        # Another process may have made it first: then use theirs.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, key_file)
    finally:
        os.unlink(temporary)
    return key_file.read_bytes().strip()


def load_secret_key(settings: Settings) -> bytes:
    """The deployment's hashing key: ``OBLIVIATE_SECRET_KEY``, else (only a SQLite install,
    as settings validation enforces) a file made once beside the database and kept."""
    if settings.keys.current is not None:
        return settings.keys.current.get_secret_value().encode()
    db_path = sqlite_path(settings.storage.database_url)
    folder = db_path.parent if db_path is not None else Path(settings.storage.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return _key_file_key(folder / "secret.key")


def load_keys(settings: Settings) -> DeploymentKeys:
    previous = tuple(k.get_secret_value().encode() for k in settings.keys.previous)
    return DeploymentKeys(current=load_secret_key(settings), previous=previous)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    hasher: KeyedHasher
    clock: SystemClock
    keys: DeploymentKeys
    _uow_factory: SqlUnitOfWorkFactory | None = None

    @property
    def tenant_store(self) -> SqlTenants:
        return SqlTenants(self.engine)

    @property
    def vault(self) -> Vault:
        return self.uow_factory.vault

    @property
    def uow_factory(self) -> SqlUnitOfWorkFactory:
        """Units of work on the migrated database (the vault is read, or made, on first use)."""
        if self._uow_factory is None:
            vault = load_vault(self.engine, self.keys, now=int(time.time() * 1000))
            self._uow_factory = SqlUnitOfWorkFactory(
                self.engine, vault=vault, key_id=self.keys.current_id
            )
        return self._uow_factory

    def use_keys(self, keys: DeploymentKeys) -> None:
        self.keys = keys
        self.hasher = keys.hasher()
        self._uow_factory = None


def build_container(settings: Settings) -> Container:
    engine = make_engine(settings.storage.database_url)
    keys = load_keys(settings)
    return Container(
        settings=settings, engine=engine, hasher=keys.hasher(), clock=SystemClock(), keys=keys
    )


def open_deployment(settings: Settings) -> Container:
    """A container for a process about to work on the database: schema migrated, and this
    process's key checked against the one the database was created with (raises
    ``DeploymentKeyError``: a process with another key would accept suppressed identifiers)."""
    container = build_container(settings)
    try:
        migrate(container.engine, keys=container.keys)
        keys = check_key(container.engine, container.keys, now=int(time.time() * 1000))
        if keys != container.keys:
            container.use_keys(keys)
        container.uow_factory  # noqa: B018 - opens the vault now: a wrong key fails here
    except BaseException:
        container.engine.dispose()
        raise
    return container


def create_worker(container: Container) -> Worker:
    s = container.settings
    return Worker(
        queue=SqlJobQueue(container.engine),
        eraser=Eraser(container.engine),
        uow_factory=container.uow_factory,
        hasher=container.hasher,
        clock=container.clock,
        config=WorkerConfig(
            poll_interval=s.worker.poll_interval,
            purge_interval=s.deletion.purge_interval,
            lease_ms=round(s.worker.lease * 1000),
            max_attempts=s.worker.max_attempts,
            backoff_base=s.worker.backoff_base,
            backoff_max=s.worker.backoff_max,
            purge_batch_size=s.deletion.purge_batch_size,
            erasure_delay_ms=round(s.deletion.erasure_delay * 1000),
        ),
    )


def create_transactions(container: Container, *, worker: Worker | None) -> Transactions:
    """SQLite: reads by key on the event loop, writes sharing one COMMIT (unless group commit
    is turned off); PostgreSQL: each unit of work in a thread, in a transaction of its own."""
    storage = container.settings.storage
    forget_log = FileForgetLog(storage.forget_log_path)
    wake_worker = worker.wake.set if worker is not None else (lambda: None)
    if sqlite_path(storage.database_url) is None:
        kind: type[ThreadedTransactions] = (
            PostgresGroupCommitTransactions if storage.group_commit else ThreadedTransactions
        )
    elif storage.group_commit:
        kind = SqliteGroupCommitTransactions
    else:
        kind = SqliteTransactions
    return kind(container.uow_factory, forget_log=forget_log, wake_worker=wake_worker)


def create_app(container: Container, *, worker: Worker | None = None) -> LeanApp:
    s = container.settings
    runtime = Runtime(
        transactions=create_transactions(container, worker=worker),
        queue=SqlJobQueue(container.engine),
        job_counts=SqlJobCensus(container.engine),
        metrics=ServingMetrics(
            token=None if s.http.metrics_token is None else s.http.metrics_token.get_secret_value()
        ),
        authenticator=Authenticator(
            container.tenant_store,
            default_revival_window=s.deletion.revival_window,
            mass_delete_share=s.guard.mass_delete_share,
            mass_delete_floor=s.guard.mass_delete_floor,
            merge_limit=s.guard.merge_limit,
            refuse_demo=s.env == "production",
            last_used_every=s.http.auth_cache_ttl,
        ),
        limiter=RateLimiter(
            s.rate_limits.url,
            {
                "gainsight": s.rate_limits.gainsight,
                "engagelab": s.rate_limits.engagelab,
                "insider": s.rate_limits.insider,
                "native": s.rate_limits.native,
            },
        ),
        hasher=container.hasher,
        clock=container.clock,
        max_body_bytes=s.http.max_body_bytes,
        auth_cache_ttl=s.http.auth_cache_ttl,
    )
    return build_app(runtime)


def start_worker_thread(worker: Worker) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="obliviate-worker", daemon=True)
    thread.start()
    return thread, stop
