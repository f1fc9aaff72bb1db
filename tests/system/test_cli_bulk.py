"""The bulk commands as a person runs them: import, deletions submit, audit verify and export."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.servers import run_cli

pytestmark = pytest.mark.system


def _run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "OBLIVIATE_DATABASE_URL": f"sqlite:///{db}",
        "OBLIVIATE_SECRET_KEY": "cli-test-key",
        "OBLIVIATE_WORKER_POLL_INTERVAL": "0.02",
    }
    return run_cli(env, *args, timeout=120)


def _sql(db: Path, statement: str) -> None:
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "o.db"
    assert _run(path, "tenant", "create", "acme").returncode == 0
    people = tmp_path / "people.jsonl"
    people.write_text(
        "".join(
            json.dumps(
                {
                    "uuid": f"u{i}",
                    "identifiers": {"email": f"p{i}@example.com"},
                    "attributes": {"n": i},
                    "events": [{"name": "seen", "properties": {"i": i}}],
                }
            )
            + "\n"
            for i in range(30)
        )
    )
    imported = _run(path, "import", "--tenant", "acme", "--file", str(people))
    assert imported.returncode == 0, imported.stderr
    assert "imported 30 profiles" in imported.stdout
    return path


def test_import_reports_bad_lines_and_exits_non_zero(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"uuid": "ok-1"}\n{not json\n{"attributes": {}}\n')
    result = _run(db, "import", "--tenant", "acme", "--file", str(bad))
    assert result.returncode == 1
    assert "imported 1 profiles; 2 lines failed" in result.stdout
    assert "line 2" in result.stderr
    assert "line 3" in result.stderr


def test_a_dry_run_and_the_real_run_report_the_same_counts(db: Path, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"u{i}\n" for i in range(10)) + "email:nobody@example.com\n")
    dry = _run(db, "deletions", "submit", "--tenant", "acme", "--file", str(ids), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    real = _run(db, "deletions", "submit", "--tenant", "acme", "--file", str(ids))
    assert real.returncode == 0, real.stderr
    done = json.loads(real.stdout.strip().splitlines()[-1])
    assert set(done["jobs"].values()) == {"completed"}
    assert done["counts"] == planned["counts"]
    assert done["counts"]["profiles"] == 10
    assert done["counts"]["events"] == 10
    assert done["outcomes"] == {"deleted": 10, "not_found": 1} == planned["outcomes"]


def test_audit_verify_names_an_edited_or_removed_receipt(db: Path, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("u1\nu2\nu3\n")
    assert _run(db, "deletions", "submit", "--tenant", "acme", "--file", str(ids)).returncode == 0
    ok = _run(db, "audit", "verify")
    assert ok.returncode == 0
    assert "3 receipts, chain intact" in ok.stdout

    exported = _run(db, "audit", "export", "--since", "2000-01-01")
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3]
    assert all("u1" not in json.dumps(r) for r in lines)

    second = lines[1]["receipt_id"]
    _sql(db, f"UPDATE receipts SET counts = '{{\"events\": 0}}' WHERE receipt_id = '{second}'")
    edited = _run(db, "audit", "verify")
    assert edited.returncode == 1
    assert second in edited.stderr

    _sql(
        db,
        f"UPDATE receipts SET counts = '{json.dumps(lines[1]['counts'])}' "
        f"WHERE receipt_id = '{second}'",
    )
    assert _run(db, "audit", "verify").returncode == 0
    last = lines[2]["receipt_id"]
    _sql(db, f"DELETE FROM receipts WHERE receipt_id = '{last}'")
    removed = _run(db, "audit", "verify")
    assert removed.returncode == 1
    assert last in removed.stderr


def test_scoped_tokens_and_rotation(db: Path) -> None:
    made = _run(db, "tenant", "token", "create", "acme", "--scopes", "read,delete", "--json")
    assert made.returncode == 0
    assert json.loads(made.stdout)["scopes"] == ["delete", "read"]
    assert _run(db, "tenant", "token", "create", "acme", "--scopes", "root").returncode != 0
    rotated = _run(db, "tenant", "rotate", "acme", "--surface", "insider")
    assert rotated.returncode == 0
    fresh = json.loads(rotated.stdout)["insider"]
    assert fresh["partner_name"] == "acme"
    assert fresh["request_token"].startswith("in_")
