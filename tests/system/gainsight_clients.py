"""Two published third-party Gainsight PX clients, installed unmodified into cached venvs.

- Airbyte's ``airbyte-source-gainsight-px`` (a declarative manifest on airbyte-cdk 0.90). Its
  base URL ``https://api.aptrinsic.com/v1`` is hard-coded, so ``client_redirect/sitecustomize.py``
  (on ``PYTHONPATH``) rewrites the destination of each request to Obliviate; the package itself
  is untouched. airbyte-cdk 0.90 crashes on import under Python 3.11 (a dataclass with a mutable
  default), so it runs on Python 3.10.
- Meltano's Singer ``tap-gainsightpx`` (singer-sdk 0.13), whose ``api_url`` is configurable; it
  runs on the interpreter running the tests.

Each venv is built once per package version under ``$OBLIVIATE_CLIENT_CACHE`` (default
``~/.cache/obliviate-clients``), in a temporary directory renamed into place only once pip
succeeded, so an interrupted build never leaves half a venv behind. Console scripts hold the
absolute path of the directory they were built in, so the clients are run as
``<venv>/bin/python <venv>/bin/<script>``, which ignores the shebang.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REDIRECT_DIR = Path(__file__).parent / "client_redirect"
PIP_TIMEOUT_S = 900
CLIENT_TIMEOUT_S = 300
COMPLETE = ".obliviate-venv-complete"


@dataclass(frozen=True)
class ClientPackage:
    name: str
    version: str
    script: str

    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


AIRBYTE = ClientPackage("airbyte-source-gainsight-px", "0.1.14", "source-gainsight-px")
SINGER = ClientPackage("tap-gainsightpx", "1.0.8", "tap-gainsightpx")


def cache_root() -> Path:
    default = Path.home() / ".cache" / "obliviate-clients"
    return Path(os.environ.get("OBLIVIATE_CLIENT_CACHE", str(default)))


def python_version_of(python: str) -> tuple[int, int] | None:
    """``(major, minor)`` of an interpreter that runs, else None (a pyenv shim may not)."""
    try:
        probe = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    if probe.returncode != 0:
        return None
    major, minor = probe.stdout.split()
    return int(major), int(minor)


def find_python310() -> str | None:
    candidates = [shutil.which("python3.10")]
    for root in ("/root/.pyenv", str(Path.home() / ".pyenv")):
        candidates += sorted(glob.glob(f"{root}/versions/3.10*/bin/python3.10"), reverse=True)
    for candidate in candidates:
        if candidate and python_version_of(candidate) == (3, 10):
            return candidate
    return None


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(package: ClientPackage, python: str) -> Path:
    """The cached venv holding ``package`` for ``python``, built first if need be."""
    version = python_version_of(python)
    assert version is not None, f"{python} does not run"
    root = cache_root()
    target = root / f"{package.name}-{package.version}-py{version[0]}{version[1]}"
    if (target / COMPLETE).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        run_checked([python, "-m", "venv", str(building)])
        run_checked(
            [
                str(venv_python(building)),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                package.requirement(),
            ]
        )
        (building / COMPLETE).write_text(package.requirement() + "\n")
        try:
            building.rename(target)
        except OSError:
            # Another build finished first (or a stale unfinished copy is in the way).
            if not (target / COMPLETE).is_file():
                shutil.rmtree(target, ignore_errors=True)
                building.rename(target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def run_checked(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    assert done.returncode == 0, (args, done.stdout[-4000:], done.stderr[-4000:])


@dataclass(frozen=True)
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def messages(self) -> list[dict[str, Any]]:
        """Every JSON line of stdout (Airbyte and Singer both write one message a line)."""
        out = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                message: dict[str, Any] = json.loads(line)
                out.append(message)
        return out

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m.get("type") == kind]

    def ok(self) -> Run:
        assert self.returncode == 0, (self.args, self.stdout[-4000:], self.stderr[-4000:])
        return self


def run_client(
    venv: Path, package: ClientPackage, args: list[str], env: dict[str, str], cwd: Path, label: str
) -> Run:
    """Run a client in ``cwd``, to its end; its output kept there as ``label.stdout/.stderr``."""
    command = [str(venv_python(venv)), str(venv / "bin" / package.script), *args]
    done = subprocess.run(
        command,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )
    (cwd / f"{label}.stdout").write_text(done.stdout)
    (cwd / f"{label}.stderr").write_text(done.stderr)
    return Run(command, done.returncode, done.stdout, done.stderr)


def client_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a client: none of the test run's Python settings leak in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONNOUSERSITE"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return {**env, **(extra or {})}


def airbyte_env(base_url: str) -> dict[str, str]:
    return client_env({"PYTHONPATH": str(REDIRECT_DIR), "OBLIVIATE_BASE_URL": base_url.rstrip("/")})


def airbyte_records(run: Run) -> dict[str, list[dict[str, Any]]]:
    """Airbyte RECORD messages' data by stream: ``{"type": "RECORD", "record": {stream, data}}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for message in run.of_type("RECORD"):
        out.setdefault(str(message["record"]["stream"]), []).append(message["record"]["data"])
    return out


def singer_records(run: Run) -> dict[str, list[dict[str, Any]]]:
    """Singer RECORD messages by stream: ``{"type": "RECORD", "stream", "record"}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for message in run.of_type("RECORD"):
        out.setdefault(str(message["stream"]), []).append(message["record"])
    return out


def this_python() -> str:
    return sys.executable
