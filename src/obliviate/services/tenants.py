"""Tenants and their per-surface credentials."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Callable

from obliviate.domain.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from obliviate.domain.tenants import (
    CREDENTIAL_FIELDS,
    Caller,
    IssuedCredential,
    NewTenant,
    StoredCredential,
    Surface,
    Tenant,
    TenantRecord,
)
from obliviate.security import hash_secret, new_secret, secret_matches
from obliviate.services.tenant_port import TenantStore

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


def no_such_tenant(name: str) -> NotFoundError:
    return NotFoundError(f"no tenant named {name!r}")


def _demo_credentials() -> tuple[IssuedCredential, ...]:
    issued = []
    for surface in Surface:
        public_name, secret_name = CREDENTIAL_FIELDS[surface]
        creds = DEMO_CREDENTIALS[surface.value]
        public_id = None if public_name is None else creds[public_name]
        issued.append(IssuedCredential(surface, public_id, creds[secret_name]))
    return tuple(issued)


def _fresh_credential(surface: Surface, name: str) -> IssuedCredential:
    if surface is Surface.GAINSIGHT:
        return IssuedCredential(surface, None, new_secret("gs"))
    if surface is Surface.ENGAGELAB:
        return IssuedCredential(surface, secrets.token_hex(12), new_secret("el"))
    if surface is Surface.INSIDER:
        partner_name = name.replace("-", "").replace("_", "")
        return IssuedCredential(surface, partner_name, new_secret("in"))
    return IssuedCredential(surface, None, new_secret("ob"))


def _stored(credential: IssuedCredential, now: int) -> StoredCredential:
    return StoredCredential(
        surface=credential.surface,
        public_id=credential.public_id,
        secret_hash=hash_secret(credential.secret),
        created_at=now,
    )


def create_tenant(store: TenantStore, *, name: str, now: int, demo: bool = False) -> NewTenant:
    """Create a tenant and return its credentials; this is the only time they are seen."""
    if not _TENANT_NAME.fullmatch(name):
        raise ValidationError("name", "use 1-63 lowercase letters, digits, '-' or '_'")
    if demo:
        issued = _demo_credentials()
    else:
        issued = tuple(_fresh_credential(surface, name) for surface in Surface)
    added = store.add_tenant(
        tenant_id=secrets.token_hex(16),
        name=name,
        now=now,
        credentials=[_stored(c, now) for c in issued],
    )
    if not added:
        raise ConflictError(f"tenant {name!r} already exists")
    return NewTenant(name=name, credentials=issued)


def list_tenants(store: TenantStore) -> list[TenantRecord]:
    return store.tenants()


def tenant_exists(store: TenantStore, name: str) -> bool:
    return store.tenant_named(name) is not None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _tenant(
    record: TenantRecord, *, revival_window: float, share: float, floor: int, merge_limit: int
) -> Tenant:
    window = record.revival_window_seconds
    return Tenant(
        tenant_id=record.tenant_id,
        name=record.name,
        revival_window_seconds=float(window) if window is not None else revival_window,
        mass_delete_share=share,
        mass_delete_floor=floor,
        merge_limit=merge_limit,
    )


class Authenticator:
    """Resolves a surface's credentials to the tenant they belong to.

    Called only when the caller cache misses (http/runtime.py), so what it writes (a native
    token's ``last_used_at``) is written at most once per cache period per process."""

    def __init__(
        self,
        store: TenantStore,
        *,
        default_revival_window: float,
        mass_delete_share: float = 0.10,
        mass_delete_floor: int = 100,
        merge_limit: int = 10,
        refuse_demo: bool = False,
        last_used_every: float = 5.0,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self._store = store
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
        self._store.record_native_use(
            tenant_id, secret_hash, now=now, if_last_used_by=now - self._last_used_every_ms
        )

    def _caller(self, surface: Surface, secret: str, public_id: str | None) -> Caller:
        if self._refuse_demo and is_demo_secret(secret):
            raise AuthenticationError("demo credentials are refused when OBLIVIATE_ENV=production")
        digest = hash_secret(secret)
        held = self._store.holder_of(surface, digest, public_id)
        # The look-up is by hash, so timing reveals nothing about the secret; the final check
        # is constant-time all the same.
        if held is None or not secret_matches(secret, held.secret_hash):
            raise AuthenticationError()
        if surface is Surface.NATIVE and (
            held.last_used_at is None
            or held.last_used_at <= self._clock() - self._last_used_every_ms
        ):
            self._touch(held.tenant.tenant_id, held.secret_hash)
        tenant = _tenant(
            held.tenant,
            revival_window=self._default_window,
            share=self._share,
            floor=self._floor,
            merge_limit=self._merge_limit,
        )
        return Caller(
            tenant=tenant, surface=surface, credential_ref=digest[:16], scopes=held.scopes
        )

    def gainsight(self, api_key: str) -> Caller:
        return self._caller(Surface.GAINSIGHT, api_key, None)

    def engagelab(self, app_key: str, master_secret: str) -> Caller:
        return self._caller(Surface.ENGAGELAB, master_secret, app_key)

    def native(self, token: str) -> Caller:
        return self._caller(Surface.NATIVE, token, None)

    def insider(self, partner_name: str, request_token: str) -> Caller:
        return self._caller(Surface.INSIDER, request_token, partner_name)


SCOPES = ("read", "write", "delete", "admin")


def create_token(store: TenantStore, *, name: str, scopes: list[str], now: int) -> str:
    """A native bearer token with the given scopes, shown once."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationError("scopes", f"choose from {', '.join(SCOPES)}")
    token = new_secret("ob")
    credential = StoredCredential(
        surface=Surface.NATIVE,
        public_id=None,
        secret_hash=hash_secret(token),
        created_at=now,
        scopes=tuple(sorted(set(scopes))),
    )
    if not store.add_credential(name, credential):
        raise no_such_tenant(name)
    return token


# The non-secret half (app key, partner name) survives a rotation: clients keep their config.
_KEEPS_PUBLIC_ID = frozenset({Surface.ENGAGELAB, Surface.INSIDER})


def rotate_credentials(
    store: TenantStore, *, name: str, surface: str, now: int
) -> IssuedCredential:
    """New credentials for one surface; the old ones stop working (within the auth cache TTL).
    For ``native`` that is every token of the tenant, scoped ones too: a rotation after a leak
    must not leave a token made from the leaked one's access alive."""
    if surface not in ("gainsight", "engagelab", "insider", "native"):
        raise ValidationError("surface", "choose gainsight, engagelab, insider or native")
    fresh = _fresh_credential(Surface(surface), name)
    stored = store.replace_credentials(
        name, _stored(fresh, now), keep_public_id=fresh.surface in _KEEPS_PUBLIC_ID
    )
    if stored is None:
        raise no_such_tenant(name)
    return IssuedCredential(fresh.surface, stored.public_id, fresh.secret)


def cli_caller(
    store: TenantStore,
    *,
    name: str,
    revival_window: float,
    share: float,
    floor: int,
    merge_limit: int = 10,
) -> Caller:
    """The command line acting for a tenant (receipts name it as credential "cli")."""
    record = store.tenant_named(name)
    if record is None:
        raise no_such_tenant(name)
    tenant = _tenant(
        record, revival_window=revival_window, share=share, floor=floor, merge_limit=merge_limit
    )
    return Caller(tenant=tenant, surface=Surface.NATIVE, credential_ref="cli")
