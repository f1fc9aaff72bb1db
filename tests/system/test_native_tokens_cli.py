"""With real processes: native tokens are listed and revoked from the command line,
`tenant rotate --surface native` revokes scoped tokens too, and a revocation reaches every running
server within the auth cache TTL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from obliviate.security import hash_secret
from tests.support.databases import fresh_database
from tests.support.servers import Server, run_cli, wait_for

pytestmark = pytest.mark.system

DEMO_TOKEN = "demo-native-token"
TTL_S = 1.0
# A revocation is seen once every cached answer has expired: the TTL, plus time to answer.
SEEN_WITHIN_S = TTL_S + 4.0
NOT_AUTHORISED = "a valid bearer token is required"


@pytest.fixture
def env(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    with fresh_database(backend, tmp_path, request) as url:
        yield {
            "OBLIVIATE_DATABASE_URL": url,
            "OBLIVIATE_SECRET_KEY": "tokens-test-key",
            "OBLIVIATE_DATA_DIR": str(tmp_path / "data"),
            "OBLIVIATE_AUTH_CACHE_TTL": f"{TTL_S}s",
            "OBLIVIATE_LOG_LEVEL": "WARNING",
        }


def _ok(env: dict[str, str], *args: str) -> str:
    done = run_cli(env, *args)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def _new_token(env: dict[str, str], scopes: str) -> str:
    made = json.loads(_ok(env, "tenant", "token", "create", "demo", "--scopes", scopes, "--json"))
    return str(made["token"])


def _listed(env: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(_ok(env, "tenant", "token", "list", "demo", "--json"))
    return rows


def _status(server: Server, token: str) -> tuple[int, Any]:
    return server.request("GET", "/api/v1/profiles", None, {"Authorization": f"Bearer {token}"})


def _works(server: Server, token: str) -> bool:
    return _status(server, token)[0] == 200


def _refused(server: Server, token: str) -> bool:
    status, problem = _status(server, token)
    if status == 200:
        return False
    assert status == 401, (status, problem)
    assert problem["detail"] == NOT_AUTHORISED, (status, problem)
    return True


def test_token_list_shows_id_scopes_created_and_last_use_never_the_secret(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = Server({**env, "OBLIVIATE_AUTH_CACHE_TTL": "60s"}, tmp_path / "server.log")
    try:
        reader = _new_token(env, "read,write")
        before = {row["id"]: row for row in _listed(env)}
        assert set(before) == {hash_secret(DEMO_TOKEN)[:16], hash_secret(reader)[:16]}
        assert before[hash_secret(reader)[:16]]["scopes"] == ["read", "write"]
        assert before[hash_secret(DEMO_TOKEN)[:16]]["scopes"] is None
        assert all(row["last_used_at"] is None for row in before.values())

        assert _works(server, reader)
        first = {row["id"]: row["last_used_at"] for row in _listed(env)}
        assert first[hash_secret(reader)[:16]] is not None
        assert first[hash_secret(DEMO_TOKEN)[:16]] is None
        # Within the cache period the database is not written again, however many requests.
        for _ in range(5):
            assert _works(server, reader)
        again = {row["id"]: row["last_used_at"] for row in _listed(env)}
        assert again == first
    finally:
        server.stop()

    text = _ok(env, "tenant", "token", "list", "demo")
    assert reader not in text
    assert DEMO_TOKEN not in text
    assert f"{hash_secret(reader)[:16]}  scopes=read,write  created=" in text
    assert f"{hash_secret(DEMO_TOKEN)[:16]}  scopes=all  created=" in text
    assert text.count("last_used=never") == 1


def test_a_revoked_token_stops_working_on_every_running_server_within_the_ttl(
    env: dict[str, str], tmp_path: Path
) -> None:
    servers = [Server(env, tmp_path / f"server{i}.log") for i in range(2)]
    try:
        token = _new_token(env, "read")
        kept = _new_token(env, "read")
        # Both servers now hold the token as good in their caches.
        assert all(_works(s, token) and _works(s, kept) for s in servers)

        revoked_at = time.monotonic()
        said = _ok(env, "tenant", "token", "revoke", "demo", hash_secret(token)[:16])
        assert said.strip() == f"token {hash_secret(token)[:16]} revoked; every process " + (
            f"refuses it within {TTL_S:g} s"
        )
        for server in servers:
            wait_for(partial(_refused, server, token), "the revocation", SEEN_WITHIN_S)
        assert time.monotonic() - revoked_at < SEEN_WITHIN_S
        assert all(_works(s, kept) for s in servers)
        assert hash_secret(token)[:16] not in {row["id"] for row in _listed(env)}
    finally:
        for server in servers:
            server.stop()

    again = run_cli(env, "tenant", "token", "revoke", "demo", hash_secret(token)[:16])
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"Error: tenant 'demo' has no active native token {hash_secret(token)[:16]}"
    )
    malformed = run_cli(env, "tenant", "token", "revoke", "demo", "abc")
    assert malformed.returncode == 1
    assert malformed.stderr.strip() == "Error: token_id: a token id is 16 hex digits"


def test_rotating_the_native_surface_revokes_every_native_token_scoped_ones_too(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = Server(env, tmp_path / "server.log")
    try:
        scoped = _new_token(env, "read,delete")
        assert _works(server, scoped)
        assert _works(server, DEMO_TOKEN)
        rotated = run_cli(env, "tenant", "rotate", "demo", "--surface", "native")
        assert rotated.returncode == 0, rotated.stderr
        fresh = json.loads(rotated.stdout)["native"]["token"]
        for old in (scoped, DEMO_TOKEN):
            wait_for(partial(_refused, server, old), "the rotation", SEEN_WITHIN_S)
        assert _works(server, fresh)
        assert [row["id"] for row in _listed(env)] == [hash_secret(fresh)[:16]]
    finally:
        server.stop()
