"""Row ids: time-ordered 63-bit integers made in the application, so no sequence is shared."""

from __future__ import annotations

import secrets
import time

_RANDOM_BITS = 22


def new_id(now_ms: int | None = None) -> int:
    """Milliseconds since the epoch in the high bits, 22 random bits below.

    Ids sort by creation time (to the millisecond), which keyset paging relies on; four million
    values per millisecond make a clash vanishingly rare, and the primary key would refuse one.
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return (ms << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
