"""Running a batch of people on a stage (staging.py): each as if in a savepoint of its own.

A person runs held (no savepoint: its writes wait in the stage, and a refusal takes them back
from memory). One that needs a write the stage cannot hold back (``NeedsSavepoint``) is taken
back and run again in a savepoint, after what the people before it held is written. Should
writing what was held fail because another transaction took one of its identifiers meanwhile
(``IdentifierTaken``, nothing of it written), those people run again, a savepoint each, on
what is stored now: each ends as it would have one savepoint at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Connection

from obliviate.domain.events import NewEvent
from obliviate.services.ports import IdentifierTaken, NeedsSavepoint
from obliviate.storage.repositories.staging import Stage
from obliviate.storage.savepoints import savepoint

P = TypeVar("P")
R = TypeVar("R")
PersonEvents = Sequence[tuple[int, NewEvent]]


class StagedBatch(Generic[P, R]):
    def __init__(
        self,
        conn: Connection,
        stage: Stage,
        run: Callable[[P], R],
        *,
        refused: tuple[type[Exception], ...],
        events: Callable[[P, R], PersonEvents],
        write_events: Callable[[PersonEvents], None],
    ) -> None:
        self._conn, self._stage, self._run = conn, stage, run
        self._refused, self._events, self._write_events = refused, events, write_events
        self.results: list[R | Exception] = []
        self._people: list[P] = []
        self._held: list[int] = []  # the people held back, by index

    def add(self, person: P) -> None:
        self._people.append(person)
        try:
            self.results.append(self._one(person, saved=False))
            self._held.append(len(self.results) - 1)
        except NeedsSavepoint:
            self.write_held()
            self.results.append(self._one(person, saved=True))

    def _one(self, person: P, *, saved: bool) -> R | Exception:
        try:
            with savepoint(self._conn) if saved else contextlib.nullcontext():
                with self._stage.person(saved=saved):
                    result = self._run(person)
                if saved:
                    self._write_events(self._events(person, result))
            return result
        except self._refused as exc:
            return exc

    def write_held(self) -> None:
        held, self._held = self._held, []
        try:
            self._stage.flush()
        except IdentifierTaken:
            for k in held:
                self.results[k] = self._one(self._people[k], saved=True)
            return
        events: list[tuple[int, NewEvent]] = []
        for k in held:
            result = self.results[k]
            if not isinstance(result, Exception):
                events.extend(self._events(self._people[k], result))
        self._write_events(events)
