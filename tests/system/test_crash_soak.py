"""Crash soak: a mixed workload from several clients, kill -9 again and again.

Client processes (``soak_workload``) create people, send events, soft- and hard-delete,
revive, delete identifiers, register, own and delete devices and submit batch deletions over
all four surfaces, spread over two server processes; two worker processes run the jobs. While
they work, a random server or worker is killed with SIGKILL (6 times; 20 with
``OBLIVIATE_SOAK_FULL=1``) and restarted. Then everything is restarted, every job must end, and
``soak_checks`` judges what survived. The figures go to ``OBLIVIATE_SOAK_REPORT`` (JSON, one
entry per backend; ``python -m tests.system.soak_report FILE`` puts them into the README), else
to the test's tmp directory. ``OBLIVIATE_SOAK_SEED`` replays a run's choices (not its timing).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select

from obliviate.storage import tables as t
from obliviate.storage.engine import normalise_url
from tests.support.servers import create_tenant, server_env, wait_for
from tests.system.soak_checks import CHECKS, Verdict, judge, unfinished_jobs
from tests.system.soak_cluster import SERVERS, WORKERS, Cluster, victims
from tests.system.soak_http import headers_for
from tests.system.soak_model import Ledger

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("OBLIVIATE_SOAK_FULL") == "1"
KILLS = 20 if FULL else 6
CLIENTS = 4 if FULL else 3
OPERATIONS_PER_CLIENT = 1500 if FULL else 500
# Generous ceilings; a healthy run takes a fraction of them.
WORKLOAD_DEADLINE_S = 1200 if FULL else 300
JOBS_DEADLINE_S = 180


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "postgres":
        return "postgres", str(request.getfixturevalue("postgres_url"))
    return "sqlite", f"sqlite:///{tmp_path / 'soak.db'}"


@pytest.fixture
def engine(backend: tuple[str, str]) -> Iterator[Engine]:
    built = create_engine(normalise_url(backend[1]))
    yield built
    built.dispose()


def _env(database_url: str) -> dict[str, str]:
    return server_env(
        database_url,
        rate_limit="1000000/second",
        OBLIVIATE_MASS_DELETE_FLOOR="1000000",
        # A killed worker's job is taken over soon; small purge steps make a kill mid-purge likely.
        OBLIVIATE_JOB_LEASE="2s",
        OBLIVIATE_JOB_BACKOFF_BASE="0.1",
        OBLIVIATE_JOB_BACKOFF_MAX="1",
        OBLIVIATE_PURGE_BATCH_SIZE="3",
    )


def _tenant_id(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(t.tenants.c.tenant_id).where(t.tenants.c.name == name)).scalar_one()
        )


class Journals:
    """Requests made so far, read incrementally from the clients' journals."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.offsets = [0] * len(paths)
        self.lines = 0

    def progress(self) -> int:
        for i, path in enumerate(self.paths):
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(self.offsets[i])
                chunk = handle.read()
            self.offsets[i] += len(chunk)
            self.lines += chunk.count(b"\n")
        return self.lines


def _start_clients(
    tmp_path: Path, cluster: Cluster, creds: dict[str, Any], prefix: str, seed: int
) -> tuple[list[subprocess.Popen[bytes]], list[Path], list[Path]]:
    clients, journals, ledgers = [], [], []
    for k in range(CLIENTS):
        journal, ledger = tmp_path / f"client{k}.jsonl", tmp_path / f"client{k}.ledger.json"
        config = {
            "client": k,
            "seed": seed * 100 + k,
            "prefix": prefix,
            "ports": cluster.ports,
            "credentials": creds,
            "operations": OPERATIONS_PER_CLIENT,
            "journal": str(journal),
            "ledger": str(ledger),
        }
        config_path = tmp_path / f"client{k}.json"
        config_path.write_text(json.dumps(config))
        log = (tmp_path / f"client{k}.log").open("wb")
        clients.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.system.soak_workload", str(config_path)],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()
        journals.append(journal)
        ledgers.append(ledger)
    return clients, journals, ledgers


