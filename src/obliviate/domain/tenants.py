"""A tenant as the services see it once its credentials have been checked."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
