"""Tenants for tests: made through the tenant service, signed in as a surface would sign in."""

from __future__ import annotations

import secrets
from typing import Any

from obliviate.bootstrap import Container
from obliviate.domain.tenants import Caller
from obliviate.services.tenants import Authenticator, create_tenant
from tests.support.clock import now_ms

# A tenant's credentials as `obliviate tenant create --json` prints them: what tests sign in with.
Tenant = dict[str, Any]


def new_tenant(container: Container, prefix: str = "t") -> Tenant:
    """A tenant of its own name (``prefix`` and random digits), with fresh credentials."""
    name = f"{prefix}-{secrets.token_hex(6)}"
    return create_tenant(container.tenant_store, name=name, now=now_ms()).fields()


def sign_in(
    container: Container, tenant: Tenant, surface: str, *, revival_window: float, **options: Any
) -> Caller:
    """The caller ``surface``'s credentials of ``tenant`` authenticate as, with the tenant
    defaults ``revival_window`` and ``options`` (``Authenticator`` keywords) in force."""
    auth = Authenticator(container.tenant_store, default_revival_window=revival_window, **options)
    creds = tenant[surface]
    if surface == "gainsight":
        return auth.gainsight(creds["api_key"])
    if surface == "engagelab":
        return auth.engagelab(creds["app_key"], creds["master_secret"])
    if surface == "insider":
        return auth.insider(creds["partner_name"], creds["request_token"])
    assert surface == "native", f"no surface {surface!r}"
    return auth.native(creds["token"])
