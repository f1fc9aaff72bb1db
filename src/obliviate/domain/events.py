"""Events a person generated: the bulk of person data, purged in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class NewEvent:
    name: str
    occurred_at: int
    properties: dict[str, Any] = field(default_factory=dict)
    # Vendor context kept beside the event (e.g. Gainsight propertyKey and userType).
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: int
    profile_id: int
    name: str
    occurred_at: int
    properties: dict[str, Any]
    context: dict[str, Any]
