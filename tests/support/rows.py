"""Reading the database behind the API: whole snapshots, one tenant's rows, jobs, receipts and
counts, for checks of what a request changed or left behind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Executable, create_engine, select

from obliviate.bootstrap import Container
from obliviate.storage import tables as t
from tests.support.tenants import Tenant

Snapshot = dict[str, list[tuple[Any, ...]]]

# When a credential was last used is bookkeeping of the request itself, not a change the
# request made.
_BOOKKEEPING = frozenset({"last_used_at"})


def snapshot(container: Container) -> Snapshot:
    """Every row of every table, in key order: equal snapshots mean nothing changed."""
    dump: Snapshot = {}
    with container.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            columns = [c for c in table.columns if c.name not in _BOOKKEEPING]
            rows = conn.execute(select(*columns).order_by(*order))
            dump[table.name] = [tuple(repr(v) for v in row) for row in rows]
    return dump


def rows_of_tenant(snap: Snapshot, tenant_id: str) -> Snapshot:
    """The part of a snapshot that belongs to one tenant (``tenant_id`` leads every key). On
    PostgreSQL the database outlives each test, so a worker may also run older tests' jobs."""
    return {table: [r for r in rows if r[0] == repr(tenant_id)] for table, rows in snap.items()}


def tenant_id_of(container: Container, tenant: Tenant) -> str:
    """The id of the tenant whose credentials ``tenant`` holds."""
    with container.engine.connect() as conn:
        found = conn.execute(
            select(t.tenants.c.tenant_id).where(t.tenants.c.name == tenant["tenant"])
        ).scalar_one()
    return str(found)


def jobs_of(container: Container, tenant_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The tenant's jobs (of one ``kind``, if given), oldest first."""
    query = select(t.jobs).where(t.jobs.c.tenant_id == tenant_id).order_by(t.jobs.c.job_id)
    if kind is not None:
        query = query.where(t.jobs.c.kind == kind)
    with container.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def receipts_of(container: Container, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's deletion receipts, in the order they were written."""
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(t.receipts).where(t.receipts.c.tenant_id == tenant_id).order_by(t.receipts.c.seq)
        )
        return [dict(r._mapping) for r in rows]


def count_rows(env: Mapping[str, str], query: Executable) -> int:
    """The count ``query`` selects in the database of a server process's ``env``."""
    engine = create_engine(env["OBLIVIATE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()
