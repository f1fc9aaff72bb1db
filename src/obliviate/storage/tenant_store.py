"""Tenants and their credentials in SQL: the ``TenantStore`` port, a transaction a method."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from obliviate.domain.tenants import (
    CredentialHolder,
    NativeToken,
    StoredCredential,
    Surface,
    TenantRecord,
    token_id,
)
from obliviate.storage import tables as t
from obliviate.storage.engine import read_connection, writer_lock

log = logging.getLogger(__name__)

_NATIVE = Surface.NATIVE.value


def _record(row: Row[Any]) -> TenantRecord:
    return TenantRecord(
        tenant_id=row.tenant_id,
        name=row.name,
        created_at=row.created_at,
        revival_window_seconds=row.revival_window_seconds,
    )


def _values(tenant_id: str, credential: StoredCredential) -> dict[str, Any]:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "surface": credential.surface.value,
        "public_id": credential.public_id,
        "secret_hash": credential.secret_hash,
        "created_at": credential.created_at,
    }
    # Left out rather than None: the JSON column would store None as a JSON null, where a
    # credential with every scope has SQL NULL.
    if credential.scopes is not None:
        values["scopes"] = list(credential.scopes)
    return values


def _tenant_id_of(conn: Connection, name: str) -> str | None:
    row = conn.execute(select(t.tenants.c.tenant_id).where(t.tenants.c.name == name)).first()
    return None if row is None else str(row.tenant_id)


def _live_native_tokens(tenant_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions on ``credentials`` that select a tenant's unrevoked native tokens."""
    return (
        t.credentials.c.tenant_id == tenant_id,
        t.credentials.c.surface == _NATIVE,
        t.credentials.c.revoked_at.is_(None),
    )


class SqlTenants:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_tenant(
        self, *, tenant_id: str, name: str, now: int, credentials: Sequence[StoredCredential]
    ) -> bool:
        with self._engine.begin() as conn:
            if _tenant_id_of(conn, name) is not None:
                return False
            conn.execute(insert(t.tenants).values(tenant_id=tenant_id, name=name, created_at=now))
            conn.execute(insert(t.credentials), [_values(tenant_id, c) for c in credentials])
        return True

    def tenants(self) -> list[TenantRecord]:
        with read_connection(self._engine) as conn:
            rows = conn.execute(
                select(t.tenants).order_by(t.tenants.c.created_at, t.tenants.c.name)
            )
            return [_record(r) for r in rows]

    def tenant_named(self, name: str) -> TenantRecord | None:
        with read_connection(self._engine) as conn:
            row = conn.execute(select(t.tenants).where(t.tenants.c.name == name)).first()
        return None if row is None else _record(row)

    def holder_of(
        self, surface: Surface, secret_hash: str, public_id: str | None
    ) -> CredentialHolder | None:
        query = (
            select(
                t.tenants,
                t.credentials.c.secret_hash,
                t.credentials.c.scopes,
                t.credentials.c.last_used_at,
            )
            .join(t.credentials, t.credentials.c.tenant_id == t.tenants.c.tenant_id)
            .where(
                t.credentials.c.surface == surface.value,
                t.credentials.c.secret_hash == secret_hash,
                t.credentials.c.revoked_at.is_(None),
            )
        )
        if public_id is not None:
            query = query.where(t.credentials.c.public_id == public_id)
        with read_connection(self._engine) as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return CredentialHolder(
            tenant=_record(row),
            secret_hash=row.secret_hash,
            scopes=None if row.scopes is None else frozenset(row.scopes),
            last_used_at=row.last_used_at,
        )

    def record_native_use(
        self, tenant_id: str, secret_hash: str, *, now: int, if_last_used_by: int
    ) -> None:
        stale = (t.credentials.c.last_used_at.is_(None)) | (
            t.credentials.c.last_used_at <= if_last_used_by
        )
        lock = writer_lock(self._engine)
        try:
            if lock is not None:
                lock.acquire()
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        update(t.credentials)
                        .where(
                            t.credentials.c.tenant_id == tenant_id,
                            t.credentials.c.surface == _NATIVE,
                            t.credentials.c.secret_hash == secret_hash,
                            stale,
                        )
                        .values(last_used_at=now)
                    )
            finally:
                if lock is not None:
                    lock.release()
        except SQLAlchemyError:
            log.warning("could not record a native token's last use", exc_info=True)

    def add_credential(self, name: str, credential: StoredCredential) -> bool:
        with self._engine.begin() as conn:
            tenant_id = _tenant_id_of(conn, name)
            if tenant_id is None:
                return False
            conn.execute(insert(t.credentials).values(**_values(tenant_id, credential)))
        return True

    def replace_credentials(
        self, name: str, fresh: StoredCredential, *, keep_public_id: bool
    ) -> StoredCredential | None:
        surface = fresh.surface.value
        with self._engine.begin() as conn:
            tenant_id = _tenant_id_of(conn, name)
            if tenant_id is None:
                return None
            old = conn.execute(
                select(t.credentials.c.public_id).where(
                    t.credentials.c.tenant_id == tenant_id,
                    t.credentials.c.surface == surface,
                    t.credentials.c.revoked_at.is_(None),
                    t.credentials.c.public_id.is_not(None),
                )
            ).first()
            if keep_public_id and old is not None and old.public_id:
                fresh = StoredCredential(
                    surface=fresh.surface,
                    public_id=str(old.public_id),
                    secret_hash=fresh.secret_hash,
                    created_at=fresh.created_at,
                    scopes=fresh.scopes,
                )
            # Revoked the moment their replacement is made.
            conn.execute(
                update(t.credentials)
                .where(
                    t.credentials.c.tenant_id == tenant_id,
                    t.credentials.c.surface == surface,
                    t.credentials.c.revoked_at.is_(None),
                )
                .values(revoked_at=fresh.created_at)
            )
            conn.execute(insert(t.credentials).values(**_values(tenant_id, fresh)))
        return fresh

    def native_tokens(self, name: str) -> list[NativeToken] | None:
        with read_connection(self._engine) as conn:
            tenant_id = _tenant_id_of(conn, name)
            if tenant_id is None:
                return None
            rows = conn.execute(
                select(t.credentials)
                .where(*_live_native_tokens(tenant_id))
                .order_by(t.credentials.c.created_at, t.credentials.c.secret_hash)
            )
            return [
                NativeToken(
                    token_id=token_id(r.secret_hash),
                    scopes=None if r.scopes is None else tuple(sorted(r.scopes)),
                    created_at=r.created_at,
                    last_used_at=r.last_used_at,
                )
                for r in rows
            ]

    def revoke_native_tokens(self, name: str, token: str, *, now: int) -> int | None:
        with self._engine.begin() as conn:
            tenant_id = _tenant_id_of(conn, name)
            if tenant_id is None:
                return None
            revoked = conn.execute(
                update(t.credentials)
                .where(
                    *_live_native_tokens(tenant_id),
                    # The service takes only hex digits, so nothing in it is a LIKE wildcard.
                    t.credentials.c.secret_hash.startswith(token),
                )
                .values(revoked_at=now)
            ).rowcount
        return int(revoked)
