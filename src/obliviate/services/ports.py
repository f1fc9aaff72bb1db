"""What the services need from storage, as protocols the storage package implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, TypeVar

from obliviate.domain.accounts import Account
from obliviate.domain.devices import Device
from obliviate.domain.events import NewEvent, StoredEvent
from obliviate.domain.exports import ExportedDevice, ExportedEvent, ExportedMerge, ExportedReceipt
from obliviate.domain.forgetting import ForgetEntry
from obliviate.domain.guard import DeletionKind
from obliviate.domain.profiles import Profile

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")


class IdentifierTaken(Exception):
    """Storage refused an identifier that another profile already holds."""

    def __init__(self, id_type: str, value: str) -> None:
        super().__init__(id_type)
        self.id_type = id_type
        self.value = value


class NeedsSavepoint(Exception):
    """A person of a staged batch, run without a savepoint, was about to write something
    the stage cannot take back from memory (a merge, a purge): nothing of it was written.
    Run the person again inside a savepoint."""


@dataclass(frozen=True, slots=True)
class RetiredDevices:
    device_ids: tuple[int, ...]
    aliases: int


class AliasTaken(Exception):
    """Storage refused an alias bound concurrently to another device."""


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    identifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class FoldedPeople:
    """How many people one profile stands for: those merged into it (directly or through
    earlier merges) and the uuids it holds (an upsert naming a new uuid and a shared email
    attaches that person to the profile without a merge)."""

    merged: int
    uuids: int

    @property
    def people(self) -> int:
        return max(1 + self.merged, self.uuids)


class Profiles(Protocol):
    def find_by_identifier(
        self, id_type: str, value: str, *, for_update: bool = False
    ) -> Profile | None: ...
    def lookup_hash(self, id_type: str, value: str) -> str:
        """The keyed hash a canonical identifier is stored and found by (not the
        suppression hash: it never changes with a rotation of the deployment secret)."""
        ...

    def find_by_lookup_hash(
        self, id_type: str, value_hash: str, *, for_update: bool = False
    ) -> Profile | None: ...
    def with_email_lookup_hash(self, email_hash: str) -> list[Profile]: ...
    def active_of_account(self, account_id: str) -> list[Profile]:
        """Active profiles whose ``accountId`` attribute names this account."""
        ...

    def count_of_accounts(self, account_ids: Sequence[str]) -> dict[str, int]:
        """Active users per account, in one query."""
        ...

    def merged_into(self, profile_id: int) -> list[int]: ...
    def shred(self, profile_id: int, device_ids: Sequence[int] = ()) -> int: ...
    def get(self, profile_id: int, *, for_update: bool = False) -> Profile | None: ...
    def insert(self, *, attributes: dict[str, Any], now: int) -> Profile: ...
    def add_identifier(self, *, id_type: str, value: str, profile_id: int, now: int) -> None: ...
    def save(self, profile: Profile) -> None: ...
    def release_identifiers(self, profile_id: int) -> int: ...
    def identifiers_of(self, profile_id: int) -> list[tuple[str, str]]: ...
    def remove_identifier(self, id_type: str, value: str) -> None: ...
    def change_identifier(self, id_type: str, old: str, new_type: str, new: str) -> None: ...
    def absorb(self, *, survivor_id: int, merged_id: int, now: int) -> dict[str, int]: ...
    def uuids_of(self, profile_ids: Sequence[int]) -> dict[int, str]: ...
    def list_active(
        self, flt: ProfileFilter, *, after: int | None, limit: int, descending: bool
    ) -> list[Profile]: ...
    def count_active(self, flt: ProfileFilter) -> int: ...
    def expired_soft_deleted(self, *, now: int, limit: int) -> list[Profile]: ...
    def with_email_attribute(self, email: str) -> list[Profile]: ...
    def survivor_of(self, profile_id: int) -> int | None: ...
    def folded(self, profile_id: int) -> FoldedPeople: ...

    def run_staged(
        self,
        pairs: Sequence[tuple[str, str]],
        people: Sequence[P],
        run: Callable[[P], R],
        *,
        refused: tuple[type[Exception], ...],
        events: Callable[[P, R], Sequence[tuple[int, NewEvent]]],
        write_events: Callable[[Sequence[tuple[int, NewEvent]]], None],
    ) -> list[R | Exception]:
        """``run`` each person in turn, as if each ran in a savepoint of its own: one that
        raises a ``refused`` error leaves nothing behind (the error stands in its place), and
        each sees what those before it wrote. The profiles the identifiers in ``pairs`` (type,
        canonical value) name are read at once, and locked; look-ups answer from what was
        read and written, and new profiles, keys, identifiers and saves are written together,
        with each person's ``events`` (through ``write_events``). See storage/repositories/
        staging.py and staged_batch.py."""
        ...


class Accounts(Protocol):
    def get(self, account_id: str, *, for_update: bool = False) -> Account | None: ...
    def insert(self, account: Account) -> bool:
        """False when the tenant already has an account with this id."""
        ...

    def save(self, account: Account) -> None: ...
    def delete(self, account_id: str) -> bool: ...
    def page(self, *, after: str | None, limit: int) -> list[Account]:
        """Accounts in id order, from just after ``after``."""
        ...


class Events(Protocol):
    def add(self, *, profile_id: int, event: NewEvent, now: int) -> StoredEvent: ...
    def add_many(self, events: Sequence[tuple[int, NewEvent]], *, now: int) -> None:
        """Each (profile id, event), in one statement."""
        ...

    def list_visible(
        self,
        *,
        profile_id: int | None,
        start: int | None,
        end: int | None,
        name: str | None,
        after: tuple[int, int] | None,
        limit: int,
        descending: bool = False,
    ) -> list[StoredEvent]:
        """In (date, id) order, or its reverse; ``after`` is where the previous page ended."""
        ...

    def count_visible(
        self, *, profile_id: int | None, start: int | None, end: int | None, name: str | None
    ) -> int: ...


class Devices(Protocol):
    def find_visible(self, registration_id: str) -> Device | None: ...
    def find_live(self, registration_id: str, *, for_update: bool = False) -> Device | None: ...
    def live_by_id(self, device_id: int, *, for_update: bool = False) -> Device | None: ...
    def visible_many(self, registration_ids: Sequence[str]) -> list[Device]: ...
    def register(
        self,
        *,
        registration_id: str,
        now: int,
        platform: str | None = None,
        timezone: str | None = None,
        info: dict[str, Any] | None = None,
    ) -> Device | None: ...
    def update_fields(self, device_id: int, *, now: int, **values: Any) -> None: ...
    def tags_of(self, device_id: int) -> set[str]: ...
    def add_tags(self, device_id: int, tags: Sequence[str]) -> None: ...
    def remove_tags(self, device_id: int, tags: Sequence[str] | None) -> int: ...
    def bind_alias(self, device_id: int, alias: str, *, now: int) -> None: ...
    def visible_with_alias(self, alias: str, platforms: Sequence[str]) -> list[Device]: ...
    def visible_tags(self) -> list[str]: ...
    def count_tagged(self, tags: Sequence[str], platforms: Sequence[str]) -> dict[str, int]: ...
    def visible_device_ids_with_tag(self, tag: str, platforms: Sequence[str]) -> list[int]: ...
    def remove_tag_from(self, tag: str, device_ids: Sequence[int]) -> int: ...
    def retire(self, device_id: int, *, now: int) -> int: ...
    def shred(self, device_id: int) -> int: ...
    def retire_owned_by(self, profile_id: int, *, now: int) -> RetiredDevices: ...
    def owned_live(self, profile_id: int) -> list[Device]: ...


class PersonRows(Protocol):
    def kinds(self, subject_kind: str) -> tuple[str, ...]:
        """What a subject of this kind ("profile", "device") has rows of, in purge order:
        every registered deletion target."""
        ...

    def count(self, subject_kind: str, subject_id: int) -> dict[str, int]: ...
    def delete_batch(self, subject_kind: str, kind: str, subject_id: int, limit: int) -> int: ...


class Jobs(Protocol):
    def enqueue(self, *, kind: str, payload: dict[str, Any], now: int) -> int: ...
    def hold(self, job_id: int, worker_id: str) -> dict[str, Any] | None: ...
    def set_result(
        self, job_id: int, result: dict[str, Any], *, now: int, lease_until: int | None = None
    ) -> None: ...
    def finish(self, job_id: int, *, state: str, result: dict[str, Any], now: int) -> None: ...
    def set_payload(self, job_id: int, payload: dict[str, Any]) -> None: ...


class Receipts(Protocol):
    def last_link(self) -> tuple[int, str] | None: ...
    def append(self, record: dict[str, Any]) -> None: ...
    def by_id(self, receipt_id: str) -> dict[str, Any] | None: ...
    def completed_since(
        self, since: int, *, after_seq: int, limit: int
    ) -> list[dict[str, Any]]: ...
    def all_in_order(self) -> list[dict[str, Any]]: ...


class Suppressions(Protocol):
    def add(self, id_type: str, value_hash: str, *, now: int, job_id: int | None) -> bool: ...
    def exists(self, id_type: str, value_hash: str) -> bool: ...
    def prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Look these (type, hash) pairs up at once: until this unit of work adds or removes a
        suppression, or asks again, ``exists`` answers them from that read."""
        ...

    def remove(self, id_type: str, value_hash: str) -> bool: ...
    def page(self, *, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]: ...


