"""Exports through a real server process and the real command line, on both backends: the
document streams (chunked over HTTP) and ``obliviate export`` writes the same document."""

from __future__ import annotations

import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import Server, create_tenant, run_cli

pytestmark = pytest.mark.system

EVENTS = 2500


def _person(server: Server, token: str, uuid: str) -> None:
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = {"attributes": {"name": "Ada"}, "identifiers": {"email": f"{uuid}@example.com"}}
    status, _ = server.request("PUT", f"/api/v1/profiles/{uuid}", body, auth)
    assert status == 201
    for start in range(0, EVENTS, 1000):
        batch = [
            {"name": "seen", "timestamp": n, "properties": {"n": n}}
            for n in range(start, min(EVENTS, start + 1000))
        ]
        status, _ = server.request(
            "POST", f"/api/v1/profiles/{uuid}/events", {"events": batch}, auth
        )
        assert status == 201


def _stream(server: Server, token: str, uuid: str) -> tuple[dict[str, str], Any]:
    req = urllib.request.Request(
        f"{server.base}/api/v1/profiles/{uuid}/export",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        # Header names as the server sent them, in lower case.
        return {k.lower(): v for k, v in resp.headers.items()}, json.loads(resp.read())


def test_the_export_streams_from_a_real_server_and_the_cli_writes_the_same_document(
    backend_server: Server, backend_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"exp-{secrets.token_hex(4)}"
    token = create_tenant(backend_env, name)["native"]["token"]
    uuid = f"sys-{secrets.token_hex(4)}"
    _person(backend_server, token, uuid)

    headers, doc = _stream(backend_server, token, uuid)
    # Streamed: no length known up front.
    assert headers.get("transfer-encoding") == "chunked", headers
    assert "content-length" not in headers
    assert [e["properties"]["n"] for e in doc["events"]] == list(range(EVENTS))

    out = tmp_path / "person.json"
    ran = run_cli(
        backend_env,
        "export",
        "--tenant",
        name,
        "--subject",
        f"email:{uuid}@EXAMPLE.com",
        "--out",
        str(out),
    )
    assert ran.returncode == 0, ran.stderr
    assert f"exported {EVENTS} events" in ran.stderr
    assert json.loads(out.read_bytes()) == doc
    assert not list(tmp_path.glob("*.partial"))

    missing = run_cli(backend_env, "export", "--tenant", name, "--subject", "email:no@x.com")
    assert missing.returncode != 0
    assert "no profile with this email" in missing.stderr
