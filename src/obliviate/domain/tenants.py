"""A tenant as the services see it once its credentials have been checked."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asked: written into receipts (the credential as its hash prefix, never the secret)."""

    tenant: Tenant
    surface: Surface
    credential_ref: str
