"""The deployment key as the database knows it: one key per deployment, and its rotation.

Keyed hashes (suppressions, receipts, log subjects) are HMACs under the deployment's secret
key. A process holding another key would compute other hashes and so silently accept every
suppressed identifier again; hence the database records which key it was created with and
every process checks its key against that record before it starts.

Stored in ``deployment`` (no key, only fingerprints: an HMAC of a fixed label under it):
- ``secret_key``: the fingerprint of the current key, recorded at first use;
- ``key:<key id>``: one row per key that has made hashes here, so a key still needed by old
  suppressions cannot be dropped from the configuration unnoticed.
Each suppression row names the key that made its hash (``suppressions.key_id``).

A process starts (``check_key``) when the stored fingerprint is its current key or one of its
previous keys (``OBLIVIATE_PREVIOUS_SECRET_KEYS``: a process already moved to a new key, before
``obliviate keys rotate`` ran), and when every key that still has suppressions is one it holds.
Otherwise it refuses with ``KEY_MISMATCH`` or with a message naming the missing key.

What rotation does: ``obliviate keys rotate`` records the new key as current (new hashes are made
under it; a process holding only the old key can no longer start) and reports, per older key,
how many suppressions still need it; older keys that nothing needs any more are forgotten.

What rotation does not do: re-key old hashes. An HMAC cannot be recomputed without the value it
hides, and a suppression outlives the person precisely so that the value is not kept. So a
suppression keeps the hash its key made, and that key must stay in
``OBLIVIATE_PREVIOUS_SECRET_KEYS`` as long as the report shows it needed (look-ups try every
held key: ``KeyedHasher.all_hashes``). Receipts keep their subject hashes too: they are part of
the receipt chain, which a re-hash would break.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.security import KEY_ID_LENGTH, DeploymentKeys, key_fingerprint
from obliviate.storage import tables as t
from obliviate.storage.engine import writer_lock
from obliviate.storage.savepoints import savepoint
from obliviate.storage.sealing import KEY_BYTES, Vault, derive

KEY_MISMATCH = "secret key does not match the key this database was created with"
CURRENT = "secret_key"
_USED = "key:"


class DeploymentKeyError(Exception):
    """This process's keys do not fit the database. Raised at start-up, before anything is
    served, so no surface maps it (and it is not an ``ObliviateError``)."""


@dataclass(frozen=True, slots=True)
class KeyNeed:
    """How many suppressions still need an older key, and whether this process holds it
    (a held key with none left is kept on record while processes may still use it)."""

    key_id: str
    suppressions: int
    held: bool


@dataclass(frozen=True, slots=True)
class Rotation:
    current_id: str
    changed: bool
    still_needed: tuple[KeyNeed, ...]


@contextlib.contextmanager
def _write(engine: Engine) -> Iterator[Connection]:
    # SQLite: BEGIN IMMEDIATE (the engine's default for writers) serialises processes; the
    # in-process lock keeps this from waiting on SQLite's busy handler.
    lock = writer_lock(engine)
    if lock is not None:
        lock.acquire()
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        if lock is not None:
            lock.release()


def _stored(conn: Connection, name: str) -> str | None:
    row = conn.execute(select(t.deployment.c.fact).where(t.deployment.c.name == name)).first()
    return None if row is None else str(row.fact)


def _insert_once(conn: Connection, name: str, value: str, now: int) -> bool:
    """Insert a row unless it is there; False when another process got there first."""
    try:
        with savepoint(conn):
            conn.execute(insert(t.deployment).values(name=name, fact=value, created_at=now))
    except IntegrityError:
        return False
    return True


def _fingerprints(keys: DeploymentKeys) -> dict[str, str]:
    """Key id -> fingerprint of every key the process holds."""
    prints = [key_fingerprint(k) for k in (keys.current, *keys.previous)]
    return {fp[:KEY_ID_LENGTH]: fp for fp in prints}


def _used_keys(conn: Connection) -> dict[str, str]:
    rows = conn.execute(
        select(t.deployment.c.name, t.deployment.c.fact).where(
            t.deployment.c.name.startswith(_USED, autoescape=True)
        )
    )
    return {r.name.removeprefix(_USED): str(r.fact) for r in rows}


def _suppressions_by_key(conn: Connection, key_ids: list[str]) -> dict[str, int]:
    # One pass over suppressions (no index on key_id): only run when some key is not held,
    # which is rare, or by ``rotate``.
    query = select(t.suppressions.c.key_id, func.count()).group_by(t.suppressions.c.key_id)
    if key_ids:
        query = query.where(t.suppressions.c.key_id.in_(key_ids))
    return {str(key): int(count) for key, count in conn.execute(query) if key is not None}


def _check(conn: Connection, keys: DeploymentKeys, now: int) -> None:
    held = _fingerprints(keys)
    current = key_fingerprint(keys.current)
    stored = _stored(conn, CURRENT)
    if stored is None and _insert_once(conn, CURRENT, current, now):
        # First use. Suppressions from before keys were recorded were made under the key the
        # deployment has been using, which is this one unless the process also holds others.
        unlabelled = t.suppressions.c.key_id.is_(None)
        if (
            keys.previous
            and conn.execute(
                select(func.count()).select_from(t.suppressions).where(unlabelled)
            ).scalar_one()
        ):
            raise DeploymentKeyError(
                "this database holds suppressions from before its key was recorded: start it "
                "once with only the key that made them (no OBLIVIATE_PREVIOUS_SECRET_KEYS)"
            )
        conn.execute(update(t.suppressions).where(unlabelled).values(key_id=keys.current_id))
        stored = current
    stored = stored if stored is not None else _stored(conn, CURRENT)
    if stored not in held.values():
        raise DeploymentKeyError(KEY_MISMATCH)
    _insert_once(conn, _USED + keys.current_id, current, now)
    missing = [kid for kid, fp in _used_keys(conn).items() if fp not in held.values()]
    if not missing:
        return
    for kid, count in sorted(_suppressions_by_key(conn, missing).items()):
        if count:
            raise DeploymentKeyError(
                f"{count} suppressions were made under secret key {kid}, which this process "
                "does not hold: keep that key in OBLIVIATE_PREVIOUS_SECRET_KEYS"
            )


def _in_force(keys: DeploymentKeys, stored: str | None) -> DeploymentKeys:
    """The keys this process hashes with: until ``keys rotate`` records the new key, the one
    the database names stays current, so processes not yet given the new key still match
    every suppression made meanwhile; the new one is only accepted for look-ups."""
    for old in keys.previous:
        if key_fingerprint(old) == stored:
            others = tuple(k for k in keys.previous if k != old)
            return DeploymentKeys(current=old, previous=(keys.current, *others))
    return keys


def check_key(engine: Engine, keys: DeploymentKeys, *, now: int) -> DeploymentKeys:
    """Record the key at first use; raise ``DeploymentKeyError`` if this process may not run.
    Returns the keys to hash with (see ``_in_force``)."""
    with _write(engine) as conn:
        in_force = _in_force(keys, _stored(conn, CURRENT))
        _check(conn, in_force, now)
    return in_force


def rotate(engine: Engine, keys: DeploymentKeys, *, now: int) -> Rotation:
    """Make ``keys.current`` the deployment's key; report which older keys are still needed."""
    current = key_fingerprint(keys.current)
    with _write(engine) as conn:
        _check(conn, keys, now)
        changed = _stored(conn, CURRENT) != current
        if changed:
            conn.execute(
                update(t.deployment)
                .where(t.deployment.c.name == CURRENT)
                .values(fact=current, created_at=now)
            )
        held = _fingerprints(keys)
        counts = _suppressions_by_key(conn, [])
        needs: list[KeyNeed] = []
        for kid in sorted(_used_keys(conn)):
            if kid == keys.current_id:
                continue
            if counts.get(kid, 0) == 0 and kid not in held:
                # Dropped from the configuration and nothing made under it is left. A key still
                # held is kept on record: a process may still be making hashes with it.
                conn.execute(delete(t.deployment).where(t.deployment.c.name == _USED + kid))
                continue
            needs.append(KeyNeed(kid, counts.get(kid, 0), kid in held))
        vault_on(conn, keys, now=now)
    return Rotation(current_id=keys.current_id, changed=changed, still_needed=tuple(needs))