class Idempotency(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def forget(self, key: str) -> None: ...
    def remember(
        self, key: str, *, request_hash: str, status: int, response: Any, now: int
    ) -> None: ...


class Guard(Protocol):
    """The tenant's tally of deletions per kind and minute, and the population it is
    measured against."""

    def deletions_since(self, kind: DeletionKind, minute: int) -> int:
        """Deletions of ``kind`` tallied from ``minute`` on. Holds the tally of that kind
        until the transaction ends, so concurrent admissions are counted one after another."""
        ...

    def add_deletions(self, kind: DeletionKind, minute: int, count: int) -> None: ...
    def live_created_before(self, kind: DeletionKind, at: int) -> int:
        """Live profiles or devices created before ``at`` (epoch ms)."""
        ...


class Exports(Protocol):
    """A person's rows as a subject access export gives them back, in any live state."""

    def events_page(
        self, profile_id: int, *, after: tuple[int, int] | None, limit: int
    ) -> list[ExportedEvent]:
        """Events in (time, id) order from just after ``after`` (time, id)."""
        ...

    def devices_of(self, profile_id: int) -> list[ExportedDevice]: ...
    def merges_into(self, profile_id: int) -> list[ExportedMerge]: ...
    def deletion_receipts_about(self, subject_hashes: Sequence[str]) -> list[ExportedReceipt]: ...
    def new_record_id(self, now: int) -> int: ...


class JobViews(Protocol):
    def get(self, job_id: int, *, for_update: bool = False) -> dict[str, Any] | None: ...
    def states(self, job_ids: list[int]) -> dict[int, dict[str, Any]]: ...
    def receipts_promised(self) -> list[tuple[int, str]]: ...
    def cancel_if_queued(self, job_id: int, *, now: int) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction over one tenant's data. Services use it; their caller commits."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def profiles(self) -> Profiles: ...
    @property
    def accounts(self) -> Accounts: ...
    @property
    def events(self) -> Events: ...
    @property
    def devices(self) -> Devices: ...
    @property
    def person_rows(self) -> PersonRows: ...
    @property
    def jobs(self) -> Jobs: ...
    @property
    def receipts(self) -> Receipts: ...
    @property
    def suppressions(self) -> Suppressions: ...
    @property
    def idempotency(self) -> Idempotency: ...
    @property
    def guard(self) -> Guard: ...
    @property
    def job_views(self) -> JobViews: ...
    @property
    def exports(self) -> Exports: ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def savepoint(self) -> AbstractContextManager[Any]: ...
    def commit(self) -> None: ...
    def forget(self, entry: ForgetEntry) -> None:
        """Record an acknowledged deletion or suppression for the forget log; whoever commits
        the unit of work appends it there after the commit and before answering."""
        ...

    def take_forgotten(self) -> list[ForgetEntry]: ...
    def pending_forgotten(self) -> tuple[ForgetEntry, ...]:
        """What ``forget`` was given so far, left in place for whoever commits."""
        ...

    def take_enqueued(self) -> int:
        """How many jobs this unit of work enqueued since last asked: whoever commits it
        wakes the worker after the commit, so no caller has to remember to."""
        ...


class ForgetLog(Protocol):
    def append(self, entries: Sequence[ForgetEntry]) -> None:
        """Append and make durable (fsync) before returning."""
        ...

    def close(self) -> None: ...


UnitOfWorkFactory = Callable[..., UnitOfWork]
"""``factory(tenant_id, write=True)`` opens a unit of work bound to that tenant."""


class Transactions(Protocol):
    """How a request's work reaches the database. Storage provides one per backend (SQLite
    shares one COMMIT among concurrent writers and reads by key on the event loop; the
    others run each unit of work in a thread); the composition root chooses."""

    async def write(self, tenant_id: str, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` in a write transaction. Returns once its writes are committed and
        every deletion it acknowledges is in the forget log; a job it enqueued has woken
        the worker by then."""
        ...

    async def read(
        self, tenant_id: str, work: Callable[[UnitOfWork], T], *, point: bool = False
    ) -> T:
        """Run ``work`` in a read transaction. A ``point`` read looks up a bounded number of
        rows by key; an implementation may run it without leaving the event loop."""
        ...

    def ping(self) -> None:
        """Raise unless the database answers a trivial query now (readiness)."""
        ...

    def close(self) -> None:
        """Finish what is queued and release connections (at shutdown, off the loop)."""
        ...


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SubjectHasher(Protocol):
    """Keyed hash of an identifier under the deployment's current key."""

    def __call__(self, id_type: str, value: str) -> str: ...

    @property
    def key_id(self) -> str:
        """The id of the key new hashes are made with (recorded beside what they hide)."""
        ...

    def all_hashes(self, id_type: str, value: str) -> tuple[str, ...]:
        """The hash under the current key first, then under each previous key still accepted:
        a suppression made before a key rotation keeps matching."""
        ...
