"""The SQL tenant store on SQLite and PostgreSQL: each method one transaction, tenants found by
name, credentials by hash, and nothing of a refused tenant left behind."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select

from obliviate.bootstrap import Container
from obliviate.domain.tenants import StoredCredential, Surface, token_id
from obliviate.security import hash_secret
from obliviate.storage import tables as t
from obliviate.storage.engine import make_engine
from obliviate.storage.tenant_store import SqlTenants

NOW = 1_700_000_000_000


def _name() -> str:
    return f"store-{secrets.token_hex(6)}"


def _credential(
    surface: Surface,
    public_id: str | None = None,
    *,
    now: int = NOW,
    scopes: tuple[str, ...] | None = None,
) -> StoredCredential:
    return StoredCredential(
        surface=surface,
        public_id=public_id,
        secret_hash=hash_secret(secrets.token_hex(16)),
        created_at=now,
        scopes=scopes,
    )


def _add(store: SqlTenants, name: str, *credentials: StoredCredential, now: int = NOW) -> str:
    tenant_id = secrets.token_hex(16)
    assert store.add_tenant(tenant_id=tenant_id, name=name, now=now, credentials=credentials)
    return tenant_id


def _credential_count(container: Container, tenant_id: str) -> int:
    with container.engine.connect() as conn:
        query = select(func.count()).where(t.credentials.c.tenant_id == tenant_id)
        return int(conn.execute(query).scalar_one())


def test_a_taken_name_is_refused_and_nothing_of_the_second_tenant_is_stored(
    container: Container,
) -> None:
    store = container.tenant_store
    name = _name()
    first = _add(store, name, _credential(Surface.GAINSIGHT))
    second = secrets.token_hex(16)
    refused = store.add_tenant(
        tenant_id=second, name=name, now=NOW + 1, credentials=[_credential(Surface.GAINSIGHT)]
    )
    assert refused is False
    record = store.tenant_named(name)
    assert record is not None
    assert record.tenant_id == first
    assert (record.created_at, record.revival_window_seconds) == (NOW, None)
    assert _credential_count(container, second) == 0


def test_tenants_are_listed_oldest_first_then_by_name(container: Container) -> None:
    store = container.tenant_store
    stem = _name()
    names = {f"{stem}-b": NOW, f"{stem}-a": NOW, f"{stem}-c": NOW - 1}
    for name, made in names.items():
        _add(store, name, _credential(Surface.GAINSIGHT, now=made), now=made)
    listed = [r.name for r in store.tenants() if r.name in names]
    assert listed == [f"{stem}-c", f"{stem}-a", f"{stem}-b"]


def test_a_credential_is_found_by_hash_and_public_half_only_while_unrevoked(
    container: Container,
) -> None:
    store = container.tenant_store
    name = _name()
    app = _credential(Surface.ENGAGELAB, "app-key-1")
    tenant_id = _add(store, name, app)

    found = store.holder_of(Surface.ENGAGELAB, app.secret_hash, "app-key-1")
    assert found is not None
    assert (found.tenant.tenant_id, found.tenant.name) == (tenant_id, name)
    assert (found.secret_hash, found.scopes, found.last_used_at) == (app.secret_hash, None, None)
    assert store.holder_of(Surface.ENGAGELAB, app.secret_hash, "another-key") is None
    assert store.holder_of(Surface.INSIDER, app.secret_hash, None) is None

    store.replace_credentials(name, _credential(Surface.ENGAGELAB), keep_public_id=True)
    assert store.holder_of(Surface.ENGAGELAB, app.secret_hash, "app-key-1") is None


def test_every_scope_is_stored_as_sql_null_and_scopes_as_a_sorted_list(
    container: Container,
) -> None:
    store = container.tenant_store
    name = _name()
    tenant_id = _add(store, name, _credential(Surface.NATIVE), _credential(Surface.GAINSIGHT))
    scoped = _credential(Surface.NATIVE, scopes=("read", "write"))
    assert store.add_credential(name, scoped)

    with container.engine.connect() as conn:
        unscoped = conn.execute(
            select(func.count()).where(
                t.credentials.c.tenant_id == tenant_id, t.credentials.c.scopes.is_(None)
            )
        ).scalar_one()
    assert unscoped == 2
    held = store.holder_of(Surface.NATIVE, scoped.secret_hash, None)
    assert held is not None
    assert held.scopes == frozenset({"read", "write"})
    tokens = store.native_tokens(name)
    assert tokens is not None
    assert [(tok.token_id, tok.scopes) for tok in tokens if tok.scopes] == [
        (token_id(scoped.secret_hash), ("read", "write"))
    ]


def test_native_use_is_written_only_when_the_last_one_is_old_enough(
    container: Container,
) -> None:
    store = container.tenant_store
    name = _name()
    token = _credential(Surface.NATIVE)
    tenant_id = _add(store, name, token)

    def last_used() -> int | None:
        [only] = store.native_tokens(name) or []
        return only.last_used_at

    store.record_native_use(tenant_id, token.secret_hash, now=NOW + 10, if_last_used_by=NOW)
    assert last_used() == NOW + 10
    store.record_native_use(tenant_id, token.secret_hash, now=NOW + 20, if_last_used_by=NOW + 9)
    assert last_used() == NOW + 10
    store.record_native_use(tenant_id, token.secret_hash, now=NOW + 30, if_last_used_by=NOW + 10)
    assert last_used() == NOW + 30


def test_a_failed_write_of_a_tokens_last_use_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A database without the schema: the update fails the way an unreachable one would.
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with caplog.at_level(logging.WARNING, logger="obliviate"):
            SqlTenants(engine).record_native_use("t", "h", now=NOW, if_last_used_by=NOW)
    finally:
        engine.dispose()
    assert [r.getMessage() for r in caplog.records] == [
        "could not record a native token's last use"
    ]


def test_replacing_keeps_the_public_half_when_asked_and_revokes_every_live_one(
    container: Container,
) -> None:
    store = container.tenant_store
    name = _name()
    tenant_id = _add(store, name, _credential(Surface.INSIDER, "partner"))
    store.add_credential(name, _credential(Surface.INSIDER, "partner"))

    kept = store.replace_credentials(
        name, _credential(Surface.INSIDER, "fresh", now=NOW + 5), keep_public_id=True
    )
    assert kept is not None
    assert kept.public_id == "partner"
    renamed = store.replace_credentials(
        name, _credential(Surface.INSIDER, "fresh", now=NOW + 6), keep_public_id=False
    )
    assert renamed is not None
    assert renamed.public_id == "fresh"

    with container.engine.connect() as conn:
        rows = conn.execute(
            select(t.credentials.c.public_id, t.credentials.c.revoked_at).where(
                t.credentials.c.tenant_id == tenant_id
            )
        ).all()
    assert sorted(rows, key=repr) == sorted(
        [("partner", NOW + 5), ("partner", NOW + 5), ("partner", NOW + 6), ("fresh", None)],
        key=repr,
    )


def test_revoking_by_token_id_touches_only_that_tenants_live_tokens(
    container: Container,
) -> None:
    store = container.tenant_store
    mine, theirs = _name(), _name()
    token = _credential(Surface.NATIVE)
    _add(store, mine, token)
    _add(store, theirs, _credential(Surface.NATIVE))

    assert store.revoke_native_tokens(theirs, token_id(token.secret_hash), now=NOW) == 0
    assert store.revoke_native_tokens(mine, token_id(token.secret_hash), now=NOW) == 1
    assert store.revoke_native_tokens(mine, token_id(token.secret_hash), now=NOW) == 0
    assert store.native_tokens(mine) == []
    assert len(store.native_tokens(theirs) or []) == 1


def test_a_name_no_tenant_has_is_answered_with_none_or_false(container: Container) -> None:
    store = container.tenant_store
    nobody = _name()
    assert store.tenant_named(nobody) is None
    assert store.add_credential(nobody, _credential(Surface.NATIVE)) is False
    assert (
        store.replace_credentials(nobody, _credential(Surface.NATIVE), keep_public_id=False) is None
    )
    assert store.native_tokens(nobody) is None
    assert store.revoke_native_tokens(nobody, "0" * 16, now=NOW) is None
