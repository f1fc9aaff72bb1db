"""Tenants and their per-surface credentials."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from obliviate.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from obliviate.domain.tenants import Caller, Surface, Tenant
from obliviate.security import hash_secret, new_secret, secret_matches
from obliviate.storage import tables as t
from obliviate.storage.engine import read_connection, writer_lock

log = logging.getLogger(__name__)

_TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

DEMO_TENANT = "demo"
# Well-known credentials of the demo tenant, so the README's curl lines work as written.
# Refused when OBLIVIATE_ENV=production.
DEMO_CREDENTIALS: dict[str, dict[str, str]] = {
    "gainsight": {"api_key": "demo-gainsight-key"},
    "engagelab": {"app_key": "demo-app-key", "master_secret": "demo-master-secret"},
    "insider": {"partner_name": "demo", "request_token": "demo-request-token"},
    "native": {"token": "demo-native-token"},
}
# The secret half of each: anyone who has read the README knows them.
_DEMO_SECRETS = tuple(
    value.encode()
    for creds in DEMO_CREDENTIALS.values()
    for field, value in creds.items()
    if field in ("api_key", "master_secret", "request_token", "token")
)


def is_demo_secret(secret: str) -> bool:
    """Whether ``secret`` is one of the README's; compared in constant time against each."""
    presented = secret.encode()
    found = False
    for demo in _DEMO_SECRETS:
        found |= hmac.compare_digest(presented, demo)
    return found


@dataclass(frozen=True, slots=True)
class TenantRecord:
    tenant_id: str
    name: str
    created_at: int
    revival_window_seconds: int | None


def _fresh_credentials(name: str) -> dict[str, dict[str, str]]:
    return {
        "gainsight": {"api_key": new_secret("gs")},
        "engagelab": {"app_key": secrets.token_hex(12), "master_secret": new_secret("el")},
        "insider": {
            "partner_name": name.replace("-", "").replace("_", ""),
            "request_token": new_secret("in"),
        },
        "native": {"token": new_secret("ob")},
    }


def _credential_rows(
    tenant_id: str, creds: dict[str, dict[str, str]], now: int
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": tenant_id,
            "surface": "gainsight",
            "public_id": None,
            "secret_hash": hash_secret(creds["gainsight"]["api_key"]),
            "created_at": now,
        },
        {
            "tenant_id": tenant_id,
            "surface": "engagelab",
            "public_id": creds["engagelab"]["app_key"],
            "secret_hash": hash_secret(creds["engagelab"]["master_secret"]),
            "created_at": now,
        },
        {
            "tenant_id": tenant_id,
            "surface": "insider",
            "public_id": creds["insider"]["partner_name"],
            "secret_hash": hash_secret(creds["insider"]["request_token"]),
            "created_at": now,
        },
        {
            "tenant_id": tenant_id,
            "surface": "native",
            "public_id": None,
            "secret_hash": hash_secret(creds["native"]["token"]),
            "created_at": now,
        },
    ]


def create_tenant(engine: Engine, *, name: str, now: int, demo: bool = False) -> dict[str, Any]:
    """Create a tenant and return its credentials; this is the only time they are seen."""
    if not _TENANT_NAME.fullmatch(name):
        raise ValidationError("name", "use 1-63 lowercase letters, digits, '-' or '_'")
    creds = DEMO_CREDENTIALS if demo else _fresh_credentials(name)
    tenant_id = secrets.token_hex(16)
    with engine.begin() as conn:
        taken = conn.execute(select(t.tenants.c.tenant_id).where(t.tenants.c.name == name)).first()
        if taken is not None:
            raise ConflictError(f"tenant {name!r} already exists")
        conn.execute(insert(t.tenants).values(tenant_id=tenant_id, name=name, created_at=now))
        conn.execute(insert(t.credentials), _credential_rows(tenant_id, creds, now))
    return {"tenant": name, **creds}


def list_tenants(engine: Engine) -> list[TenantRecord]:
    with read_connection(engine) as conn:
        rows = conn.execute(select(t.tenants).order_by(t.tenants.c.created_at, t.tenants.c.name))
        return [
            TenantRecord(r.tenant_id, r.name, r.created_at, r.revival_window_seconds) for r in rows
        ]


def tenant_exists(engine: Engine, name: str) -> bool:
    with read_connection(engine) as conn:
        return (
            conn.execute(select(t.tenants.c.tenant_id).where(t.tenants.c.name == name)).first()
            is not None
        )


def _now_ms() -> int:
    return int(time.time() * 1000)