# The vault key (storage/sealing.py), wrapped under the deployment secret: random, made once.
VAULT = "vault"
_VAULT_AAD = b"obliviate vault v1"


def _vault_cipher(secret: bytes) -> AESGCM:
    return AESGCM(derive(secret, "obliviate vault wrap v1"))


def _wrap_vault(secret: bytes, vault_key: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + _vault_cipher(secret).encrypt(nonce, vault_key, _VAULT_AAD)
    ).decode()


def _unwrap_vault(keys: DeploymentKeys, stored: str) -> tuple[bytes, bytes]:
    """The vault key and the secret that opened it (the current one first)."""
    blob = base64.b64decode(stored)
    for secret in (keys.current, *keys.previous):
        try:
            return _vault_cipher(secret).decrypt(blob[:12], blob[12:], _VAULT_AAD), secret
        except InvalidTag:
            continue
    raise DeploymentKeyError(
        "no secret key this process holds opens the database's vault: start it with the key "
        "the vault was made under (in OBLIVIATE_PREVIOUS_SECRET_KEYS during a rotation)"
    )


def vault_for_migration(conn: Connection, keys: DeploymentKeys | None, *, needs: str) -> Vault:
    """The vault for a migration that reads or seals person values; ``needs`` says what for,
    in the error a migration run without the deployment's keys gets."""
    if keys is None:
        raise DeploymentKeyError(
            f"this database holds {needs}: migrate it with its secret key "
            "(obliviate migrate or obliviate serve, with OBLIVIATE_SECRET_KEY set as usual)"
        )
    now = int(time.time() * 1000)
    keys = _in_force(keys, _stored(conn, CURRENT))
    _check(conn, keys, now)
    return vault_on(conn, keys, now=now)


def vault_on(conn: Connection, keys: DeploymentKeys, *, now: int) -> Vault:
    """The deployment's vault, made at first use; re-wrapped under the current key when a
    previous one opened it (a rotation touches this one row, no stored value or hash)."""
    stored = _stored(conn, VAULT)
    if stored is None:
        _insert_once(conn, VAULT, _wrap_vault(keys.current, os.urandom(KEY_BYTES)), now)
        stored = _stored(conn, VAULT)
        assert stored is not None
    vault_key, opened_with = _unwrap_vault(keys, stored)
    if opened_with != keys.current:
        conn.execute(
            update(t.deployment)
            .where(t.deployment.c.name == VAULT)
            .values(fact=_wrap_vault(keys.current, vault_key), created_at=now)
        )
    return Vault(vault_key)


def read_vault(conn: Connection, keys: DeploymentKeys) -> Vault:
    """The vault as it stands, writing nothing (``DeploymentKeyError`` if it is absent or no
    key opens it): for reading a database another process owns."""
    stored = _stored(conn, VAULT)
    if stored is None:
        raise DeploymentKeyError("this database has no vault yet")
    return Vault(_unwrap_vault(keys, stored)[0])


def load_vault(engine: Engine, keys: DeploymentKeys, *, now: int) -> Vault:
    with _write(engine) as conn:
        return vault_on(conn, keys, now=now)
