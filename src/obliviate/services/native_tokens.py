"""Native API tokens of a tenant: listed and revoked from the command line.

A token is named by its id: the first 16 hex digits of the SHA-256 the database keeps of it
(the same reference receipts give as their credential). That names a token without telling
anything of its secret, which is never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from obliviate.domain.errors import NotFoundError, ValidationError
from obliviate.domain.tenants import Surface
from obliviate.services.tenants import tenant_id_of
from obliviate.storage import tables as t
from obliviate.storage.engine import read_connection

TOKEN_ID_LENGTH = 16
_TOKEN_ID = re.compile(rf"^[0-9a-f]{{{TOKEN_ID_LENGTH}}}$")


@dataclass(frozen=True, slots=True)
class NativeToken:
    token_id: str
    # None: the tenant's own token, with every scope.
    scopes: tuple[str, ...] | None
    created_at: int
    last_used_at: int | None


def token_id(secret_hash: str) -> str:
    return secret_hash[:TOKEN_ID_LENGTH]


def list_tokens(engine: Engine, *, name: str) -> list[NativeToken]:
    """The tenant's native tokens that still work, oldest first."""
    with read_connection(engine) as conn:
        tenant_id = tenant_id_of(conn, name)
        rows = conn.execute(
            select(t.credentials)
            .where(
                t.credentials.c.tenant_id == tenant_id,
                t.credentials.c.surface == Surface.NATIVE.value,
                t.credentials.c.revoked_at.is_(None),
            )
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


def revoke_token(engine: Engine, *, name: str, token: str, now: int) -> None:
    """Revoke one native token; it stops working within the auth cache TTL on every process
    (each process asks the database again when its cached answer expires)."""
    if not _TOKEN_ID.fullmatch(token):
        raise ValidationError("token_id", f"a token id is {TOKEN_ID_LENGTH} hex digits")
    with engine.begin() as conn:
        revoked = conn.execute(
            update(t.credentials)
            .where(
                t.credentials.c.tenant_id == tenant_id_of(conn, name),
                t.credentials.c.surface == Surface.NATIVE.value,
                # Hex digits only (checked above), so nothing in it is a LIKE wildcard.
                t.credentials.c.secret_hash.startswith(token),
                t.credentials.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        ).rowcount
    if not revoked:
        raise NotFoundError(f"tenant {name!r} has no active native token {token}")