def _report(
    backend: str,
    cluster: Cluster,
    ledgers: list[Ledger],
    verdict: Verdict,
    jobs: Counter[str],
    started: float,
    seed: int,
) -> dict[str, Any]:
    requests: dict[str, Counter[str]] = {}
    for ledger in ledgers:
        for kind, outcomes in ledger.tally.items():
            requests.setdefault(kind, Counter()).update(outcomes)
    return {
        "backend": backend,
        "form": "full" if FULL else "short",
        "seed": seed,
        "processes": {"servers": SERVERS, "workers": WORKERS, "clients": len(ledgers)},
        "kills": {k: cluster.kills[k] for k in ("server", "worker", "worker_mid_job")},
        "operations": sum(ledger.operations for ledger in ledgers),
        "requests": {kind: dict(c) for kind, c in sorted(requests.items())},
        "server_errors": sum(ledger.server_errors for ledger in ledgers),
        "jobs": dict(sorted(jobs.items())),
        "checks": {name: verdict.checked[name] for name in CHECKS},
        "violations": len(verdict.violations),
        "passed": not verdict.violations,
        "duration_s": round(time.monotonic() - started, 1),
        "finished_at": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def _write_report(result: dict[str, Any], default: Path) -> Path:
    path = Path(os.environ.get("OBLIVIATE_SOAK_REPORT") or default)
    merged: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    merged[result["backend"]] = result
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return path


def _job_states(engine: Engine, tenant_id: str) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.jobs.c.kind, t.jobs.c.state).where(t.jobs.c.tenant_id == tenant_id)
        )
        return Counter(f"{r.kind}:{r.state}" for r in rows)


def _chaos(
    cluster: Cluster,
    clients: list[subprocess.Popen[bytes]],
    journals: Journals,
    rng: random.Random,
    engine: Engine,
) -> None:
    """KILLS kills, spread over the workload by its progress, each after a random pause."""
    total = CLIENTS * OPERATIONS_PER_CLIENT

    def clients_done() -> bool:
        return all(c.poll() is not None for c in clients)

    for kill, role in enumerate(victims(KILLS, rng)):
        threshold = total * (kill + 1) / (KILLS + 1)

        def reached(threshold: float = threshold) -> bool:
            return journals.progress() >= threshold or clients_done()

        wait_for(reached, f"the workload to pass {threshold:.0f} requests", WORKLOAD_DEADLINE_S)
        time.sleep(rng.uniform(0.0, 0.3))
        cluster.kill_one(role, rng, engine)
    wait_for(clients_done, "the clients to finish", WORKLOAD_DEADLINE_S)


def test_acknowledged_work_survives_kill_9_of_servers_and_workers(
    backend: tuple[str, str], engine: Engine, tmp_path: Path
) -> None:
    started = time.monotonic()
    name, url = backend
    seed = int(os.environ.get("OBLIVIATE_SOAK_SEED") or random.randrange(10**6))
    rng = random.Random(seed)
    env = _env(url)
    tenant = f"soak{rng.randrange(10**9)}"
    creds = create_tenant(env, tenant)
    tenant_id = _tenant_id(engine, tenant)
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(env, logs)
    clients: list[subprocess.Popen[bytes]] = []
    try:
        clients, journal_paths, ledger_paths = _start_clients(
            tmp_path, cluster, creds, f"s{seed}", seed
        )
        _chaos(cluster, clients, Journals(journal_paths), rng, engine)
        failed = {k: c.returncode for k, c in enumerate(clients) if c.returncode}
        assert failed == {}, f"clients failed (logs in {tmp_path}): {failed}"
        ledgers = [Ledger.from_json(json.loads(p.read_text())) for p in ledger_paths]

        # Everything restarts (one more kill -9 of all four), then every job must end.
        cluster.restart_all()
        wait_for(
            lambda: unfinished_jobs(engine, tenant_id) == 0, "every job to end", JOBS_DEADLINE_S
        )
        headers = headers_for(creds)
        server = cluster.servers[0]

        def api(surface: str, method: str, path: str, body: Any) -> tuple[int, Any]:
            return server.request(method, path, body, headers[surface])

        verdict = judge(engine, env, tenant_id, api, ledgers)
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait(timeout=10)
        cluster.stop()
    result = _report(name, cluster, ledgers, verdict, _job_states(engine, tenant_id), started, seed)
    report = _write_report(result, tmp_path / "soak.json")
    shown = "\n".join(verdict.violations[:30])
    assert verdict.violations == [], (
        f"{len(verdict.violations)} violation(s), seed {seed}, report {report}, "
        f"journals in {tmp_path}:\n{shown}"
    )
    assert result["server_errors"] == 0, f"5xx answers from live servers; journals in {tmp_path}"
    assert cluster.kills["server"] + cluster.kills["worker"] == KILLS
