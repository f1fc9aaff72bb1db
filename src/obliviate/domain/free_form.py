"""Free-form JSON a person's record carries (attributes, event properties, device info).

It is stored and read back as given, so its shape is bounded here: JSON nested deeper than any
real record needs cannot be written on one backend and then break a list on another.
"""

from __future__ import annotations

from obliviate.domain.errors import ValidationError

MAX_DEPTH = 32


def _depth_exceeds(value: object, limit: int) -> bool:
    # Iterative, so a hostile value cannot exhaust the interpreter's stack while being checked.
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = list(item)
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_free_form(value: object, *, field: str, limit: int = MAX_DEPTH) -> None:
    """Refuse a JSON value whose objects and arrays nest more than ``limit`` levels deep."""
    if _depth_exceeds(value, limit):
        raise ValidationError(field, f"must not nest more than {limit} levels deep")
