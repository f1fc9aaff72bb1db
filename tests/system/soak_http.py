"""HTTP for soak clients: one fresh connection per request, so "no answer" has one meaning.

A refused connection means no server took the request: it certainly did not happen, and the
request goes to the other server. Once a request was sent, a lost connection or a 5xx leaves
its outcome unknown. Standard library only, so a client process starts fast.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from tests.support.headers import tenant_headers

TIMEOUT_S = 30.0
# How long to look for a live server before giving the request up as not sent.
NO_SERVER_DEADLINE_S = 60.0


@dataclass(frozen=True)
class Reply:
    status: int | None
    body: Any
    # False when no server ever took the request.
    sent: bool = True
    error: str | None = None

    def outcome(self, ok: tuple[int, ...]) -> str:
        """ "ack" (acknowledged), "no" (refused: nothing happened) or "unknown"."""
        if self.status is None:
            return "unknown" if self.sent else "no"
        if self.status in ok:
            return "ack"
        return "unknown" if self.status >= 500 else "no"


def headers_for(creds: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each surface's auth headers from ``obliviate tenant create --json`` output."""
    json_type = {"Content-Type": "application/json"}
    return {surface: {**sent, **json_type} for surface, sent in tenant_headers(creds).items()}


class Servers:
    """The server processes of one soak run, by port; any of them may be down at any time."""

    def __init__(self, ports: list[int], rng: random.Random) -> None:
        self.ports = ports
        self.rng = rng

    def call(
        self, method: str, path: str, body: Any, headers: dict[str, str], extra: dict[str, str]
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        deadline = time.monotonic() + NO_SERVER_DEADLINE_S
        while True:
            for port in self.rng.sample(self.ports, len(self.ports)):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
                try:
                    conn.connect()
                except OSError:
                    conn.close()
                    continue
                try:
                    conn.request(method, path, body=data, headers={**headers, **extra})
                    resp = conn.getresponse()
                    raw = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    return Reply(None, None, error=f"{type(exc).__name__}: {exc}")
                finally:
                    conn.close()
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = raw.decode(errors="replace")
                return Reply(resp.status, parsed)
            if time.monotonic() > deadline:
                return Reply(None, None, sent=False, error="no server accepted a connection")
            time.sleep(0.05)  # both servers restarting: look again shortly
