"""Real ``obliviate`` processes for system tests: the environment they run with, started,
waited on until ready, stopped or killed with -9."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    """Poll a condition until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._handle = log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "obliviate", *args],
            # Purges are erased at once unless a test asks for a delay.
            env={**os.environ, "OBLIVIATE_ERASURE_DELAY": "0", **env},
            stdout=self._handle,
            stderr=subprocess.STDOUT,
        )

    def kill9(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._handle.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._handle.close()


class Server(Proc):
    def __init__(
        self, env: dict[str, str], log: Path, *extra: str, port: int | None = None
    ) -> None:
        # A fixed port lets a restarted server take its predecessor's place for its clients.
        self.port = free_port() if port is None else port
        super().__init__(["serve", "--demo", "--port", str(self.port), *extra], env, log)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(self._ready, f"server on {self.base} (log {log})")

    def _ready(self) -> bool:
        if self.popen.poll() is not None:
            raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
        try:
            return self.request("GET", "/readyz")[0] == 200
        except OSError:
            return False

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            # An error answer holds its connection open too: closed here, not left to the GC.
            with err:
                raw = err.read()
                status = err.code
        return status, json.loads(raw) if raw else None


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """One ``obliviate`` command against ``env``, to its end; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "obliviate", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def create_tenant(env: dict[str, str], name: str) -> dict[str, Any]:
    """``obliviate tenant create NAME --json`` against ``env``'s database: the credentials."""
    created = run_cli(env, "tenant", "create", name, "--json")
    assert created.returncode == 0, (created.stdout, created.stderr)
    answer: dict[str, Any] = json.loads(created.stdout)
    return answer


# The key of the test suite's own containers too: on the session's PostgreSQL database the
# vault is made under the first key that opens it, and every later process needs it.
SYSTEM_KEY = "system-test-key"
BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


def server_env(
    database_url: str, *, rate_limit: str = "100000/second", **settings: str
) -> dict[str, str]:
    """The environment of a server on ``database_url`` that no rate limit slows down; more
    ``OBLIVIATE_*`` variables in ``settings``."""
    return {
        "OBLIVIATE_DATABASE_URL": database_url,
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_GAINSIGHT_RATE_LIMIT": rate_limit,
        "OBLIVIATE_ENGAGELAB_RATE_LIMIT": rate_limit,
        "OBLIVIATE_INSIDER_RATE_LIMIT": rate_limit,
        "OBLIVIATE_NATIVE_RATE_LIMIT": rate_limit,
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
        **settings,
    }


def database_url_for(backend: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """A SQLite file in ``folder``, or the session's PostgreSQL database."""
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{folder / 'obliviate.db'}"


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path, *extra: str) -> Iterator[Server]:
    """A server started with ``env`` (logging to ``log``), stopped afterwards."""
    running = Server(env, log, *extra)
    try:
        yield running
    finally:
        running.stop()
