"""Secrets are stored as hashes and compared in constant time; subjects appear only keyed-hashed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random tokens, so a fast hash cannot be brute-forced; a slow KDF
    # would only add latency to every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


# What the database keeps of the deployment key: an HMAC of a fixed label under it. It tells
# keys apart and gives away no more of the key than any keyed hash stored beside it does.
_FINGERPRINT_LABEL = b"obliviate deployment key fingerprint v1"
KEY_ID_LENGTH = 16


def key_fingerprint(key: bytes) -> str:
    return hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short name for a key (a prefix of its fingerprint), stored beside each hash it made."""
    return key_fingerprint(key)[:KEY_ID_LENGTH]


def _keyed(key: bytes, id_type: str, value: str) -> str:
    return hmac.new(key, f"{id_type}\x00{value}".encode(), hashlib.sha256).hexdigest()


class KeyedHasher:
    """HMAC-SHA256 of an identifier under the instance key: stable, not reversible.

    ``previous`` keys are still accepted for look-ups (``all_hashes``) after a rotation."""

    def __init__(self, key: bytes, previous: tuple[bytes, ...] = ()) -> None:
        self._key = key
        self._previous = previous

    def __call__(self, id_type: str, value: str) -> str:
        return _keyed(self._key, id_type, value)

    @property
    def key_id(self) -> str:
        """The id of the key new hashes are made with."""
        return key_id(self._key)

    def all_hashes(self, id_type: str, value: str) -> tuple[str, ...]:
        current = _keyed(self._key, id_type, value)
        if not self._previous:
            return (current,)
        return (current, *(_keyed(k, id_type, value) for k in self._previous))


@dataclass(frozen=True, slots=True)
class DeploymentKeys:
    """The deployment's current key and the ones it replaced (newest first); never printed."""

    current: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    def hasher(self) -> KeyedHasher:
        return KeyedHasher(self.current, previous=self.previous)

    @property
    def current_id(self) -> str:
        return key_id(self.current)
