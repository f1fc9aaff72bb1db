"""The lean query path on real databases: prepared statements on the DBAPI cursor, and SQLite's
point-read connection."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.bootstrap import Container
from obliviate.storage import tables as t
from obliviate.storage.engine import make_engine
from obliviate.storage.point_reads import PointReads
from obliviate.storage.prepared import Prepared
from obliviate.storage.uow import SqlUnitOfWorkFactory
from tests.support.rows import tenant_id_of

NOW = 1_700_000_000_000

_INSERT = Prepared(insert(t.profiles))
_BY_ID = Prepared(
    select(t.profiles).where(
        t.profiles.c.tenant_id == bindparam("tenant"),
        t.profiles.c.profile_id == bindparam("pid"),
    )
)
_TOUCH = Prepared(
    update(t.profiles)
    .where(t.profiles.c.tenant_id == bindparam("tenant"))
    .values(updated_at=bindparam("at"))
)


@pytest.fixture
def tid(container: Container, tenant: dict[str, Any]) -> str:
    return tenant_id_of(container, tenant)


def _row(tenant_id: str, profile_id: int, request: dict[str, Any]) -> dict[str, Any]:
    # Attributes are sealed bytes (opened by the repositories, not here); the deletion
    # request is a JSON column, which the prepared path converts.
    return {
        "tenant_id": tenant_id,
        "profile_id": profile_id,
        "state": "active",
        "attributes": b"sealed",
        "deletion_request": request,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _create(uows: SqlUnitOfWorkFactory, tenant_id: str, attributes: dict[str, Any]) -> int:
    with uows(tenant_id) as uow:
        profile = uow.profiles.insert(attributes=attributes, now=NOW)
        uow.commit()
    return profile.profile_id


def test_prepared_statements_convert_json_both_ways_and_count_changed_rows(
    container: Container, tid: str
) -> None:
    attributes = {"plan": "pro", "seats": [1, 2], "nested": {"ok": True}, "none": None}
    with container.engine.connect() as conn:
        conn.begin()
        assert _INSERT.run(conn, _row(tid, 11, attributes)) == 1
        assert _INSERT.run(conn, _row(tid, 12, {})) == 1
        row = _BY_ID.first(conn, {"tenant": tid, "pid": 11})
        assert row is not None
        assert (row.profile_id, row.state, row.deletion_request) == (11, "active", attributes)
        assert bytes(row.attributes) == b"sealed"
        assert _TOUCH.run(conn, {"tenant": tid, "at": NOW + 1}) == 2
        rows = _BY_ID.rows(conn, {"tenant": tid, "pid": 12})
        assert [(r.profile_id, r.updated_at) for r in rows] == [(12, NOW + 1)]
        conn.commit()
    with container.engine.connect() as conn:
        assert _BY_ID.scalar(conn, {"tenant": tid, "pid": 12}) == tid


def test_prepared_statements_run_in_the_callers_transaction(container: Container, tid: str) -> None:
    with container.engine.connect() as conn:
        conn.begin()
        _INSERT.run(conn, _row(tid, 21, {}))
        assert _BY_ID.first(conn, {"tenant": tid, "pid": 21}) is not None
        conn.rollback()
    with container.engine.connect() as conn:
        assert _BY_ID.first(conn, {"tenant": tid, "pid": 21}) is None


def test_a_duplicate_key_raises_sqlalchemys_integrity_error(container: Container, tid: str) -> None:
    with container.engine.connect() as conn:
        conn.begin()
        _INSERT.run(conn, _row(tid, 31, {}))
        with pytest.raises(IntegrityError):
            _INSERT.run(conn, _row(tid, 31, {}))


def test_statements_with_expanding_parameters_are_refused(container: Container) -> None:
    in_list = Prepared(select(t.profiles).where(t.profiles.c.profile_id.in_(bindparam("ids"))))
    with container.engine.connect() as conn, pytest.raises(TypeError, match="expanding"):
        in_list.first(conn, {"ids": [1, 2]})


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_point_reads_see_each_new_commit_and_hold_no_snapshot_between_reads(
    container: Container, tid: str
) -> None:
    reads = PointReads(container.engine, vault=container.vault)
    writer = make_engine(str(container.engine.url))
    try:
        with reads(tid) as uow:
            assert uow.profiles.get(41) is None
        pid = _create(SqlUnitOfWorkFactory(writer, vault=container.vault), tid, {"v": 1})
        with reads(tid) as uow:
            found = uow.profiles.get(pid)
            assert found is not None
            assert found.attributes == {"v": 1}
        # Between reads the connection holds no read transaction, so a checkpoint can
        # take the whole WAL back into the database file.
        raw = writer.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _log, _moved = cursor.fetchone() or (None, None, None)
            assert busy == 0
        finally:
            raw.close()

        # An error inside a read leaves the connection usable for the next one.
        def fail_inside_a_read() -> None:
            with reads(tid) as uow:
                uow.profiles.get(pid)
                _ = 1 / 0

        with pytest.raises(ZeroDivisionError):
            fail_inside_a_read()
        with reads(tid) as uow:
            assert uow.profiles.get(pid) is not None
    finally:
        reads.close()
        writer.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_point_reads_are_bound_to_their_tenant(
    container: Container, tid: str, other_tenant: dict[str, Any]
) -> None:
    pid = _create(container.uow_factory, tid, {})
    reads = PointReads(container.engine, vault=container.vault)
    try:
        with reads(tenant_id_of(container, other_tenant)) as uow:
            assert uow.profiles.get(pid) is None
        with reads(tid) as uow:
            assert uow.profiles.get(pid) is not None
    finally:
        reads.close()


_ACTIVE_BY_ID = Prepared(
    select(t.profiles.c.profile_id).where(
        t.profiles.c.tenant_id == bindparam("tenant"),
        t.profiles.c.profile_id == bindparam("pid"),
        # A value the statement holds itself: the caller does not pass it.
        t.profiles.c.state == "active",
    )
)


def test_a_value_written_into_the_statement_is_bound_without_the_caller(
    container: Container, tid: str
) -> None:
    with container.engine.connect() as conn:
        conn.begin()
        _INSERT.run(conn, _row(tid, 71, {}))
        _INSERT.run(conn, _row(tid, 72, {}) | {"state": "soft_deleted"})
        assert _ACTIVE_BY_ID.scalar(conn, {"tenant": tid, "pid": 71}) == 71
        # The constant is applied: a row in another state is not found.
        assert _ACTIVE_BY_ID.scalar(conn, {"tenant": tid, "pid": 72}) is None
        # The tenant is still the caller's parameter.
        assert _ACTIVE_BY_ID.scalar(conn, {"tenant": "someone-else", "pid": 71}) is None
