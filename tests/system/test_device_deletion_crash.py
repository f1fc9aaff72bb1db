"""1,000 EngageLab device deletions, the worker killed with -9 mid-way: every device purged once.

The server runs without a worker, so the deletions only queue. A separate ``obliviate worker``
is killed part-way through the queue, and part-way through one device (a purge batch of 2 rows
makes each device take several committed steps), then restarted. In the end no device, tag
binding or alias is left, every job is ``completed`` and each device has exactly one receipt that
counts what it had, the interrupted one included.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, func, select

from obliviate.security import KeyedHasher
from obliviate.storage import tables as t
from tests.support import sealed
from tests.support.servers import SYSTEM_KEY, Proc, Server, wait_for

pytestmark = pytest.mark.system

DEVICES = 1_000
AUTH = "Basic " + base64.b64encode(b"demo-app-key:demo-master-secret").decode()
HEADERS = {"Authorization": AUTH, "Content-Type": "application/json"}
CLIENTS = 8


def rid_of(i: int) -> str:
    return f"rid_{i:04d}_0123456789abcdef"


def tags_of(i: int) -> list[str]:
    # 1 to 5 tags, overlapping across devices, so several steps of 2 rows each per device
    # (and a step that removes exactly the batch size, then finds nothing more, for 2 and 4).
    return [f"tag_{(i + j) % 17}" for j in range(1 + i % 5)]


def alias_of(i: int) -> str | None:
    return None if i % 4 == 0 else f"alias_{i:04d}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "OBLIVIATE_DATABASE_URL": f"sqlite:///{tmp_path / 'obliviate.db'}",
        "OBLIVIATE_SECRET_KEY": SYSTEM_KEY,
        "OBLIVIATE_ENGAGELAB_RATE_LIMIT": "100000000/second",
        # Deleting all 1,000 devices is the point here, not a burst for the guard to refuse.
        "OBLIVIATE_MASS_DELETE_FLOOR": "1000000",
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        "OBLIVIATE_PURGE_BATCH_SIZE": "2",
        "OBLIVIATE_JOB_LEASE": "2s",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def db(env: dict[str, str]) -> Iterator[Engine]:
    engine = create_engine(env["OBLIVIATE_DATABASE_URL"])
    yield engine
    engine.dispose()


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers=HEADERS)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None

    def close(self) -> None:
        self.conn.close()


def fan_out(
    server: Server, items: Sequence[int], call: Callable[[Client, int], tuple[int, Any]]
) -> dict[int, tuple[int, Any]]:
    """Run ``call`` for every item over CLIENTS parallel keep-alive connections."""

    def run(chunk: Sequence[int]) -> dict[int, tuple[int, Any]]:
        client = Client(server.port)
        try:
            return {i: call(client, i) for i in chunk}
        finally:
            client.close()

    chunks = [items[k::CLIENTS] for k in range(CLIENTS)]
    results: dict[int, tuple[int, Any]] = {}
    with ThreadPoolExecutor(CLIENTS) as pool:
        for part in pool.map(run, chunks):
            results.update(part)
    return results


def scalar(db: Engine, query: Any) -> int:
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def kill_mid_purge(worker: Proc, db: Engine, timeout: float = 20.0) -> int:
    """Freeze the worker until it is caught part-way through a device (some of its rows purged
    and committed, the job still running), then kill -9 it there. Returns that job's id.

    SIGSTOP makes the moment observable: a stopped process runs no more code, so what the
    database shows while it is stopped is exactly what the kill leaves behind.
    """
    pid = worker.popen.pid
    mid_purge = select(t.jobs.c.job_id, t.jobs.c.result).where(
        t.jobs.c.kind == "purge_device", t.jobs.c.state == "running"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        os.waitpid(pid, os.WUNTRACED)  # returns once the worker is really stopped
        with db.connect() as conn:
            running = [int(r.job_id) for r in conn.execute(mid_purge) if r.result.get("counts")]
        if running:
            worker.kill9()
            return running[0]
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError("never caught the worker part-way through a device")


def register(client: Client, i: int) -> tuple[int, Any]:
    body: dict[str, Any] = {"tags": {"add": tags_of(i), "remove": []}}
    alias = alias_of(i)
    if alias is not None:
        body["alias"] = alias
    return client.call("POST", f"/v4/devices/{quote(rid_of(i))}", body)


def test_killing_the_worker_mid_way_through_1000_device_deletions_purges_each_device_once(
    env: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    server = Server(env, tmp_path / "server.log", "--no-worker")
    everyone = list(range(DEVICES))
    aliased = [i for i in everyone if alias_of(i) is not None]
    try:
        # --- register 1,000 devices with tags and (mostly) an alias ------------------------
        answers = fan_out(server, everyone, register)
        assert {i: a for i, a in answers.items() if a != (200, {})} == {}
        with db.connect() as conn:
            tenant_id = conn.execute(
                select(t.tenants.c.tenant_id).where(t.tenants.c.name == "demo")
            ).scalar_one()
            device_ids = {
                row.device_id: int(row.registration_id.split("_")[1])
                for row in sealed.devices(conn, sealed.vault_of(conn, env), tenant_id)
            }
        assert len(device_ids) == DEVICES
        bindings = scalar(db, select(func.count()).select_from(t.device_tags))
        assert bindings == sum(len(tags_of(i)) for i in everyone)
        assert server.request("GET", f"/v4/devices/{rid_of(7)}", None, HEADERS) == (
            200,
            {"tags": sorted(tags_of(7)), "alias": alias_of(7)},
        )

        # --- queue 1,000 deletions; no worker runs yet -------------------------------------
        deleted = fan_out(
            server, everyone, lambda c, i: c.call("DELETE", f"/v4/devices/{rid_of(i)}")
        )
        assert {i: a for i, a in deleted.items() if a != (200, {"success": True})} == {}
        jobs = select(func.count()).select_from(t.jobs).where(t.jobs.c.kind == "purge_device")
        assert scalar(db, jobs) == DEVICES
        assert scalar(db, jobs.where(t.jobs.c.state == "queued")) == DEVICES
        # Invisible at once, before any row is purged.
        assert scalar(db, select(func.count()).select_from(t.devices)) == DEVICES
        gone = fan_out(server, everyone, lambda c, i: c.call("GET", f"/v4/devices/{rid_of(i)}"))
        assert {i for i, (status, _) in gone.items() if status != 404} == set()

        # --- run the worker, kill -9 it mid-way, run it again ------------------------------
        completed = jobs.where(t.jobs.c.state == "completed")
        worker = Proc(["worker"], env, tmp_path / "worker.log")
        try:
            wait_for(lambda: scalar(db, completed) >= DEVICES // 10, "the worker to make progress")
            caught = kill_mid_purge(worker, db)
        finally:
            worker.kill9()
        assert scalar(db, completed) < DEVICES, "the kill came too late to test anything"

        worker = Proc(["worker"], env, tmp_path / "worker2.log")
        try:
            wait_for(lambda: scalar(db, completed) == DEVICES, "every purge job to complete", 60)
        finally:
            worker.stop()

        # --- nothing of any device is left -------------------------------------------------
        for table in (t.devices, t.device_tags):
            left = select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
            assert scalar(db, left) == 0, table.name
        assert scalar(db, jobs.where(t.jobs.c.state != "completed")) == 0
        assert server.request("GET", "/v4/tags", None, HEADERS) == (200, {"tags": []})
        aliases = fan_out(server, aliased, lambda c, i: c.call("GET", f"/v4/aliases/{alias_of(i)}"))
        assert {i for i, a in aliases.items() if a != (200, {"registration_ids": []})} == set()
        gone = fan_out(server, everyone, lambda c, i: c.call("GET", f"/v4/devices/{rid_of(i)}"))
        assert {
            i for i, a in gone.items() if a[0] != 404 or a[1]["error"]["code"] != 27002
        } == set()

        # --- exactly one receipt per device, counting what it had ---------------------------
        with db.connect() as conn:
            job_device = {
                row.job_id: int(row.payload["subject_id"])
                for row in conn.execute(
                    select(t.jobs.c.job_id, t.jobs.c.payload).where(t.jobs.c.kind == "purge_device")
                )
            }
            receipts = conn.execute(
                select(
                    t.receipts.c.job_id,
                    t.receipts.c.reason,
                    t.receipts.c.counts,
                    t.receipts.c.subject_hash,
                    t.receipts.c.surface,
                ).where(t.receipts.c.tenant_id == tenant_id)
            ).all()
        assert len(receipts) == DEVICES
        assert len({r.job_id for r in receipts}) == DEVICES
        assert set(job_device) == {r.job_id for r in receipts}
        hasher = KeyedHasher(SYSTEM_KEY.encode())
        wrong = []
        for r in receipts:
            i = device_ids[job_device[r.job_id]]
            expected = {
                "devices": 1,
                "tags": len(tags_of(i)),
                "aliases": int(alias_of(i) is not None),
                # Its key, destroyed by the request, counted once however often it ran.
                "keys": 1,
            }
            if (
                r.reason != "device_delete"
                or r.surface != "engagelab"
                or r.counts != expected
                or r.subject_hash != hasher("registration_id", rid_of(i))
            ):
                wrong.append((i, r))
        assert wrong == []
        # One receipt per device, not merely per job: every device's subject hash, once.
        assert len({r.subject_hash for r in receipts}) == DEVICES
        # The job cut off part-way was taken over after its lease ran out, and counted once.
        attempts = select(t.jobs.c.attempts).where(t.jobs.c.job_id == caught)
        assert scalar(db, attempts) >= 2
    finally:
        server.stop()
