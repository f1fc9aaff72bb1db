"""Native API tokens of a tenant: listed and revoked from the command line.

A token is named by its id: the first 16 hex digits of the SHA-256 the database keeps of it
(the same reference receipts give as their credential). That names a token without telling
anything of its secret, which is never stored.
"""

from __future__ import annotations

import re

from obliviate.domain.errors import NotFoundError, ValidationError
from obliviate.domain.tenants import TOKEN_ID_LENGTH, NativeToken, token_id
from obliviate.services.tenant_port import TenantStore
from obliviate.services.tenants import no_such_tenant

__all__ = ["TOKEN_ID_LENGTH", "NativeToken", "list_tokens", "revoke_token", "token_id"]

_TOKEN_ID = re.compile(rf"^[0-9a-f]{{{TOKEN_ID_LENGTH}}}$")


def list_tokens(store: TenantStore, *, name: str) -> list[NativeToken]:
    """The tenant's native tokens that still work, oldest first."""
    found = store.native_tokens(name)
    if found is None:
        raise no_such_tenant(name)
    return found


def revoke_token(store: TenantStore, *, name: str, token: str, now: int) -> None:
    """Revoke one native token; it stops working within the auth cache TTL on every process
    (each process asks the database again when its cached answer expires)."""
    if not _TOKEN_ID.fullmatch(token):
        raise ValidationError("token_id", f"a token id is {TOKEN_ID_LENGTH} hex digits")
    revoked = store.revoke_native_tokens(name, token, now=now)
    if revoked is None:
        raise no_such_tenant(name)
    if not revoked:
        raise NotFoundError(f"tenant {name!r} has no active native token {token}")