class Authenticator:
    """Resolves a surface's credentials to the tenant they belong to.

    Called only when the caller cache misses (http/runtime.py), so what it writes (a native
    token's ``last_used_at``) is written at most once per cache period per process."""

    def __init__(
        self,
        engine: Engine,
        *,
        default_revival_window: float,
        mass_delete_share: float = 0.10,
        mass_delete_floor: int = 100,
        merge_limit: int = 10,
        refuse_demo: bool = False,
        last_used_every: float = 5.0,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self._engine = engine
        self._default_window = default_revival_window
        self._share = mass_delete_share
        self._floor = mass_delete_floor
        self._merge_limit = merge_limit
        # OBLIVIATE_ENV=production: the README's credentials open nothing, whoever made them.
        self._refuse_demo = refuse_demo
        # With the cache off (a TTL of 0) still no more than one write a second per token.
        self._last_used_every_ms = max(round(last_used_every * 1000), 1000)
        self._clock = clock

    def _touch(self, tenant_id: str, secret_hash: str) -> None:
        """Record that a native token was used; never fails the request it is part of."""
        now = self._clock()
        stale = (t.credentials.c.last_used_at.is_(None)) | (
            t.credentials.c.last_used_at <= now - self._last_used_every_ms
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
                            t.credentials.c.surface == Surface.NATIVE.value,
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

    def _caller(self, surface: Surface, secret: str, public_id: str | None) -> Caller:
        if self._refuse_demo and is_demo_secret(secret):
            raise AuthenticationError("demo credentials are refused when OBLIVIATE_ENV=production")
        digest = hash_secret(secret)
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
                t.credentials.c.secret_hash == digest,
                t.credentials.c.revoked_at.is_(None),
            )
        )
        if public_id is not None:
            query = query.where(t.credentials.c.public_id == public_id)
        with read_connection(self._engine) as conn:
            row = conn.execute(query).first()
        # The look-up is by hash, so timing reveals nothing about the secret; the final check
        # is constant-time all the same.
        if row is None or not secret_matches(secret, row.secret_hash):
            raise AuthenticationError()
        if surface is Surface.NATIVE and (
            row.last_used_at is None or row.last_used_at <= self._clock() - self._last_used_every_ms
        ):
            self._touch(row.tenant_id, row.secret_hash)
        window = row.revival_window_seconds
        tenant = Tenant(
            tenant_id=row.tenant_id,
            name=row.name,
            revival_window_seconds=float(window) if window is not None else self._default_window,
            mass_delete_share=self._share,
            mass_delete_floor=self._floor,
            merge_limit=self._merge_limit,
        )
        scopes = None if row.scopes is None else frozenset(row.scopes)
        return Caller(tenant=tenant, surface=surface, credential_ref=digest[:16], scopes=scopes)

    def gainsight(self, api_key: str) -> Caller:
        return self._caller(Surface.GAINSIGHT, api_key, None)

    def engagelab(self, app_key: str, master_secret: str) -> Caller:
        return self._caller(Surface.ENGAGELAB, master_secret, app_key)

    def native(self, token: str) -> Caller:
        return self._caller(Surface.NATIVE, token, None)

    def insider(self, partner_name: str, request_token: str) -> Caller:
        return self._caller(Surface.INSIDER, request_token, partner_name)


SCOPES = ("read", "write", "delete", "admin")


def tenant_id_of(conn: Any, name: str) -> str:
    row = conn.execute(select(t.tenants.c.tenant_id).where(t.tenants.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no tenant named {name!r}")
    return str(row.tenant_id)


def create_token(engine: Engine, *, name: str, scopes: list[str], now: int) -> str:
    """A native bearer token with the given scopes, shown once."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationError("scopes", f"choose from {', '.join(SCOPES)}")
    token = new_secret("ob")
    with engine.begin() as conn:
        conn.execute(
            insert(t.credentials).values(
                tenant_id=tenant_id_of(conn, name),
                surface="native",
                public_id=None,
                secret_hash=hash_secret(token),
                created_at=now,
                scopes=sorted(set(scopes)),
            )
        )
    return token


def rotate_credentials(engine: Engine, *, name: str, surface: str, now: int) -> dict[str, str]:
    """New credentials for one surface; the old ones stop working (within the auth cache TTL).
    For ``native`` that is every token of the tenant, scoped ones too."""
    if surface not in ("gainsight", "engagelab", "insider", "native"):
        raise ValidationError("surface", "choose gainsight, engagelab, insider or native")
    fresh = _fresh_credentials(name)
    with engine.begin() as conn:
        tenant_id = tenant_id_of(conn, name)
        old = conn.execute(
            select(t.credentials.c.public_id).where(
                t.credentials.c.tenant_id == tenant_id,
                t.credentials.c.surface == surface,
                t.credentials.c.revoked_at.is_(None),
                t.credentials.c.public_id.is_not(None),
            )
        ).first()
        if surface in ("engagelab", "insider") and old is not None and old.public_id:
            # The non-secret half (app key, partner name) stays: clients keep their config.
            key = "app_key" if surface == "engagelab" else "partner_name"
            fresh[surface][key] = str(old.public_id)
        # Every credential of the surface, scoped native tokens included: a rotation after a
        # leak must not leave a token made from the leaked one's access alive.
        conn.execute(
            update(t.credentials)
            .where(
                t.credentials.c.tenant_id == tenant_id,
                t.credentials.c.surface == surface,
                t.credentials.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        row = next(r for r in _credential_rows(tenant_id, fresh, now) if r["surface"] == surface)
        conn.execute(insert(t.credentials).values(**row))
    return fresh[surface]


def cli_caller(
    engine: Engine,
    *,
    name: str,
    revival_window: float,
    share: float,
    floor: int,
    merge_limit: int = 10,
) -> Caller:
    """The command line acting for a tenant (receipts name it as credential "cli")."""
    with read_connection(engine) as conn:
        row = conn.execute(select(t.tenants).where(t.tenants.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no tenant named {name!r}")
    window = row.revival_window_seconds
    tenant = Tenant(
        tenant_id=row.tenant_id,
        name=row.name,
        revival_window_seconds=float(window) if window is not None else revival_window,
        mass_delete_share=share,
        mass_delete_floor=floor,
        merge_limit=merge_limit,
    )
    return Caller(tenant=tenant, surface=Surface.NATIVE, credential_ref="cli")
