"""Each surface's authentication headers, built from a tenant's credentials."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from tests.support.tenants import Tenant

SURFACES = ("gainsight", "engagelab", "insider", "native")


def basic(app_key: str, master_secret: str) -> dict[str, str]:
    """HTTP Basic auth, as EngageLab takes its app key and master secret."""
    token = base64.b64encode(f"{app_key}:{master_secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def surface_headers(surface: str, creds: Mapping[str, str]) -> dict[str, str]:
    """The headers that sign in to ``surface`` with ``creds``, that surface's own fields (as
    ``tenant[surface]`` holds them)."""
    if surface == "gainsight":
        return {"X-APTRINSIC-API-KEY": creds["api_key"]}
    if surface == "engagelab":
        return basic(creds["app_key"], creds["master_secret"])
    if surface == "insider":
        return {"X-PARTNER-NAME": creds["partner_name"], "X-REQUEST-TOKEN": creds["request_token"]}
    assert surface == "native", f"no surface {surface!r}"
    return bearer(creds["token"])


def tenant_headers(tenant: Tenant) -> dict[str, dict[str, str]]:
    """Every surface's headers for ``tenant``, by surface."""
    return {surface: surface_headers(surface, tenant[surface]) for surface in SURFACES}


def gs_headers(tenant: Tenant) -> dict[str, str]:
    return surface_headers("gainsight", tenant["gainsight"])


def el_headers(tenant: Tenant) -> dict[str, str]:
    return surface_headers("engagelab", tenant["engagelab"])


def insider_headers(tenant: Tenant) -> dict[str, str]:
    return surface_headers("insider", tenant["insider"])


def native_headers(tenant: Tenant) -> dict[str, str]:
    """The tenant's own token: it carries every scope."""
    return surface_headers("native", tenant["native"])
