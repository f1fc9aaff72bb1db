"""SQL for profiles, bound to one tenant.

``SqlProfiles`` is one repository (the ``Profiles`` port) put together from the modules of the
tables it spans: identifiers.py, merges.py and profile_listing.py hold their parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, func, insert, select

from obliviate.domain.profiles import Profile, ProfileState
from obliviate.storage import tables as t
from obliviate.storage.ids import new_id
from obliviate.storage.prepared import Prepared
from obliviate.storage.repositories.codec import (
    ACCOUNT_LINK,
    EMAIL,
    WITH_KEY,
    decode_profile,
    profiles_with_key,
)
from obliviate.storage.repositories.identifiers import IdentifierRows
from obliviate.storage.repositories.merges import MergeRows
from obliviate.storage.repositories.profile_listing import ProfileListing
from obliviate.storage.repositories.staged_batch import PersonEvents, StagedBatch
from obliviate.storage.repositories.staging import MISSING, SAVE_PROFILE, Sealer, Stage

P = TypeVar("P")
R = TypeVar("R")

# The statements of the hot paths (get, create, update, delete), built once and run on the
# DBAPI cursor (prepared.py: about 45 µs per statement through Connection.execute against
# about 4 µs this way). Each still names the tenant as a bound parameter, so none can leave
# it out. A profile is read with its own key joined, which saves a query per read.
_BY_IDENTIFIER_STATEMENT = (
    select(t.profiles, t.erasure_keys.c.wrapped)
    .join(
        t.identifiers,
        and_(
            t.identifiers.c.tenant_id == t.profiles.c.tenant_id,
            t.identifiers.c.profile_id == t.profiles.c.profile_id,
        ),
    )
    .outerjoin(t.erasure_keys, WITH_KEY)
    .where(
        t.identifiers.c.tenant_id == bindparam("tenant"),
        t.identifiers.c.id_type == bindparam("id_type"),
        t.identifiers.c.value_hash == bindparam("value_hash"),
    )
)
_BY_IDENTIFIER = Prepared(_BY_IDENTIFIER_STATEMENT)
_BY_IDENTIFIER_FOR_UPDATE = Prepared(_BY_IDENTIFIER_STATEMENT.with_for_update(of=t.profiles))
_BY_ID_STATEMENT = profiles_with_key().where(
    t.profiles.c.tenant_id == bindparam("tenant"),
    t.profiles.c.profile_id == bindparam("profile_id"),
)
_BY_ID = Prepared(_BY_ID_STATEMENT)
_BY_ID_FOR_UPDATE = Prepared(_BY_ID_STATEMENT.with_for_update(of=t.profiles))
_INSERT_PROFILE = Prepared(insert(t.profiles))
_ACTIVE_OF_ACCOUNT = Prepared(
    profiles_with_key()
    .where(
        t.profiles.c.tenant_id == bindparam("tenant"),
        t.profiles.c.account_hash == bindparam("account_hash"),
        t.profiles.c.state == bindparam("active"),
    )
    .order_by(t.profiles.c.profile_id)
)
_BY_EMAIL_ATTRIBUTE = Prepared(
    profiles_with_key().where(
        t.profiles.c.tenant_id == bindparam("tenant"),
        t.profiles.c.email_hash == bindparam("email_hash"),
        t.profiles.c.state != bindparam("purging"),
    )
)


class SqlProfiles(IdentifierRows, MergeRows, ProfileListing):
    def lookup_hash(self, id_type: str, value: str) -> str:
        stage = self._stage
        return self._hash(id_type, value) if stage is None else stage.hash(id_type, value)

    def _sealer(self) -> Sealer:
        return Sealer(self._tenant, self._keys, self._hash)

    # -- a staged batch (staging.py) ---------------------------------------------------

    def run_staged(
        self,
        pairs: Sequence[tuple[str, str]],
        people: Sequence[P],
        run: Callable[[P], R],
        *,
        refused: tuple[type[Exception], ...],
        events: Callable[[P, R], PersonEvents],
        write_events: Callable[[PersonEvents], None],
    ) -> list[R | Exception]:
        if self._stage is not None:
            raise RuntimeError("a staged batch is running on this unit of work")
        self._stage = stage = Stage(self._conn, self._sealer())
        try:
            stage.prefetch(pairs)
            batch = StagedBatch(
                self._conn, stage, run, refused=refused, events=events, write_events=write_events
            )
            for person in people:
                batch.add(person)
            batch.write_held()
        finally:
            self._stage = None
        return batch.results

    # -- profiles ------------------------------------------------------------------------

    def active_of_account(self, account_id: str) -> list[Profile]:
        self._settle()
        rows = _ACTIVE_OF_ACCOUNT.rows(
            self._conn,
            {
                "tenant": self._tenant,
                "account_hash": self._hash(ACCOUNT_LINK, account_id),
                "active": ProfileState.ACTIVE.value,
            },
        )
        return [decode_profile(r, self._keys) for r in rows]

    def count_of_accounts(self, account_ids: Sequence[str]) -> dict[str, int]:
        """Active users per account, in one query."""
        self._settle()
        by_hash = {self._hash(ACCOUNT_LINK, a): a for a in account_ids}
        counts = dict.fromkeys(account_ids, 0)
        if not by_hash:
            return counts
        rows = self._conn.execute(
            select(t.profiles.c.account_hash, func.count())
            .where(
                t.profiles.c.tenant_id == self._tenant,
                t.profiles.c.state == ProfileState.ACTIVE.value,
                t.profiles.c.account_hash.in_(list(by_hash)),
            )
            .group_by(t.profiles.c.account_hash)
        )
        for account_hash, count in rows:
            counts[by_hash[account_hash]] = int(count)
        return counts

    def find_by_identifier(
        self, id_type: str, value: str, *, for_update: bool = False
    ) -> Profile | None:
        return self.find_by_lookup_hash(
            id_type, self.lookup_hash(id_type, value), for_update=for_update
        )

    def find_by_lookup_hash(
        self, id_type: str, value_hash: str, *, for_update: bool = False
    ) -> Profile | None:
        stage = self._stage
        if stage is not None:
            pid = stage.idents.get((id_type, value_hash), MISSING)
            if pid is None:
                return None
            if pid is not MISSING:
                return self.get(pid, for_update=for_update)
        query = _BY_IDENTIFIER_FOR_UPDATE if for_update else _BY_IDENTIFIER
        row = query.first(
            self._conn, {"tenant": self._tenant, "id_type": id_type, "value_hash": value_hash}
        )
        if row is None:
            return None
        profile = decode_profile(row, self._keys)
        if stage is not None:
            stage.saw(profile.profile_id, profile, locked=for_update)
            stage.put(stage.idents, (id_type, value_hash), profile.profile_id)
        return profile

    def get(self, profile_id: int, *, for_update: bool = False) -> Profile | None:
        stage = self._stage
        if stage is not None:
            found = stage.profiles.get(profile_id, MISSING)
            if found is not MISSING and (not for_update or stage.locked.get(profile_id)):
                return found  # type: ignore[no-any-return]
        query = _BY_ID_FOR_UPDATE if for_update else _BY_ID
        row = query.first(self._conn, {"tenant": self._tenant, "profile_id": profile_id})
        profile = None if row is None else decode_profile(row, self._keys)
        if stage is not None:
            stage.saw(profile_id, profile, locked=for_update)
        return profile

    def insert(self, *, attributes: dict[str, Any], now: int) -> Profile:
        stage = self._stage
        if stage is not None and stage.scope == "held":
            return stage.insert(attributes, now)
        profile_id = new_id(now)
        self._keys.create(profile_id, holder_id=profile_id, now=now)
        profile = Profile(profile_id, ProfileState.ACTIVE, attributes, now, now, None, None)
        _INSERT_PROFILE.run(self._conn, self._sealer().insert_row(profile))
        if stage is not None:
            stage.created(profile)
        return profile

    def save(self, profile: Profile) -> None:
        stage = self._stage
        if stage is not None and stage.scope == "held":
            stage.save(profile)
            return
        SAVE_PROFILE.run(self._conn, self._sealer().save_params(profile))
        if stage is not None:
            stage.put(stage.profiles, profile.profile_id, profile)

    def with_email_attribute(self, email: str) -> list[Profile]:
        """Profiles (active or soft-deleted) whose ``email`` attribute is this canonical email."""
        return self.with_email_lookup_hash(self._hash(EMAIL, email))

    def with_email_lookup_hash(self, email_hash: str) -> list[Profile]:
        self._settle()
        rows = _BY_EMAIL_ATTRIBUTE.rows(
            self._conn,
            {
                "tenant": self._tenant,
                "email_hash": email_hash,
                "purging": ProfileState.PURGING.value,
            },
        )
        return [decode_profile(r, self._keys) for r in rows]

    def shred(self, profile_id: int, device_ids: Sequence[int] = ()) -> int:
        """Destroy the keys of the profile, of everyone merged into it and of the given
        devices: from here on no copy of their sealed values, wherever it lies, can be
        opened. Returns how many keys were destroyed."""
        stage = self._settle()
        destroyed = sum(self._keys.destroy_held_by(h) for h in (profile_id, *device_ids))
        if stage is not None:
            stage.drop(stage.profiles, profile_id)
        return destroyed
