"""A staged batch of people on the profiles repository: read at once, written at once.

``SqlProfiles.stage`` reads (and locks, in ascending profile id) every profile a batch's
identifiers name, with those profiles' identifiers, in a few ``IN (...)`` queries. Until
``unstage``, the ordinary look-ups (``find_by_identifier``, ``get``, ``identifiers_of``) answer
from what was read, kept current by the repository's own writes, and a miss asks the database
as before. Each person of the batch runs in a scope (``person``):

- held: no savepoint around it. New profiles and their keys, identifiers and saves are held
  back in memory and written by ``flush`` in one statement per table; a failure takes back
  what the person did from the journal. A write the stage cannot hold back (a merge, a purge,
  anything else) raises ``NeedsSavepoint`` before it touches anything: the caller takes the
  person back and runs it again, in a savepoint.
- saved: a savepoint around it. Writes go to the database at once, exactly as unstaged, and
  update the answers; a failure takes those back from the journal, and the savepoint the rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import BigInteger, Connection, String, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from obliviate.domain.accounts import account_of_attributes
from obliviate.domain.identifiers import stored_email_of_attributes
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.services.ports import IdentifierTaken, NeedsSavepoint
from obliviate.storage import tables as t
from obliviate.storage.ids import new_id
from obliviate.storage.prepared import Prepared
from obliviate.storage.repositories.batched import ByKeys, PreparedMany
from obliviate.storage.repositories.codec import (
    ACCOUNT_LINK,
    EMAIL,
    SealedRows,
    decode_profile,
    profiles_with_key,
)
from obliviate.storage.savepoints import savepoint
from obliviate.storage.sealing import KEY_BYTES, Keyring

Key = tuple[str, str]  # (id_type, lookup hash)
MISSING: Any = object()  # not known to the stage: ask the database

_TENANT = t.identifiers.c.tenant_id == bindparam("tenant")
_HOLDERS = ByKeys(
    lambda match: select(t.identifiers.c.value_hash, t.identifiers.c.profile_id).where(
        _TENANT,
        t.identifiers.c.id_type == bindparam("id_type"),
        match(t.identifiers.c.value_hash),
    ),
    String,
)
_HOLDER = Prepared(
    select(t.identifiers.c.profile_id).where(
        _TENANT,
        t.identifiers.c.id_type == bindparam("id_type"),
        t.identifiers.c.value_hash == bindparam("value_hash"),
    )
)
# Asked in ascending id, so that two batches lock the profiles they share in the same order.
_PROFILES = ByKeys(
    lambda match: (
        profiles_with_key()
        .where(t.profiles.c.tenant_id == bindparam("tenant"), match(t.profiles.c.profile_id))
        .with_for_update(of=t.profiles)
    ),
    BigInteger,
)
_IDENTIFIERS_OF = ByKeys(
    lambda match: select(
        t.identifiers.c.profile_id, t.identifiers.c.id_type, t.identifiers.c.sealed_value
    ).where(_TENANT, match(t.identifiers.c.profile_id)),
    BigInteger,
)
_INSERT_KEYS = PreparedMany(insert(t.erasure_keys))
_INSERT_PROFILES = PreparedMany(insert(t.profiles))
_INSERT_IDENTIFIERS = PreparedMany(insert(t.identifiers))
SAVE_PROFILE = PreparedMany(
    update(t.profiles)
    .where(
        t.profiles.c.tenant_id == bindparam("tenant"),
        t.profiles.c.profile_id == bindparam("pid"),
    )
    .values(
        state=bindparam("new_state"),
        attributes=bindparam("new_attributes"),
        updated_at=bindparam("new_updated_at"),
        deleted_at=bindparam("new_deleted_at"),
        revivable_until=bindparam("new_revivable_until"),
        deletion_request=bindparam("new_deletion_request"),
        email_hash=bindparam("new_email_hash"),
        account_hash=bindparam("new_account_hash"),
    )
)


@dataclass(frozen=True, slots=True)
class Sealer:
    """A profile's row and its save, as one tenant seals and hashes them."""

    tenant: str
    keys: Keyring
    hash: Callable[[str, str], str]

    def _links(self, attributes: dict[str, Any]) -> tuple[str | None, str | None]:
        email = stored_email_of_attributes(attributes)
        account = account_of_attributes(attributes)
        return (
            None if email is None else self.hash(EMAIL, email),
            None if account is None else self.hash(ACCOUNT_LINK, account),
        )

    def insert_row(self, profile: Profile) -> dict[str, Any]:
        email_hash, account_hash = self._links(profile.attributes)
        return {
            "tenant_id": self.tenant,
            "profile_id": profile.profile_id,
            "state": profile.state.value,
            "attributes": self.keys.seal_json(profile.profile_id, profile.attributes),
            "email_hash": email_hash,
            "account_hash": account_hash,
            "created_at": profile.created_at,
            "updated_at": profile.updated_at,
        }

    def save_params(self, profile: Profile) -> dict[str, Any]:
        email_hash, account_hash = self._links(profile.attributes)
        return {
            "tenant": self.tenant,
            "pid": profile.profile_id,
            "new_state": profile.state.value,
            "new_attributes": self.keys.seal_json(profile.profile_id, profile.attributes),
            "new_updated_at": profile.updated_at,
            "new_deleted_at": profile.deleted_at,
            "new_revivable_until": profile.revivable_until,
            "new_deletion_request": profile.deletion_request,
            "new_email_hash": email_hash,
            "new_account_hash": account_hash,
        }


