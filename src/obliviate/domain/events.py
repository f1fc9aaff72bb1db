"""Events a person generated: the bulk of person data, purged in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from obliviate.domain.free_form import check_free_form

# Times (epoch milliseconds) and row ids live in signed 64-bit columns: a request naming a
# number outside cannot be stored or compared, so surfaces refuse it as invalid input.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True)
class NewEvent:
    name: str
    occurred_at: int
    properties: dict[str, Any] = field(default_factory=dict)
    # Vendor context kept beside the event (e.g. Gainsight propertyKey and userType).
    context: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_free_form(self.properties, field="properties")
        check_free_form(self.context, field="context")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: int
    profile_id: int
    name: str
    occurred_at: int
    properties: dict[str, Any]
    context: dict[str, Any]
