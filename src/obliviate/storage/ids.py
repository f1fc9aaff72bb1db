"""Row ids: time-ordered 63-bit integers made in the application, so no sequence is shared."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

_RANDOM_BITS = 22
_lock = threading.Lock()
_last = 0


def new_id(now_ms: int | None = None) -> int:
    """Milliseconds since the epoch in the high bits, 22 random bits below.

    Ids sort by creation time (to the millisecond), which keyset paging relies on. Within one
    process they strictly increase, so the many rows one request writes with one timestamp never
    clash; across processes the random low bits keep a clash vanishingly rare, and the primary
    key would refuse one.
    """
    global _last
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    candidate = (ms << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
    with _lock:
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    return candidate


def plain(row: Any) -> dict[str, Any]:
    """A result row as a dict with plain ``str`` keys (column labels are a str subclass, which
    strict JSON encoders refuse)."""
    return {str(key): value for key, value in row._mapping.items()}