class Stage:
    def __init__(self, conn: Connection, sealer: Sealer) -> None:
        self._conn = conn
        self._sealer = sealer
        self._tenant = sealer.tenant
        # Row locks are what make a read stay true until the commit; SQLite has one writer.
        self._locks = conn.dialect.name != "sqlite"
        self._hashes: dict[tuple[str, str], str] = {}
        # What is known: identifier -> the profile id its row names (None: no row), profile
        # id -> profile (None: no row), which are locked, and a profile's sorted identifiers.
        self.idents: dict[Key, int | None] = {}
        self.profiles: dict[int, Profile | None] = {}
        self.locked: dict[int, bool] = {}
        self.held: dict[int, list[tuple[str, str]]] = {}
        # Held back until ``flush``.
        self._keys: dict[int, dict[str, Any]] = {}
        self._inserts: dict[int, Profile] = {}
        self._saves: dict[int, Profile] = {}
        self._identifiers: dict[Key, tuple[int, str, dict[str, Any]]] = {}
        self._journal: list[tuple[dict[Any, Any], Any, Any]] = []
        self.scope: str | None = None  # None, "held" or "saved"

    def hash(self, id_type: str, value: str) -> str:
        found = self._hashes.get((id_type, value))
        if found is None:
            found = self._hashes[id_type, value] = self._sealer.hash(id_type, value)
        return found

    # -- what a person changes, taken back when it fails --------------------------------

    def put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        if self.scope is not None:
            self._journal.append((mapping, key, mapping.get(key, MISSING)))
        mapping[key] = value

    def drop(self, mapping: dict[Any, Any], key: Any) -> None:
        if key in mapping:
            if self.scope is not None:
                self._journal.append((mapping, key, mapping[key]))
            del mapping[key]

    @contextlib.contextmanager
    def person(self, *, saved: bool) -> Iterator[None]:
        if self.scope is not None:
            raise RuntimeError("people of a stage run one at a time")
        self.scope = "saved" if saved else "held"
        try:
            yield
        except BaseException:
            for mapping, key, old in reversed(self._journal):
                if old is MISSING:
                    mapping.pop(key, None)
                else:
                    mapping[key] = old
            raise
        finally:
            self.scope = None
            self._journal.clear()

    def settle(self) -> None:
        """Before SQL the stage does not follow: nothing may stay held back behind it."""
        if self.scope == "held":
            raise NeedsSavepoint()
        self.flush()

    def forget(self) -> None:
        """After such SQL, when what it changed is not known: ask the database again."""
        self.idents.clear()
        self.profiles.clear()
        self.held.clear()

    # -- reading a batch at once ---------------------------------------------------------

    def prefetch(self, pairs: Iterable[tuple[str, str]]) -> None:
        wanted: dict[str, set[str]] = {}
        for id_type, value in pairs:
            value_hash = self.hash(id_type, value)
            if (id_type, value_hash) not in self.idents:
                wanted.setdefault(id_type, set()).add(value_hash)
        if not wanted:
            return
        found = self._holders(wanted)
        pids = sorted({p for p in found.values() if not self.locked.get(p)})
        self._load(pids)
        unstable: set[Key] = set()
        if self._locks and pids:
            # A concurrent merge may have moved an identifier before the locks were held.
            again = self._holders(wanted)
            unstable = {k for k in found.keys() | again.keys() if found.get(k) != again.get(k)}
        for id_type, hashes in wanted.items():
            for value_hash in hashes:
                key = (id_type, value_hash)
                if key not in unstable:
                    self.idents[key] = found.get(key)
        self._load_held([p for p in pids if self.profiles.get(p) is not None])

    def _holders(self, wanted: dict[str, set[str]]) -> dict[Key, int]:
        found: dict[Key, int] = {}
        for id_type, hashes in wanted.items():
            params = {"tenant": self._tenant, "id_type": id_type}
            for row in _HOLDERS.rows(self._conn, sorted(hashes), params):
                found[id_type, row.value_hash] = int(row.profile_id)
        return found

    def _load(self, pids: list[int]) -> None:
        keys = self._sealer.keys
        for pid in pids:
            self.profiles[pid] = None
            self.locked[pid] = True
        for row in _PROFILES.rows(self._conn, pids, {"tenant": self._tenant}):
            self.profiles[row.profile_id] = decode_profile(row, keys)

    def _load_held(self, pids: list[int]) -> None:
        held: dict[int, list[tuple[str, str]]] = {pid: [] for pid in pids}
        for row in _IDENTIFIERS_OF.rows(self._conn, pids, {"tenant": self._tenant}):
            value = self._sealer.keys.open_text(row.sealed_value)
            if value is not None:
                held[row.profile_id].append((row.id_type, value))
        for pid, pairs in held.items():
            self.held[pid] = sorted(pairs)

    def holder(self, key: Key) -> int | None:
        """Who holds an identifier, asking the database when the stage does not know."""
        pid = self.idents.get(key, MISSING)
        if pid is MISSING:
            row = _HOLDER.first(
                self._conn, {"tenant": self._tenant, "id_type": key[0], "value_hash": key[1]}
            )
            pid = None if row is None else int(row.profile_id)
            self.put(self.idents, key, pid)
        return pid  # type: ignore[no-any-return]

    def pending_of(self, profile_id: int) -> list[tuple[str, str]]:
        return [
            (key[0], value)
            for key, (pid, value, _row) in self._identifiers.items()
            if pid == profile_id
        ]

    # -- writes ------------------------------------------------------------------------

    def saw(self, profile_id: int, profile: Profile | None, *, locked: bool) -> None:
        self.put(self.profiles, profile_id, profile)
        if locked:
            self.put(self.locked, profile_id, True)

    def created(self, profile: Profile) -> None:
        self.saw(profile.profile_id, profile, locked=True)
        self.put(self.held, profile.profile_id, [])

    def insert(self, attributes: dict[str, Any], now: int) -> Profile:
        """A new profile and its key, held back (the key made as ``Keyring.create`` does)."""
        profile_id = new_id(now)
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        wrapped = self._sealer.keys.vault.wrap(self._tenant, profile_id, key)
        self._sealer.keys.prime(profile_id, wrapped)
        row = {
            "tenant_id": self._tenant,
            "key_id": profile_id,
            "holder_id": profile_id,
            "wrapped": wrapped,
            "created_at": now,
        }
        self.put(self._keys, profile_id, row)
        profile = Profile(profile_id, ProfileState.ACTIVE, attributes, now, now, None, None)
        self.put(self._inserts, profile_id, profile)
        self.created(profile)
        return profile

    def save(self, profile: Profile) -> None:
        pid = profile.profile_id
        self.put(self._inserts if pid in self._inserts else self._saves, pid, profile)
        self.put(self.profiles, pid, profile)

    def added(self, id_type: str, value: str, profile_id: int) -> None:
        """An identifier now held by ``profile_id``."""
        self.put(self.idents, (id_type, self.hash(id_type, value)), profile_id)
        pairs = self.held.get(profile_id)
        if pairs is not None:
            self.put(self.held, profile_id, sorted([*pairs, (id_type, value)]))

    def add_identifier(self, id_type: str, value: str, profile_id: int, now: int) -> None:
        key = (id_type, self.hash(id_type, value))
        if self.holder(key) is not None:
            raise IdentifierTaken(id_type, value)
        row = {
            "tenant_id": self._tenant,
            "id_type": id_type,
            "value_hash": key[1],
            "sealed_value": self._sealer.keys.seal_text(profile_id, value),
            "profile_id": profile_id,
            "created_at": now,
        }
        self.put(self._identifiers, key, (profile_id, value, row))
        self.added(id_type, value, profile_id)

    def moved(self, from_id: int, to_id: int | None) -> None:
        """Every identifier of ``from_id`` now held by ``to_id`` (None: released)."""
        for key, pid in list(self.idents.items()):
            if pid == from_id:
                self.put(self.idents, key, to_id)
        moved, kept = self.held.get(from_id), self.held.get(to_id) if to_id else None
        if to_id is not None:
            if moved is not None and kept is not None:
                self.put(self.held, to_id, sorted(kept + moved))
            else:
                self.drop(self.held, to_id)
        self.put(self.held, from_id, [])

    def flush(self) -> None:
        """Write what is held back, in one savepoint: all of it, or (IdentifierTaken, when
        another transaction took a held identifier meanwhile) none of it."""
        if self.scope == "held":
            raise RuntimeError("a held person is written with the rest of the batch")
        if not (self._keys or self._inserts or self._saves or self._identifiers):
            return
        keys, inserts, saves = list(self._keys.values()), self._inserts, self._saves
        # In key order: two batches inserting the same new identifiers wait on each other
        # instead of deadlocking.
        identifiers = [self._identifiers[k][2] for k in sorted(self._identifiers)]
        self._keys, self._inserts, self._saves, self._identifiers = {}, {}, {}, {}
        try:
            with savepoint(self._conn):
                _INSERT_KEYS.run_many(self._conn, keys)
                _INSERT_PROFILES.run_many(
                    self._conn, [self._sealer.insert_row(p) for p in inserts.values()]
                )
                _INSERT_IDENTIFIERS.run_many(self._conn, identifiers)
                SAVE_PROFILE.run_many(
                    self._conn, [self._sealer.save_params(p) for p in saves.values()]
                )
        except IntegrityError as exc:
            self.forget()
            raise IdentifierTaken("identifiers", "") from exc


class StagedRows(SealedRows):
    """The part of ``SqlProfiles`` every table module shares: its stage, while one is on."""

    _stage: Stage | None = None

    def _settle(self) -> Stage | None:
        stage = self._stage
        if stage is not None:
            stage.settle()
        return stage
