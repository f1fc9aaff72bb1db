"""A person's values at rest: sealed under a key of their own, found by keyed hash.

Every identifying or descriptive value of a person (identifiers, attributes, event properties
and context, device registration id, info, timezone, alias, tags) is stored sealed with AES-GCM
under a key that belongs to that person (a profile) or device. Look-ups go through keyed
hashes, so no index page ever holds a value either. A purge destroys the key first: from then
on, whatever copy of those rows a database file, a WAL segment or a dead tuple still holds is
ciphertext no one can open. What is left to clean physically is the small key table.

The per-person keys are stored wrapped under the deployment's vault key, itself stored wrapped
under the deployment secret (``OBLIVIATE_SECRET_KEY``, which never reaches the database): a
stolen data file or backup without the secret shows neither values nor keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from obliviate.storage import tables as t
from obliviate.storage.prepared import Prepared

KEY_BYTES = 32
_NONCE_BYTES = 12
_KEY_ID = struct.Struct(">q")
# key id, then nonce, then ciphertext and tag.
_HEADER = _KEY_ID.size + _NONCE_BYTES


def derive(secret: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode()).derive(
        secret
    )


class Vault:
    """The deployment's vault key: the lookup-hash key and the key that wraps person keys.

    Random and stored wrapped (``deployment_keys.load_vault``), so rotating the secret only
    re-wraps one row: no stored hash or key has to change."""

    def __init__(self, vault_key: bytes) -> None:
        self._lookup_key = derive(vault_key, "obliviate lookup hash v1")
        self._wrap = AESGCM(derive(vault_key, "obliviate person key wrap v1"))

    def lookup_hash(self, kind: str, value: str) -> str:
        """The keyed hash a value is found by (an identifier under its type, a tag, ...)."""
        return hmac.new(self._lookup_key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def wrap(self, tenant_id: str, key_id: int, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._wrap.encrypt(nonce, key, _aad(tenant_id, key_id))

    def unwrap(self, tenant_id: str, key_id: int, wrapped: bytes) -> bytes:
        nonce, body = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        return self._wrap.decrypt(nonce, body, _aad(tenant_id, key_id))


def _aad(tenant_id: str, key_id: int) -> bytes:
    # Binds a sealed value to its tenant and key: a row copied into another tenant or under
    # another person's key does not open.
    return tenant_id.encode() + b"\x00" + _KEY_ID.pack(key_id)


_INSERT_KEY = Prepared(insert(t.erasure_keys))
_KEY_BY_ID = Prepared(
    select(t.erasure_keys.c.wrapped).where(
        t.erasure_keys.c.tenant_id == bindparam("tenant"),
        t.erasure_keys.c.key_id == bindparam("key_id"),
    )
)
_DESTROY_HELD_BY = Prepared(
    delete(t.erasure_keys).where(
        t.erasure_keys.c.tenant_id == bindparam("tenant"),
        t.erasure_keys.c.holder_id == bindparam("holder"),
    )
)


class Keyring:
    """The person keys one unit of work uses, on its connection and bound to its tenant."""

    def __init__(self, conn: Connection, tenant_id: str, vault: Vault) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self.vault = vault
        # key id -> cipher, or None for a key that is gone (its person was purged).
        self._ciphers: dict[int, AESGCM | None] = {}

    def create(self, key_id: int, *, holder_id: int, now: int) -> None:
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        _INSERT_KEY.run(
            self._conn,
            {
                "tenant_id": self._tenant,
                "key_id": key_id,
                "holder_id": holder_id,
                "wrapped": self.vault.wrap(self._tenant, key_id, key),
                "created_at": now,
            },
        )
        self._ciphers[key_id] = AESGCM(key)

    def prime(self, key_id: int, wrapped: bytes | None) -> None:
        """Take a key a query already read (joined to the row it seals)."""
        if key_id not in self._ciphers and wrapped is not None:
            self._ciphers[key_id] = AESGCM(self.vault.unwrap(self._tenant, key_id, wrapped))

    def _cipher(self, key_id: int) -> AESGCM | None:
        try:
            return self._ciphers[key_id]
        except KeyError:
            pass
        row = _KEY_BY_ID.first(self._conn, {"tenant": self._tenant, "key_id": key_id})
        cipher = (
            None
            if row is None
            else AESGCM(self.vault.unwrap(self._tenant, key_id, bytes(row.wrapped)))
        )
        self._ciphers[key_id] = cipher
        return cipher

    def seal(self, key_id: int, data: bytes) -> bytes:
        cipher = self._cipher(key_id)
        if cipher is None:
            raise KeyDestroyed(key_id)
        nonce = os.urandom(_NONCE_BYTES)
        return _KEY_ID.pack(key_id) + nonce + cipher.encrypt(nonce, data, self._tenant.encode())

    def open(self, sealed: bytes) -> bytes | None:
        """The plaintext, or None when the key is destroyed (the value is erased)."""
        sealed = bytes(sealed)
        (key_id,) = _KEY_ID.unpack_from(sealed)
        cipher = self._cipher(key_id)
        if cipher is None:
            return None
        nonce = sealed[_KEY_ID.size : _HEADER]
        return cipher.decrypt(nonce, sealed[_HEADER:], self._tenant.encode())

    def seal_text(self, key_id: int, value: str) -> bytes:
        return self.seal(key_id, value.encode())

    def open_text(self, sealed: bytes) -> str | None:
        data = self.open(sealed)
        return None if data is None else data.decode()

    def seal_json(self, key_id: int, value: Any) -> bytes:
        return self.seal(key_id, orjson.dumps(value))

    def open_json(self, sealed: bytes) -> Any:
        data = self.open(sealed)
        return None if data is None else orjson.loads(data)

    def hand_over(self, *, from_holder: int, to_holder: int) -> None:
        """A merge: the survivor now holds the merged profile's keys, so that its purge
        destroys them too (the moved rows stay sealed under them)."""
        self._conn.execute(
            update(t.erasure_keys)
            .where(
                t.erasure_keys.c.tenant_id == self._tenant,
                t.erasure_keys.c.holder_id == from_holder,
            )
            .values(holder_id=to_holder)
        )

    def destroy_held_by(self, holder_id: int) -> int:
        """Destroy every key ``holder_id`` holds: their values can no longer be opened."""
        removed = _DESTROY_HELD_BY.run(self._conn, {"tenant": self._tenant, "holder": holder_id})
        # Keys handed over in merges are held under other ids: forget every cached cipher, so
        # the next read asks the table and finds them gone.
        self._ciphers = {}
        return removed


class KeyDestroyed(Exception):
    """A value was to be sealed under a key that is gone: its person is being purged."""

    def __init__(self, key_id: int) -> None:
        super().__init__("the person's key is destroyed")
        self.key_id = key_id
