"""What the services need from storage, as protocols the storage package implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from obliviate.domain.events import NewEvent, StoredEvent
from obliviate.domain.profiles import Profile


class IdentifierTaken(Exception):
    """Storage refused an identifier that another profile already holds."""

    def __init__(self, id_type: str, value: str) -> None:
        super().__init__(id_type)
        self.id_type = id_type
        self.value = value


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    identifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())


class Profiles(Protocol):
    def find_by_identifier(
        self, id_type: str, value: str, *, for_update: bool = False
    ) -> Profile | None: ...
    def insert(self, *, attributes: dict[str, Any], now: int) -> Profile: ...
    def add_identifier(self, *, id_type: str, value: str, profile_id: int, now: int) -> None: ...
    def save(self, profile: Profile) -> None: ...
    def release_identifiers(self, profile_id: int) -> int: ...
    def uuids_of(self, profile_ids: Sequence[int]) -> dict[int, str]: ...
    def list_active(
        self, flt: ProfileFilter, *, after: int | None, limit: int, descending: bool
    ) -> list[Profile]: ...
    def count_active(self, flt: ProfileFilter) -> int: ...
    def expired_soft_deleted(self, *, now: int, limit: int) -> list[Profile]: ...


class Events(Protocol):
    def add(self, *, profile_id: int, event: NewEvent, now: int) -> StoredEvent: ...
    def list_visible(
        self,
        *,
        profile_id: int | None,
        start: int | None,
        end: int | None,
        name: str | None,
        after: tuple[int, int] | None,
        limit: int,
    ) -> list[StoredEvent]: ...
    def count_visible(
        self, *, profile_id: int | None, start: int | None, end: int | None, name: str | None
    ) -> int: ...


class PersonRows(Protocol):
    def count(self, profile_id: int) -> dict[str, int]: ...
    def delete_batch(self, kind: str, profile_id: int, limit: int) -> int: ...


class Jobs(Protocol):
    def enqueue(self, *, kind: str, payload: dict[str, Any], now: int) -> int: ...
    def result_of(self, job_id: int) -> dict[str, Any]: ...
    def set_result(self, job_id: int, result: dict[str, Any], *, now: int) -> None: ...
    def finish(self, job_id: int, *, state: str, result: dict[str, Any], now: int) -> None: ...


class Receipts(Protocol):
    def last_link(self) -> tuple[int, str] | None: ...
    def exists_for_job(self, job_id: int) -> bool: ...
    def append(self, record: dict[str, Any]) -> None: ...
    def all_in_order(self) -> list[dict[str, Any]]: ...


class UnitOfWork(Protocol):
    """One transaction over one tenant's data. Services use it; their caller commits."""

    @property
    def profiles(self) -> Profiles: ...
    @property
    def events(self) -> Events: ...
    @property
    def person_rows(self) -> PersonRows: ...
    @property
    def jobs(self) -> Jobs: ...
    @property
    def receipts(self) -> Receipts: ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[..., UnitOfWork]
"""``factory(tenant_id, write=True)`` opens a unit of work bound to that tenant."""


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SubjectHasher(Protocol):
    def __call__(self, id_type: str, value: str) -> str: ...
