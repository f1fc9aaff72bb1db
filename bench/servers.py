"""Start and stop the two servers under test as real subprocesses."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from erasure_timing import ERASURE_LOG_ENV

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
# The server stack, as `obliviate serve` passes it to uvicorn.run: httptools with its writes
# coalesced (one send per response), so the baselines run on the same stack as Obliviate.
HTTP_PROTOCOL = "obliviate.http.coalesce:CoalescingHttpToolsProtocol"
UVICORN_FLAGS = [
    "--loop",
    "uvloop",
    "--http",
    HTTP_PROTOCOL,
    "--no-access-log",
    "--log-level",
    "warning",
]
DB_FILE = "obliviate.db"
# Every purge's erasure pass runs at once (no batching delay), so the purge figures and the
# settle waits cover it, and a pass costs what it costs for one purge.
ERASURE_DELAY_S = "0"
WORKER_READY = "obliviate worker running"
STACK = "uvicorn loop=uvloop http=httptools (writes coalesced) access_log=off log_level=warning"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log_tail(self, lines: int = 40) -> str:
        self.log_file.flush()
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
            try:
                conn.request("GET", path)
                if conn.getresponse().status < 500:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    def wait_worker(self, timeout: float = 60.0) -> None:
        """Poll a worker's log until it says it runs."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if WORKER_READY in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def _start(
    name: str, args: list[str], env: dict[str, str], workdir: Path, *, listen: bool = True
) -> Server:
    """A subprocess logging to ``workdir/<name>.log``; with ``listen``, on a free port (a
    worker serves no HTTP: its port is 0)."""
    port = free_port() if listen else 0
    log_path = workdir / f"{name}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [*args, "--host", HOST, "--port", str(port)] if listen else args,
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return Server(name, port, process, log_path, log_file)


def obliviate_env(
    database_url: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of the run's Obliviate processes on one database."""
    env = dict(os.environ)
    env.update(
        {
            "OBLIVIATE_ENV": "development",
            "OBLIVIATE_DATABASE_URL": database_url,
            "OBLIVIATE_DATA_DIR": str(data_dir),
            "OBLIVIATE_RATELIMIT_URL": "memory://",
            "OBLIVIATE_GAINSIGHT_RATE_LIMIT": "100000000/second",
            "OBLIVIATE_ENGAGELAB_RATE_LIMIT": "100000000/second",
            "OBLIVIATE_INSIDER_RATE_LIMIT": "100000000/second",
            "OBLIVIATE_LOG_LEVEL": "WARNING",
            # Ignored by code from before the erasure pass (a --before server).
            "OBLIVIATE_ERASURE_DELAY": ERASURE_DELAY_S,
        }
    )
    env.update(extra_env or {})
    return env


def sqlite_env(workdir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    return obliviate_env(f"sqlite:///{workdir / DB_FILE}", workdir / "data", extra_env)


def start_serve(name: str, env: dict[str, str], workdir: Path, *extra_args: str) -> Server:
    """`obliviate serve --demo` with ``env``."""
    args = [sys.executable, "-m", "obliviate", "serve", "--demo", *extra_args]
    return _start(name, args, env, workdir)


def start_worker(
    env: dict[str, str], workdir: Path, name: str = "worker", *, erasure_log: Path | None = None
) -> Server:
    """`obliviate worker` with ``env`` (wait for it with ``wait_worker``). With
    ``erasure_log``, the same worker through erasure_timing.py, which times each erasure pass
    into that file."""
    if erasure_log is None:
        args = [sys.executable, "-m", "obliviate", "worker"]
    else:
        env = env | {ERASURE_LOG_ENV: str(erasure_log)}
        # -P: the bench's own folder stays off sys.path, so none of its modules shadows one.
        args = [sys.executable, "-P", str(BENCH_DIR / "erasure_timing.py")]
    return _start(name, args, env, workdir, listen=False)


def start_obliviate(
    workdir: Path,
    *,
    name: str = "obliviate",
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Server:
    """`obliviate serve --demo` on a fresh SQLite database inside ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    return start_serve(name, sqlite_env(workdir, extra_env), workdir, *extra_args)


def start_bare(workdir: Path, app: str = "bare_asgi:app", name: str = "bare-asgi") -> Server:
    """A baseline app (bare_asgi.py, or bare_starlette.py), under the same uvicorn stack."""
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        str(BENCH_DIR),
        *UVICORN_FLAGS,
    ]
    return _start(name, args, dict(os.environ), workdir)
