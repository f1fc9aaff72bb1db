"""What the profile repositories share: the lookup-hash kinds, JSON as SQL gives it as text,
and a profile row (read with its own key) decoded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, and_, select

from obliviate.domain.identifiers import IdentifierType
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.storage import tables as t
from obliviate.storage.sealing import Keyring

EMAIL = IdentifierType.EMAIL.value
# The kind an account id is hashed under to link a profile to its account (no identifier type
# has this name, so the two kinds of hash never coincide).
ACCOUNT_LINK = "account"


def json_text(value: Any) -> str:
    """A non-string attribute as SQL's JSON-to-text gave it (filters compare text)."""
    return orjson.dumps(value).decode()


def decode_profile(row: Row[Any], keys: Keyring) -> Profile:
    wrapped = getattr(row, "wrapped", None)
    if wrapped is not None:
        keys.prime(row.profile_id, bytes(wrapped))
    attributes = keys.open_json(row.attributes)
    return Profile(
        profile_id=row.profile_id,
        state=ProfileState(row.state),
        # None once the key is destroyed: the profile is being purged.
        attributes=attributes if attributes is not None else {},
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        revivable_until=row.revivable_until,
        deletion_request=row.deletion_request,
    )


WITH_KEY = and_(
    t.erasure_keys.c.tenant_id == t.profiles.c.tenant_id,
    t.erasure_keys.c.key_id == t.profiles.c.profile_id,
)


def profiles_with_key() -> Select[Any]:
    """Profiles read with their own key joined, which saves a query per read."""
    return select(t.profiles, t.erasure_keys.c.wrapped).outerjoin(t.erasure_keys, WITH_KEY)


class SealedRows:
    """One tenant's rows on one connection, sealed under the tenant's keyring."""

    def __init__(self, conn: Connection, tenant_id: str, keys: Keyring) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._keys = keys
        self._hash: Callable[[str, str], str] = keys.vault.lookup_hash
