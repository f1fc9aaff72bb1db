"""Erasure as a tracked step of every deletion, on real SQLite and PostgreSQL.

A purge destroys the person's keys when it begins; its job completes only after an erasure
pass has run (the WAL truncated on SQLite, the key table rewritten on PostgreSQL), and its
receipt records when.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from obliviate.services.queue_port import ErasureBusy
from obliviate.services.receipts import first_broken_receipt
from obliviate.storage import tables as t
from obliviate.storage.engine import sqlite_path
from obliviate.storage.erasure import Eraser
from obliviate.storage.sealing import Keyring
from tests.support.clock import FakeClock, worker_on_clock
from tests.support.headers import native_headers
from tests.support.rows import tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.native.support import (
    API,
    create_profile,
    job_status,
    person_with_history,
    receipts,
)


class CountingEraser(Eraser):
    """The real pass, counted; ``busy`` times it reports busy first."""

    def __init__(self, container: Container, busy: int = 0) -> None:
        super().__init__(container.engine)
        self.passes = 0
        self.busy = busy

    def erase(self) -> None:
        if self.busy:
            self.busy -= 1
            raise ErasureBusy("test: a reader holds the WAL")
        super().erase()
        self.passes += 1


def _worker(container: Container, clock: FakeClock, eraser: Eraser, delay_ms: int) -> Worker:
    # The requests run on the real clock: the worker's starts just after them.
    clock.now = int(time.time() * 1000) + 1000
    worker = worker_on_clock(container, clock, erasure_delay_ms=delay_ms)
    worker._eraser = eraser
    return worker


def _hard_delete(client: TestClient, tenant: Tenant, uuid: str) -> str:
    response = client.delete(
        f"{API}/profiles/{uuid}", params={"mode": "hard"}, headers=native_headers(tenant)
    )
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def _sealed_rows(container: Container, tenant_id: str, profile_id: int) -> list[bytes]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(t.identifiers.c.sealed_value).where(
                t.identifiers.c.tenant_id == tenant_id, t.identifiers.c.profile_id == profile_id
            )
        )
        return [bytes(r.sealed_value) for r in rows]


def _pending(client: TestClient) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("obliviate_erasure_pending "):
            return int(float(line.split()[1]))
    raise AssertionError("no obliviate_erasure_pending in /metrics")


def test_a_hard_delete_destroys_the_key_at_once_so_no_copy_of_a_value_opens(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_profile(client, tenant, "shred-me", email="shred-me@example.com")
    tid = tenant_id_of(container, tenant)
    with container.uow_factory(tid, write=False) as uow:
        found = uow.profiles.find_by_identifier("uuid", "shred-me")
        assert found is not None
        pid = found.profile_id
    copies = _sealed_rows(container, tid, pid)
    assert len(copies) == 2
    with container.engine.connect() as conn:
        keyring = Keyring(conn, tid, container.vault)
        assert sorted(keyring.open_text(c) or "" for c in copies) == [
            "shred-me",
            "shred-me@example.com",
        ]
    _hard_delete(client, tenant, "shred-me")
    # Before any purge step ran: the copies kept elsewhere (a dead row, a WAL frame, a
    # backup of the table) no longer open.
    with container.engine.connect() as conn:
        keyring = Keyring(conn, tid, container.vault)
        assert [keyring.open_text(c) for c in copies] == [None, None]


def test_a_sealed_value_copied_into_another_tenant_does_not_open(
    client: TestClient, container: Container, tenant: Tenant, other_tenant: Tenant
) -> None:
    create_profile(client, tenant, "copied")
    tid, other = tenant_id_of(container, tenant), tenant_id_of(container, other_tenant)
    with container.uow_factory(tid, write=False) as uow:
        found = uow.profiles.find_by_identifier("uuid", "copied")
        assert found is not None
    [sealed] = [c for c in _sealed_rows(container, tid, found.profile_id)]
    with container.engine.begin() as conn:
        wrapped = conn.execute(
            select(t.erasure_keys.c.wrapped).where(
                t.erasure_keys.c.tenant_id == tid,
                t.erasure_keys.c.key_id == found.profile_id,
            )
        ).scalar_one()
        conn.execute(
            t.erasure_keys.insert().values(
                tenant_id=other,
                key_id=found.profile_id,
                holder_id=found.profile_id,
                wrapped=wrapped,
                created_at=1,
            )
        )
        keyring = Keyring(conn, other, container.vault)
        with pytest.raises(InvalidTag):
            keyring.open(sealed)


def test_the_job_completes_only_after_its_erasure_pass_and_the_receipt_records_it(
    client: TestClient, container: Container, tenant: Tenant, clock: FakeClock
) -> None:
    person_with_history(client, tenant, "erase-me")
    job_id = _hard_delete(client, tenant, "erase-me")
    eraser = CountingEraser(container)
    worker = _worker(container, clock, eraser, delay_ms=30_000)
    worker.drain()
    pending = job_status(client, tenant, job_id)
    assert pending["state"] == "queued", pending
    assert pending["erasure"] == {"state": "pending", "at": None}
    assert pending["receipt_id"] is None
    assert receipts(client, tenant) == []
    assert eraser.passes == 0
    # Deployment-wide (other tests' jobs may share a PostgreSQL database): this one counts.
    pending = _pending(client)
    assert pending >= 1
    clock.advance(30)
    worker.drain()
    done = job_status(client, tenant, job_id)
    assert done["state"] == "completed"
    assert done["erasure"] == {"state": "done", "at": clock.now}
    [receipt] = receipts(client, tenant)
    assert receipt["receipt_id"] == done["receipt_id"]
    assert receipt["erasure"] == {"state": "done", "at": clock.now}
    assert receipt["erased_at"] == clock.now
    assert eraser.passes == 1
    assert _pending(client) <= pending - 1
    with container.uow_factory(tenant_id_of(container, tenant), write=False) as uow:
        chain = uow.receipts.all_in_order()
    assert first_broken_receipt(chain) is None
    # The erasure time is part of what the chain vouches for.
    chain[0]["erased_at"] += 1
    assert first_broken_receipt(chain) == receipt["receipt_id"]


def test_one_pass_covers_every_purge_waiting_when_it_starts(
    client: TestClient, container: Container, tenant: Tenant, clock: FakeClock
) -> None:
    for n in range(3):
        create_profile(client, tenant, f"batch-{n}")
    jobs = [_hard_delete(client, tenant, f"batch-{n}") for n in range(3)]
    eraser = CountingEraser(container)
    worker = _worker(container, clock, eraser, delay_ms=5_000)
    worker.drain()
    assert [job_status(client, tenant, j)["state"] for j in jobs] == ["queued"] * 3
    clock.advance(5)
    worker.drain()
    assert [job_status(client, tenant, j)["erasure"]["state"] for j in jobs] == ["done"] * 3
    assert eraser.passes == 1


def test_a_busy_pass_is_tried_again_without_counting_as_a_failed_attempt(
    client: TestClient, container: Container, tenant: Tenant, clock: FakeClock
) -> None:
    create_profile(client, tenant, "busy")
    job_id = _hard_delete(client, tenant, "busy")
    eraser = CountingEraser(container, busy=5)
    worker = _worker(container, clock, eraser, delay_ms=0)
    for _ in range(5):
        worker.drain()
        clock.advance(1)
        assert job_status(client, tenant, job_id)["erasure"]["state"] == "pending"
    worker.drain()
    done = job_status(client, tenant, job_id)
    assert (done["state"], done["erasure"]["state"], done["attempts"]) == ("completed", "done", 1)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_pass_leaves_no_byte_of_the_key_or_the_sealed_values_in_the_files(
    client: TestClient, container: Container, tenant: Tenant, clock: FakeClock
) -> None:
    person_with_history(client, tenant, "wal")
    tid = tenant_id_of(container, tenant)
    with container.uow_factory(tid, write=False) as uow:
        found = uow.profiles.find_by_identifier("uuid", "wal")
        assert found is not None
    with container.engine.connect() as conn:
        wrapped = [bytes(r.wrapped) for r in conn.execute(select(t.erasure_keys.c.wrapped))]
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar_one() == 1
    sealed = _sealed_rows(container, tid, found.profile_id)
    path = sqlite_path(str(container.engine.url))
    assert path is not None
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]

    def on_disk() -> bytes:
        return b"".join(f.read_bytes() for f in files if f.exists())

    # Every copy is still in the files before (the scan sees them).
    assert all(w in on_disk() for w in wrapped)
    assert all(v in on_disk() for v in sealed)
    _hard_delete(client, tenant, "wal")
    worker = _worker(container, clock, Eraser(container.engine), delay_ms=0)
    worker.drain()
    left = on_disk()
    assert [w for w in wrapped if w in left] == []
    assert [v for v in sealed if v in left] == []


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_pass_is_busy_while_an_older_snapshot_could_still_read_a_destroyed_key(
    client: TestClient, container: Container, tenant: Tenant, clock: FakeClock
) -> None:
    create_profile(client, tenant, "seen-by-old")
    with psycopg.connect(
        container.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    ) as holder:
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT 1").fetchall()
        job_id = _hard_delete(client, tenant, "seen-by-old")
        worker = _worker(container, clock, Eraser(container.engine), delay_ms=0)
        worker.drain()
        # The rewrite would have copied the destroyed key for that snapshot: not done.
        assert job_status(client, tenant, job_id)["erasure"]["state"] == "pending"
        holder.rollback()
    clock.advance(1)
    worker.drain()
    assert job_status(client, tenant, job_id)["erasure"]["state"] == "done"
