"""Accounts: the organisations a tenant's users belong to (a company, a workspace).

An account is not a person: its id, name and firmographics describe an organisation. A user's
membership is the user's own ``accountId`` attribute, kept with the user (sealed, and gone
when the user is), so deleting a person never needs to touch an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ACCOUNT_ID_LENGTH = 512
# The attribute of a profile that names its account.
ACCOUNT_ATTRIBUTE = "accountId"


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    attributes: dict[str, Any]
    created_at: int
    updated_at: int


def account_of_attributes(attributes: dict[str, Any]) -> str | None:
    """The account a profile's attributes link it to, if any."""
    value = attributes.get(ACCOUNT_ATTRIBUTE)
    return value if isinstance(value, str) and value else None


def merge_account_attributes(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Partial update: sent fields replace, ``customAttributes`` merges by key."""
    merged = dict(current)
    for key, value in changes.items():
        held = merged.get(key)
        if key == "customAttributes" and isinstance(value, dict) and isinstance(held, dict):
            merged[key] = {**held, **value}
        else:
            merged[key] = value
    return merged
