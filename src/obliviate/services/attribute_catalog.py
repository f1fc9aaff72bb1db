"""Which custom attributes a tenant has stored, for clients that read a model's schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from obliviate.services.accounts import scan_accounts
from obliviate.services.ports import ProfileFilter, UnitOfWork
from obliviate.services.profiles import scan_profiles

# Where each model keeps its custom attributes.
USER_CUSTOM = "custom"
ACCOUNT_CUSTOM = "customAttributes"


class ValueKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class CustomAttribute:
    name: str
    kind: ValueKind
    # When a record holding it was first created, and last modified.
    first_seen: int
    last_modified: int


def _kind(value: Any) -> ValueKind:
    if isinstance(value, bool):
        return ValueKind.BOOLEAN
    if isinstance(value, int | float):
        return ValueKind.NUMBER
    # Objects and arrays are stored, and answered, as text.
    return ValueKind.STRING


def _catalog(records: Iterable[tuple[Mapping[str, Any], int, int]]) -> list[CustomAttribute]:
    found: dict[str, CustomAttribute] = {}
    for custom, created, modified in records:
        for name, value in custom.items():
            if value is None:
                continue
            seen = found.get(name)
            if seen is None:
                found[name] = CustomAttribute(name, _kind(value), created, modified)
            else:
                found[name] = CustomAttribute(
                    name,
                    seen.kind,
                    min(seen.first_seen, created),
                    max(seen.last_modified, modified),
                )
    return [found[name] for name in sorted(found)]


def user_custom_attributes(uow: UnitOfWork) -> list[CustomAttribute]:
    """Every custom attribute an active user holds (a deleted user's vanish with them)."""
    return _catalog(
        (custom, view.profile.created_at, view.profile.updated_at)
        for view in scan_profiles(uow, flt=ProfileFilter())
        if isinstance(custom := view.profile.attributes.get(USER_CUSTOM), dict)
    )


def account_custom_attributes(uow: UnitOfWork) -> list[CustomAttribute]:
    return _catalog(
        (custom, view.account.created_at, view.account.updated_at)
        for view in scan_accounts(uow)
        if isinstance(custom := view.account.attributes.get(ACCOUNT_CUSTOM), dict)
    )
