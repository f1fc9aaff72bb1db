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

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
# The server stack, as `obliviate serve` passes it to uvicorn.run.
UVICORN_FLAGS = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
]
DB_FILE = "obliviate.db"
STACK = "uvicorn loop=uvloop http=httptools access_log=off log_level=warning"


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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def _start(name: str, args: list[str], env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log_path = workdir / f"{name}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [*args, "--host", HOST, "--port", str(port)],
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return Server(name, port, process, log_path, log_file)


def obliviate_env(workdir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every Obliviate process of the run on ``workdir``'s database."""
    env = dict(os.environ)
    env.update(
        {
            "OBLIVIATE_ENV": "development",
            "OBLIVIATE_DATABASE_URL": f"sqlite:///{workdir / DB_FILE}",
            "OBLIVIATE_DATA_DIR": str(workdir / "data"),
            "OBLIVIATE_RATELIMIT_URL": "memory://",
            "OBLIVIATE_GAINSIGHT_RATE_LIMIT": "100000000/second",
            "OBLIVIATE_ENGAGELAB_RATE_LIMIT": "100000000/second",
            "OBLIVIATE_INSIDER_RATE_LIMIT": "100000000/second",
            "OBLIVIATE_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra_env or {})
    return env


def start_worker(workdir: Path) -> subprocess.Popen[bytes]:
    """`obliviate worker` on ``workdir``'s database (its output to worker.log there)."""
    with (workdir / "worker.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "obliviate", "worker"],
            env=obliviate_env(workdir),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def start_obliviate(
    workdir: Path,
    *,
    name: str = "obliviate",
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Server:
    """`obliviate serve --demo` on a fresh SQLite database inside ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = obliviate_env(workdir, extra_env)
    args = [sys.executable, "-m", "obliviate", "serve", "--demo", *extra_args]
    return _start(name, args, env, workdir)


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
