"""Two ``serve --no-worker`` and two ``worker`` processes on one database, and the chaos on them.

A killed process is restarted at once in its place (a server on the same port, so clients find
it again) and the chaos waits, by polling, until it is ready before the next kill.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, func, select

from obliviate.storage import tables as t
from tests.support.servers import Proc, Server, free_port, wait_for

SERVERS = 2
WORKERS = 2
WORKER_READY = "obliviate worker running"


def victims(kills: int, rng: random.Random) -> list[str]:
    """Which role each kill hits: servers and workers equally often, in a random order."""
    roles = ["server", "worker"] * (kills // 2) + [rng.choice(["server", "worker"])] * (kills % 2)
    rng.shuffle(roles)
    return roles


class Cluster:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started = 0
        self.kills: Counter[str] = Counter()
        self.ports = [free_port() for _ in range(SERVERS)]
        self.servers: list[Server] = []
        self.workers: list[Proc] = []
        try:
            self.servers.extend(self._server(i) for i in range(SERVERS))
            self.workers.extend(self._worker(i) for i in range(WORKERS))
        except BaseException:
            self.stop()  # none of them may outlive a failed start
            raise

    def _log(self, role: str) -> Path:
        self.started += 1
        return self.logs / f"{self.started:03d}-{role}.log"

    def _server(self, index: int) -> Server:
        log = self._log(f"server{index}")
        return Server(self.env, log, "--no-worker", port=self.ports[index])

    def _worker(self, index: int) -> Proc:
        log = self._log(f"worker{index}")
        worker = Proc(["worker"], self.env, log)

        def ready() -> bool:
            if worker.popen.poll() is not None:
                raise AssertionError(f"worker exited: {log.read_text()[-2000:]}")
            return WORKER_READY in log.read_text()

        wait_for(ready, f"worker {index} (log {log})")
        return worker

    def kill_one(self, role: str, rng: random.Random, engine: Engine) -> None:
        """kill -9 a random server or worker, start its replacement, wait until it is ready."""
        if role == "server":
            index = rng.randrange(SERVERS)
            self.servers[index].kill9()
            self.kills["server"] += 1
            self.servers[index] = self._server(index)
            return
        index = rng.randrange(WORKERS)
        worker = self.workers[index]
        if _caught_mid_job(worker, engine):
            self.kills["worker_mid_job"] += 1
        worker.kill9()
        self.kills["worker"] += 1
        self.workers[index] = self._worker(index)

    def restart_all(self) -> None:
        for proc in [*self.servers, *self.workers]:
            proc.kill9()
        self.servers = [self._server(i) for i in range(SERVERS)]
        self.workers = [self._worker(i) for i in range(WORKERS)]

    def stop(self) -> None:
        for proc in [*self.servers, *self.workers]:
            proc.stop()


def _caught_mid_job(worker: Proc, engine: Engine, patience_s: float = 2.0) -> bool:
    """Freeze the worker until it is caught part-way through a job (or patience runs out).

    A stopped process runs no more code, so what the database shows while it is stopped is
    exactly what the SIGKILL that follows leaves behind.
    """
    pid = worker.popen.pid
    deadline = time.monotonic() + patience_s
    while worker.popen.poll() is None and time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        os.waitpid(pid, os.WUNTRACED)  # returns once the worker is really stopped
        with engine.connect() as conn:
            held = conn.execute(
                select(func.count()).where(
                    t.jobs.c.state == "running", t.jobs.c.locked_by.like(f"%:{pid}:%")
                )
            ).scalar_one()
        if held:
            return True
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.02)
    return False
