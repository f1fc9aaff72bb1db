"""Gainsight PX's filter and sort language, evaluated over records in their wire shape.

``filter=a==x;b>=3`` is one group of clauses joined by AND; repeating the ``filter`` parameter
ORs the groups. Operators: ``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, ``~`` and ``!~`` (like, with
``*`` and ``?`` wildcards). Text compares case-insensitively; dates are epoch milliseconds or
ISO-8601. ``sort=f1;-f2``: a leading ``-`` sorts descending (a ``+``, or the space an unencoded
``+`` decodes to, ascending).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from functools import total_ordering
from typing import Any, TypeVar

from obliviate.domain.errors import ValidationError
from obliviate.domain.events import INT64_MAX, INT64_MIN

T = TypeVar("T")


class Op(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "~"
    NOT_LIKE = "!~"


class FieldKind(Enum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    # Inside a free-form object (customAttributes.x): compared as the held value's type.
    ANY = "any"


_ORDERED = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})
_CLAUSE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|<=|>=|!~|<|>|~)(.*)", re.DOTALL)
# "+01:00" sent unencoded arrives as " 01:00".
_DECODED_PLUS = re.compile(r" (\d\d:?\d\d)$")


@dataclass(frozen=True, slots=True)
class Fields:
    """The fields of a record the language may name, and the objects whose members it may."""

    kinds: Mapping[str, FieldKind]
    open_objects: frozenset[str] = frozenset()

    def kind(self, path: str, *, what: str) -> FieldKind:
        found = self.kinds.get(path)
        if found is not None:
            return found
        head, dot, rest = path.partition(".")
        if dot and rest and head in self.open_objects:
            return FieldKind.ANY
        raise ValidationError(what, f"unsupported field {path!r}")


@dataclass(frozen=True, slots=True)
class Clause:
    path: str
    op: Op
    kind: FieldKind
    text: str
    # The value parsed for the field's kind (a number for dates and numbers).
    value: Any


Filter = tuple[tuple[Clause, ...], ...]


@dataclass(frozen=True, slots=True)
class SortKey:
    path: str
    descending: bool


def parse_time(text: str, *, what: str) -> int:
    """Epoch milliseconds, from epoch milliseconds or an ISO-8601 date or date-time (UTC
    unless it says otherwise)."""
    raw = text.strip()
    if re.fullmatch(r"-?\d+", raw):
        value = int(raw)
    else:
        try:
            parsed = datetime.fromisoformat(_DECODED_PLUS.sub(r"+\1", raw))
        except ValueError:
            raise ValidationError(
                what, f"{text!r} is neither epoch milliseconds nor an ISO-8601 date"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        value = round(parsed.timestamp() * 1000)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValidationError(what, f"{text!r} is out of range")
    return value


def _value(kind: FieldKind, op: Op, text: str, path: str) -> Any:
    if op in (Op.LIKE, Op.NOT_LIKE):
        if kind not in (FieldKind.TEXT, FieldKind.ANY):
            raise ValidationError("filter", f"{op.value} applies to text, not to {path!r}")
        pattern = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)
        return re.compile(pattern, re.IGNORECASE | re.DOTALL)
    if kind is FieldKind.DATE:
        return parse_time(text, what="filter")
    if kind is FieldKind.NUMBER:
        try:
            return float(text)
        except ValueError:
            raise ValidationError("filter", f"{path!r} takes a number, not {text!r}") from None
    if kind is FieldKind.BOOLEAN:
        if op in _ORDERED or text.lower() not in ("true", "false"):
            raise ValidationError("filter", f"{path!r} takes ==true or ==false")
        return text.lower() == "true"
    return text.casefold()


def parse_filters(raws: Sequence[str], fields: Fields) -> Filter:
    groups: list[tuple[Clause, ...]] = []
    for raw in raws:
        clauses: list[Clause] = []
        for part in raw.split(";"):
            if not part.strip():
                continue
            match = _CLAUSE.fullmatch(part)
            if match is None:
                raise ValidationError("filter", f"unsupported filter clause {part!r}")
            path, op_text, text = match.groups()
            op = Op(op_text)
            kind = fields.kind(path, what="filter")
            clauses.append(Clause(path, op, kind, text, _value(kind, op, text, path)))
        if clauses:
            groups.append(tuple(clauses))
    return tuple(groups)


def parse_sort(raw: str | None, fields: Fields) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for part in (raw or "").split(";"):
        name = part.strip()
        if not name:
            continue
        descending = name.startswith("-")
        path = name.lstrip("+-").strip()
        fields.kind(path, what="sort")
        keys.append(SortKey(path, descending))
    return tuple(keys)


def lookup(record: Mapping[str, Any], path: str) -> Any:
    held: Any = record
    for part in path.split("."):
        if not isinstance(held, Mapping):
            return None
        held = held.get(part)
    return held


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _holds(clause: Clause, held: Any) -> bool:
    op, kind = clause.op, clause.kind
    if op in (Op.LIKE, Op.NOT_LIKE):
        text = "" if held is None else str(held)
        found = clause.value.fullmatch(text) is not None
        return found if op is Op.LIKE else not found
    if op is Op.NE:
        return not _holds(Clause(clause.path, Op.EQ, kind, clause.text, clause.value), held)
    if kind is FieldKind.ANY:
        # Compare as the held value's type.
        number = _number(held)
        if number is not None:
            try:
                return _compare(op, number, float(clause.text))
            except ValueError:
                return False
        if isinstance(held, bool):
            return op is Op.EQ and clause.text.lower() == str(held).lower()
        return _compare(op, "" if held is None else str(held).casefold(), clause.text.casefold())
    if kind in (FieldKind.NUMBER, FieldKind.DATE):
        number = _number(held)
        return number is not None and _compare(op, number, float(clause.value))
    if kind is FieldKind.BOOLEAN:
        return isinstance(held, bool) and held is clause.value
    text = "" if held is None else str(held).casefold()
    return _compare(op, text, clause.value)


def _compare(op: Op, held: Any, wanted: Any) -> bool:
    if op is Op.EQ:
        return bool(held == wanted)
    if held is None:
        return False
    if op is Op.LT:
        return bool(held < wanted)
    if op is Op.LE:
        return bool(held <= wanted)
    if op is Op.GT:
        return bool(held > wanted)
    return bool(held >= wanted)


def matches(record: Mapping[str, Any], flt: Filter) -> bool:
    return not flt or any(all(_holds(c, lookup(record, c.path)) for c in group) for group in flt)


# --- order ------------------------------------------------------------------------------
# A sort value, normalised so that any two compare: [rank, value] with nulls first, then
# booleans, numbers and text (case-insensitive). It is what a scroll id carries.
Normal = list[Any]


def normal(value: Any) -> Normal:
    if value is None:
        return [0, 0]
    if isinstance(value, bool):
        return [1, int(value)]
    if isinstance(value, int | float):
        return [2, value]
    return [3, str(value).casefold()]


def valid_normal(item: Any) -> bool:
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)):
        return False
    rank, value = item
    kinds: dict[int, tuple[type, ...]] = {0: (int,), 1: (int,), 2: (int, float), 3: (str,)}
    return rank in kinds and isinstance(value, kinds[rank]) and not isinstance(value, bool)


@total_ordering
class _Descending:
    __slots__ = ("item",)

    def __init__(self, item: Normal) -> None:
        self.item = item

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.item == other.item

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.item < self.item)

    def __hash__(self) -> int:
        return hash(tuple(self.item))


@dataclass(frozen=True, slots=True)
class Position:
    """Where a record stands in a sort: its normalised sort values and its unique id."""

    values: tuple[Normal, ...]
    tie: Any

    def key(self, sort: Sequence[SortKey]) -> tuple[Any, ...]:
        parts: list[Any] = [
            _Descending(v) if k.descending else v for v, k in zip(self.values, sort, strict=True)
        ]
        parts.append(self.tie)
        return tuple(parts)


def position(record: Mapping[str, Any], sort: Sequence[SortKey], tie: Any) -> Position:
    return Position(tuple(normal(lookup(record, k.path)) for k in sort), tie)


def page_of(
    items: Iterable[T],
    *,
    place: Callable[[T], Position],
    sort: Sequence[SortKey],
    after: Position | None,
    limit: int,
) -> tuple[list[T], int]:
    """The first ``limit`` items past ``after`` in sort order, and how many items there are
    in all, in one pass that holds no more than a page."""
    total = 0
    after_key = None if after is None else after.key(sort)

    def counted() -> Iterable[tuple[tuple[Any, ...], int, T]]:
        nonlocal total
        for n, item in enumerate(items):
            total += 1
            key = place(item).key(sort)
            if after_key is None or key > after_key:
                yield key, n, item

    chosen = heapq.nsmallest(limit, counted(), key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in chosen], total
