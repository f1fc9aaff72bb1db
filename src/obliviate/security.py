"""Secrets are stored as hashes and compared in constant time; subjects appear only keyed-hashed."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random tokens, so a fast hash cannot be brute-forced; a slow KDF
    # would only add latency to every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


class KeyedHasher:
    """HMAC-SHA256 of an identifier under the instance key: stable, not reversible."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, id_type: str, value: str) -> str:
        return hmac.new(self._key, f"{id_type}\x00{value}".encode(), hashlib.sha256).hexdigest()
