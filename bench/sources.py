"""Request sources: what each connection of a scenario sends next (None: nothing left)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from loadgen import RequestSource


def constant(request: bytes) -> RequestSource:
    return lambda: request


def cycling(requests: list[bytes]) -> RequestSource:
    it = itertools.cycle(requests)
    return lambda: next(it)


def once_each(requests: list[bytes]) -> RequestSource:
    it: Iterator[bytes] = iter(requests)
    return lambda: next(it, None)


def creating(make: Callable[[str], bytes], prefix: str) -> RequestSource:
    """A new, unique id per request: ``make(f"{prefix}-00000000")``, ``...-00000001``, ..."""
    counter = itertools.count()
    return lambda: make(f"{prefix}-{next(counter):08d}")


def creating_many(
    make: Callable[[list[str]], bytes], prefix: str, per_request: int
) -> RequestSource:
    """``per_request`` new, unique ids per request: ``{prefix}-00000000-0000`` ... ``-0999``."""
    counter = itertools.count()

    def source() -> bytes:
        n = next(counter)
        return make([f"{prefix}-{n:08d}-{j:04d}" for j in range(per_request)])

    return source


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
