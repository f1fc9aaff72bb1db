"""Person rows written straight into the database, sealed as the server seals them.

bulk.py (SQLite) and postgres.py (PostgreSQL) write people and events without the server, for
speed. The server keeps every value of a person sealed with AES-GCM under that person's own
key and finds identifiers by keyed hash (src/obliviate/storage/sealing.py), so these rows are
made with the server's own code: the deployment's vault (read from the database and opened
with the deployment secret, as a server process does), its lookup hash, its key wrapping and
its ``Keyring`` sealing. A person's key has the profile id as key id and holder, as
``SqlProfiles.insert`` makes it.

obliviate is imported at run time (importlib), so the bench's type check does not follow into
src.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import orjson

UUID = "uuid"
EMAIL = "email"


def _module(name: str) -> Any:
    return importlib.import_module(name)


def sqlite_secret(db_path: Path) -> bytes:
    """The deployment secret a SQLite install without OBLIVIATE_SECRET_KEY keeps beside its
    database (made by the server at its first start)."""
    return (db_path.parent / "secret.key").read_bytes().strip()


class PersonKey:
    """One person's key, sealing as the server does (key id, nonce, ciphertext and tag)."""

    def __init__(self, keyring: Any, key_id: int) -> None:
        self._keyring = keyring
        self._key_id = key_id

    def seal(self, data: bytes) -> bytes:
        return bytes(self._keyring.seal(self._key_id, data))

    def seal_json(self, value: object) -> bytes:
        return self.seal(orjson.dumps(value))

    def seal_text(self, value: str) -> bytes:
        return self.seal(value.encode())


class Sealer:
    """Keys, hashes and seals for one tenant's people on one database."""

    def __init__(self, database_url: str, secret: bytes, tenant: str) -> None:
        engine_module = _module("obliviate.storage.engine")
        deployment_keys = _module("obliviate.storage.deployment_keys")
        security = _module("obliviate.security")
        engine = engine_module.make_engine(database_url, pool_size=1)
        try:
            self._vault = deployment_keys.load_vault(
                engine, security.DeploymentKeys(current=secret), now=int(time.time() * 1000)
            )
        finally:
            engine.dispose()
        self._sealing = _module("obliviate.storage.sealing")
        self._aesgcm = _module("cryptography.hazmat.primitives.ciphers.aead").AESGCM
        self._email_of = _module("obliviate.domain.identifiers").stored_email_of_attributes
        self.tenant = tenant

    def lookup_hash(self, kind: str, value: str) -> str:
        return str(self._vault.lookup_hash(kind, value))

    def email_hash(self, attributes: dict[str, object]) -> str | None:
        """``profiles.email_hash`` of a profile with these attributes."""
        email = self._email_of(attributes)
        return None if email is None else self.lookup_hash(EMAIL, str(email))

    def new_key(self, key_id: int) -> bytes:
        """A new person key, wrapped as ``erasure_keys.wrapped`` stores it."""
        key = self._aesgcm.generate_key(bit_length=self._sealing.KEY_BYTES * 8)
        return bytes(self._vault.wrap(self.tenant, key_id, key))

    def person(self, key_id: int, wrapped: bytes) -> PersonKey:
        """The key ``wrapped`` opens, for sealing that person's values."""
        # A keyring of its own (it caches every key it opens); ``prime`` needs no connection.
        keyring = self._sealing.Keyring(None, self.tenant, self._vault)
        keyring.prime(key_id, wrapped)
        return PersonKey(keyring, key_id)
