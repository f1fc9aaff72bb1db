"""With real processes: a restored backup brings back no one deleted or suppressed after it was
taken, on SQLite and PostgreSQL.

People are planted through the surfaces, a backup is taken while the server runs, then people
are deleted (hard, by batch, through Gainsight, a device through EngageLab), suppressed and
soft-deleted. The server is killed (-9: the forget log must already hold every deletion it
answered), the backup restored, the server started again, and every surface asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from obliviate.storage import tables as t
from obliviate.storage.engine import normalise_url
from obliviate.storage.forget_log import FileForgetLog
from tests.support.databases import fresh_database
from tests.support.servers import Server, create_tenant, run_cli, wait_for
from tests.system.markers import (
    Api,
    Credentials,
    Deletion,
    Person,
    Role,
    Surface,
    delete,
    is_gone,
    plant_engagelab,
    plant_gainsight,
    plant_native,
    values_missing_from_reads,
)

pytestmark = pytest.mark.system

BANNED = "banned-later@example.com"
SUPPRESSED = "this email is suppressed and cannot be re-created"


@pytest.fixture
def url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(backend, tmp_path, request) as fresh:
        yield fresh


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "OBLIVIATE_DATABASE_URL": url,
        "OBLIVIATE_DATA_DIR": str(tmp_path / "data"),
        # Kept apart from the database, as the README advises: what a lost disk must not take.
        "OBLIVIATE_FORGET_LOG": str(tmp_path / "elsewhere" / "forget.log"),
        "OBLIVIATE_SECRET_KEY": "backup-system-test-key",
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.05",
        "OBLIVIATE_ERASURE_DELAY": "0.1",
        # A handful of people, most of them deleted: not a mass deletion here.
        "OBLIVIATE_MASS_DELETE_FLOOR": "1000000",
        "OBLIVIATE_LOG_LEVEL": "WARNING",
    }


def _refused_on_recreate(api: Api, email: str) -> None:
    status, problem = api.call(
        Surface.NATIVE, "PUT", "/api/v1/profiles/someone-new", {"identifiers": {"email": email}}
    )
    assert status == 409, problem
    assert problem["detail"] == SUPPRESSED


def _count(summary: str, what: str) -> int:
    found = re.search(rf"{what} (\d+)", summary) or re.search(rf"(\d+) {what}", summary)
    assert found is not None, summary
    return int(found.group(1))


def _unfinished_jobs(url: str) -> int:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(t.jobs)
                    .where(t.jobs.c.state.in_(["queued", "running"]))
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_restored_backup_brings_back_no_one_deleted_or_suppressed_after_it(
    url: str, tmp_path: Path
) -> None:
    env = _env(url, tmp_path)
    creds = Credentials.from_cli(create_tenant(env, "acme"))
    backup = tmp_path / "backups" / "before.bak"
    server = Server(env, tmp_path / "before.log")
    try:
        api = Api(server, creds)
        hard = plant_native(api, Role.VICTIM)
        suppressed = plant_native(api, Role.VICTIM)
        batched = plant_native(api, Role.VICTIM, Deletion.NATIVE_BATCH)
        gainsight = plant_gainsight(api, Role.VICTIM)
        device = plant_engagelab(api, Role.VICTIM)
        soft = plant_native(api, Role.VICTIM)
        kept = [
            plant_native(api, Role.CONTROL),
            plant_gainsight(api, Role.CONTROL),
            plant_engagelab(api, Role.CONTROL),
        ]
        # Deleted before the backup: its entry is before the backup's position in the log.
        early = plant_native(api, Role.VICTIM)
        delete(api, early)

        taken = run_cli(env, "backup", str(backup))
        assert taken.returncode == 0, taken.stderr
        # Written after the backup: a restore loses it, like any write but a deletion.
        later = plant_native(api, Role.CONTROL)

        for person in (hard, batched, gainsight, device):
            delete(api, person)
        api.ok(
            Surface.NATIVE,
            "DELETE",
            f"/api/v1/profiles/{suppressed.uuid}?mode=hard&suppress=true",
            status=202,
        )
        api.ok(
            Surface.NATIVE,
            "POST",
            "/api/v1/suppressions",
            {"type": "email", "value": BANNED},
            status=201,
        )
        api.ok(Surface.NATIVE, "DELETE", f"/api/v1/profiles/{soft.uuid}")
        # A batch deletion is answered when accepted; its subject goes when the worker runs it.
        wait_for(lambda: is_gone(api, batched), "the batch deletion to run")
        for person in (hard, suppressed, batched, gainsight, device, soft):
            assert is_gone(api, person), person.label

        busy = run_cli(env, "restore", "--yes", str(backup))
        assert busy.returncode == 1, (busy.stdout, busy.stderr)
        assert "is in use" in busy.stderr
        assert "stop every obliviate process" in busy.stderr
        assert is_gone(api, hard)
        assert not is_gone(api, later)
    finally:
        server.kill9()

    restored = run_cli(env, "restore", "--yes", str(backup))
    assert restored.returncode == 0, (restored.stdout, restored.stderr)
    summary = restored.stdout
    # Only what followed the backup is replayed, and each of those entries changes something.
    assert _count(summary, "already in the backup") == 0, summary
    assert _count(summary, "profiles purged") == 4, summary
    assert _count(summary, "soft-deleted") == 1, summary
    assert _count(summary, "devices purged") == 1, summary
    for person in (hard, suppressed, batched):
        # The output names no one: counts only.
        assert person.uuid is not None
        assert person.uuid not in summary + restored.stderr
        assert person.email is not None
        assert person.email not in summary + restored.stderr

    server = Server(env, tmp_path / "after.log")
    try:
        api = Api(server, creds)
        gone: list[Person] = [early, hard, suppressed, batched, gainsight, device, soft, later]
        for person in gone:
            assert is_gone(api, person), person.label
        for person in kept:
            assert values_missing_from_reads(api, person) == [], person.label
        assert suppressed.email is not None
        for email in (suppressed.email, BANNED):
            _refused_on_recreate(api, email)
        # The purges the replay began run in the restarted server's worker.
        wait_for(lambda: _unfinished_jobs(url) == 0, "the replayed purges to finish", 60)
        for person in (hard, suppressed, batched, gainsight, device):
            assert is_gone(api, person), person.label
        # Soft-deleted after the backup, within its window still: it may come back.
        status, answer = api.call(
            Surface.NATIVE, "PUT", f"/api/v1/profiles/{soft.uuid}", {"attributes": {}}
        )
        assert status == 200, answer
    finally:
        server.stop()


def test_restore_refuses_before_touching_the_database_without_the_backup_s_forget_log(
    url: str, tmp_path: Path
) -> None:
    env = _env(url, tmp_path)
    create_tenant(env, "before")
    backup = tmp_path / "before.bak"
    assert run_cli(env, "backup", str(backup)).returncode == 0
    create_tenant(env, "after")
    log = Path(env["OBLIVIATE_FORGET_LOG"])

    log.rename(log.with_name("moved.log"))
    missing = run_cli(env, "restore", "--yes", str(backup))
    assert missing.returncode == 1
    assert f"no forget log at {log}" in missing.stderr

    # A log made anew since (say, on a replacement disk) misses what the old one held.
    FileForgetLog(log).close()
    other = run_cli(env, "restore", "--yes", str(backup))
    assert other.returncode == 1
    assert "is not the one this backup was taken with" in other.stderr

    listed = run_cli(env, "tenant", "list")
    assert listed.stdout.split() == ["before", "after"]

    log.with_name("moved.log").replace(log)
    done = run_cli(env, "restore", "--yes", str(backup))
    assert done.returncode == 0, done.stderr
    assert run_cli(env, "tenant", "list").stdout.split() == ["before"]
