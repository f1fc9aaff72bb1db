"""What the tenant services need from storage: tenants and their credentials."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from obliviate.domain.tenants import (
    CredentialHolder,
    NativeToken,
    StoredCredential,
    Surface,
    TenantRecord,
)


class TenantStore(Protocol):
    """Tenants and their credentials, found by name or by a credential's hash.

    Not part of a unit of work: each method is one transaction of its own, because each is a
    whole step (a command-line action, one authentication) sharing nothing with tenant data.
    Methods taking a tenant's name answer None or False when no tenant has it."""

    def add_tenant(
        self, *, tenant_id: str, name: str, now: int, credentials: Sequence[StoredCredential]
    ) -> bool:
        """False, and nothing stored, when a tenant already has the name."""
        ...

    def tenants(self) -> list[TenantRecord]:
        """Every tenant, oldest first (by name among those made in the same millisecond)."""
        ...

    def tenant_named(self, name: str) -> TenantRecord | None: ...
    def holder_of(
        self, surface: Surface, secret_hash: str, public_id: str | None
    ) -> CredentialHolder | None:
        """Who holds the unrevoked credential of ``surface`` with this hash (and this public
        half, when given)."""
        ...

    def record_native_use(
        self, tenant_id: str, secret_hash: str, *, now: int, if_last_used_by: int
    ) -> None:
        """Write ``now`` as a native token's last use unless it was used after
        ``if_last_used_by``. Never raises for the database: a failure is logged, since
        bookkeeping must not fail the request it is part of."""
        ...

    def add_credential(self, name: str, credential: StoredCredential) -> bool: ...
    def replace_credentials(
        self, name: str, fresh: StoredCredential, *, keep_public_id: bool
    ) -> StoredCredential | None:
        """Revoke every live credential of ``fresh``'s surface and store ``fresh``, with the
        public half the tenant has now if ``keep_public_id``; returns what was stored."""
        ...

    def native_tokens(self, name: str) -> list[NativeToken] | None:
        """The tenant's unrevoked native tokens, oldest first."""
        ...

    def revoke_native_tokens(self, name: str, token: str, *, now: int) -> int | None:
        """Revoke the tenant's live native tokens whose hash starts with ``token`` (a token
        id, hex digits only); how many were."""
        ...
