"""Error tables: each surface answers errors from a table of error class -> response, looked up
along the raised class's MRO so that the most specific entry wins (as starlette's exception
handlers are). A test holds every table complete, so a new error class cannot fall through to
an answer written for its base."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.responses import Response

E = TypeVar("E", bound=Exception)


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of a table: how a surface answers ``error`` (and, unless they have rows of their
    own, its subclasses). Built with ``entry``, which checks that the answer takes the class."""

    error: type[Exception]
    # Only ever handed an instance of ``error``, which ``entry`` typed it against.
    answer: Callable[[Any], Response]


def entry(error: type[E], answer: Callable[[E], Response]) -> Entry:
    # Not generic in its result on purpose: a generic one would let the table's element type
    # (any entry) infer E as Any and check the answer against nothing.
    return Entry(error, answer)


class ErrorTable(Mapping[type[Exception], Callable[[Any], Response]]):
    """One surface's answers, keyed by the exact class each row is for."""

    def __init__(self, *entries: Entry) -> None:
        self._answers: dict[type[Exception], Callable[[Any], Response]] = {}
        for row in entries:
            if row.error in self._answers:
                raise ValueError(f"{row.error.__name__} has two entries")
            self._answers[row.error] = row.answer

    def __getitem__(self, error: type[Exception]) -> Callable[[Any], Response]:
        return self._answers[error]

    def __iter__(self) -> Iterator[type[Exception]]:
        return iter(self._answers)

    def __len__(self) -> int:
        return len(self._answers)

    def answer(self, exc: Exception) -> Response:
        """The response for ``exc`` from the nearest class on its MRO that has an entry; an
        error no entry covers is not ours to answer and propagates."""
        for cls in type(exc).__mro__:
            found = self._answers.get(cls)
            if found is not None:
                return found(exc)
        raise exc
