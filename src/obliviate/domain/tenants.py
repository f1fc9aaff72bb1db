"""Tenants, their credentials, and a tenant as the services see it once a credential is checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from obliviate.domain.errors import Forbidden


class Surface(StrEnum):
    GAINSIGHT = "gainsight"
    ENGAGELAB = "engagelab"
    INSIDER = "insider"
    NATIVE = "native"


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    revival_window_seconds: float
    # The mass-deletion guard: deletions an hour may reach this share of the tenant's profiles,
    # and never fewer than the floor.
    mass_delete_share: float = 0.10
    mass_delete_floor: int = 100
    # An upsert may fold at most this many existing people into one profile unconfirmed.
    merge_limit: int = 10


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asked: written into receipts (the credential as its hash prefix, never the secret)."""

    tenant: Tenant
    surface: Surface
    credential_ref: str
    # None: every scope (vendor credentials, tokens made before scopes existed).
    scopes: frozenset[str] | None = None

    def require(self, scope: str) -> None:
        if self.scopes is not None and scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(scope)


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A tenant as stored; ``revival_window_seconds`` is None where the deployment's applies."""

    tenant_id: str
    name: str
    created_at: int
    revival_window_seconds: int | None


# The names each surface gives the public and the secret half of its credential, as the README
# and `obliviate tenant create` show them; None where a surface has no public half.
CREDENTIAL_FIELDS: dict[Surface, tuple[str | None, str]] = {
    Surface.GAINSIGHT: (None, "api_key"),
    Surface.ENGAGELAB: ("app_key", "master_secret"),
    Surface.INSIDER: ("partner_name", "request_token"),
    Surface.NATIVE: (None, "token"),
}


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A surface's credential as handed out: the only time its secret is seen."""

    surface: Surface
    # The non-secret half (EngageLab app key, Insider partner name), where the surface has one.
    public_id: str | None
    secret: str = field(repr=False)

    def fields(self) -> dict[str, str]:
        """The halves under the surface's own names, the public one first."""
        public_name, secret_name = CREDENTIAL_FIELDS[self.surface]
        if public_name is None or self.public_id is None:
            return {secret_name: self.secret}
        return {public_name: self.public_id, secret_name: self.secret}


@dataclass(frozen=True, slots=True)
class NewTenant:
    """A tenant just made, with a credential for every surface."""

    name: str
    credentials: tuple[IssuedCredential, ...]

    def fields(self) -> dict[str, Any]:
        """``{"tenant": name, surface: credential fields...}``, surfaces in the order issued."""
        return {"tenant": self.name, **{c.surface.value: c.fields() for c in self.credentials}}


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """What is kept of a credential: a hash of its secret, never the secret."""

    surface: Surface
    public_id: str | None
    secret_hash: str
    created_at: int
    # Native tokens only; None: every scope.
    scopes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class CredentialHolder:
    """The tenant an unrevoked credential belongs to, found by the credential's hash."""

    tenant: TenantRecord
    secret_hash: str
    scopes: frozenset[str] | None
    last_used_at: int | None


# A native token is named by the start of the hash kept of it (the reference receipts give as
# its credential): that names it without telling anything of the secret.
TOKEN_ID_LENGTH = 16


def token_id(secret_hash: str) -> str:
    return secret_hash[:TOKEN_ID_LENGTH]


@dataclass(frozen=True, slots=True)
class NativeToken:
    token_id: str
    # None: the tenant's own token, with every scope.
    scopes: tuple[str, ...] | None
    created_at: int
    last_used_at: int | None
