"""With real processes: every process of a deployment hashes under one key.

Without ``OBLIVIATE_SECRET_KEY`` each process used to invent its own key, so a suppression made
by one was not seen by another; setting a key later silently voided every suppression."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from obliviate.security import key_id
from obliviate.storage.deployment_keys import KEY_MISMATCH
from tests.support.databases import fresh_database
from tests.support.servers import Proc, Server, run_cli, wait_for

pytestmark = pytest.mark.system

NATIVE = {"Authorization": "Bearer demo-native-token", "Content-Type": "application/json"}
OLD, NEW, OTHER = "old-system-key", "new-system-key", "another-system-key"
REFUSED = f"Error: {KEY_MISMATCH}"


@pytest.fixture(autouse=True)
def _no_inherited_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # The processes inherit this environment: only what a test sets may reach them.
    for name in ("OBLIVIATE_SECRET_KEY", "OBLIVIATE_PREVIOUS_SECRET_KEYS", "OBLIVIATE_ENV"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(backend, tmp_path, request) as fresh:
        yield fresh


def _env(url: str, tmp_path: Path, key: str | None = None, *previous: str) -> dict[str, str]:
    env = {
        "OBLIVIATE_DATABASE_URL": url,
        "OBLIVIATE_DATA_DIR": str(tmp_path / "data"),
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }
    if key is not None:
        env["OBLIVIATE_SECRET_KEY"] = key
    if previous:
        env["OBLIVIATE_PREVIOUS_SECRET_KEYS"] = ",".join(previous)
    return env


def _refused_to_start(env: dict[str, str], *args: str) -> str:
    """Run a command that must refuse before doing anything: its error line."""
    done = run_cli(env, *args)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    return done.stderr.strip()


def _put(server: Server, uuid: str, email: str) -> tuple[int, Any]:
    return server.request(
        "PUT", f"/api/v1/profiles/{uuid}", {"identifiers": {"email": email}}, NATIVE
    )


def _assert_suppressed(server: Server, email: str) -> None:
    status, problem = _put(server, "someone-new", email)
    assert status == 409, problem
    assert problem["detail"] == "this email is suppressed and cannot be re-created"


def _suppress(server: Server, email: str) -> None:
    status, body = server.request(
        "POST", "/api/v1/suppressions", {"type": "email", "value": email}, NATIVE
    )
    assert status == 201, body


@pytest.mark.parametrize("backend", ["sqlite"])
def test_serve_and_a_separate_worker_without_a_key_agree_on_suppressions(
    url: str, tmp_path: Path
) -> None:
    env = _env(url, tmp_path)
    # Started together: both make or read the key file at the same moment.
    worker = Proc(["worker"], env, tmp_path / "worker.log")
    server = Server(env, tmp_path / "server.log", "--no-worker")
    try:
        assert _put(server, "leaving", "leaving@example.com")[0] == 201
        status, job = server.request(
            "POST",
            "/api/v1/deletions",
            {"subjects": [{"type": "email", "value": "leaving@example.com"}], "suppress": True},
            NATIVE,
        )
        assert status == 202, job

        def finished() -> bool:
            state = server.request("GET", f"/api/v1/deletions/{job['id']}", None, NATIVE)[1]
            return bool(state["state"] == "completed")

        # Only the worker process runs jobs here: the suppression is hashed there, and
        # checked here.
        wait_for(finished, "the worker process to run the deletion")
        _assert_suppressed(server, "leaving@example.com")
    finally:
        server.stop()
        worker.stop()
    assert [p.name for p in (tmp_path / "db").glob("*.key")] == ["secret.key"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_setting_a_key_later_on_a_key_file_install_refuses_to_start(
    url: str, tmp_path: Path
) -> None:
    server = Server(_env(url, tmp_path), tmp_path / "server.log")
    try:
        _suppress(server, "kept@example.com")
    finally:
        server.stop()
    later = _env(url, tmp_path, OTHER)
    assert _refused_to_start(later, "serve", "--port", "1") == REFUSED
    assert _refused_to_start(later, "worker") == REFUSED
    restarted = Server(_env(url, tmp_path), tmp_path / "server2.log")
    try:
        _assert_suppressed(restarted, "kept@example.com")
    finally:
        restarted.stop()


def test_a_process_with_a_different_key_refuses_to_start(url: str, tmp_path: Path) -> None:
    server = Server(_env(url, tmp_path, OLD), tmp_path / "server.log")
    try:
        other = _env(url, tmp_path, OTHER)
        assert _refused_to_start(other, "serve", "--port", "1") == REFUSED
        assert _refused_to_start(other, "worker") == REFUSED
        assert _refused_to_start(other, "purge", "--expired") == REFUSED
        # The one that started is unharmed.
        assert server.request("GET", "/readyz")[0] == 200
    finally:
        server.stop()


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_postgres_without_a_key_refuses_to_start(url: str, tmp_path: Path) -> None:
    assert _refused_to_start(_env(url, tmp_path), "serve", "--port", "1") == (
        "Error: invalid settings: Value error, OBLIVIATE_SECRET_KEY must be set when the "
        "database is not a SQLite file: every process of the deployment must hold the same key"
    )


def test_rotation_keeps_an_old_suppression_working(url: str, tmp_path: Path) -> None:
    old = Server(_env(url, tmp_path, OLD), tmp_path / "old.log")
    try:
        _suppress(old, "before@example.com")
    finally:
        old.stop()

    moved = _env(url, tmp_path, NEW, OLD)
    rotated = run_cli(moved, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.splitlines() == [
        f"secret key {key_id(NEW.encode())} is now the deployment's key",
        f"1 suppressions still need previous key {key_id(OLD.encode())}: "
        "keep it in OBLIVIATE_PREVIOUS_SECRET_KEYS",
    ]
    server = Server(moved, tmp_path / "new.log")
    try:
        _assert_suppressed(server, "before@example.com")
    finally:
        server.stop()

    assert _refused_to_start(_env(url, tmp_path, OLD), "worker") == REFUSED
    assert _refused_to_start(_env(url, tmp_path, NEW), "worker") == (
        f"Error: 1 suppressions were made under secret key {key_id(OLD.encode())}, which this "
        "process does not hold: keep that key in OBLIVIATE_PREVIOUS_SECRET_KEYS"
    )
