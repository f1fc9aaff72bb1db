"""The fields Gainsight PX's filters and sorts may name on users and custom events, and what
of a filter storage answers by index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from obliviate.domain.errors import ValidationError
from obliviate.domain.identifiers import IdentifierType
from obliviate.http.gainsight import translate as tr
from obliviate.http.gainsight.query import (
    Clause,
    FieldKind,
    Fields,
    Filter,
    Op,
    parse_filters,
    parse_sort,
)
from obliviate.services.ports import ProfileFilter

USER_FIELDS = Fields(
    kinds={
        "identifyId": FieldKind.TEXT,
        "id": FieldKind.TEXT,
        "aptrinsicId": FieldKind.TEXT,
        **dict.fromkeys(tr.STRING_FIELDS, FieldKind.TEXT),
        "score": FieldKind.NUMBER,
        "numberOfVisits": FieldKind.NUMBER,
        **dict.fromkeys(
            ("signUpDate", "firstVisitDate", "lastSeenDate", "createDate", "lastModifiedDate"),
            FieldKind.DATE,
        ),
        "globalUnsubscribe": FieldKind.BOOLEAN,
    },
    open_objects=frozenset({"customAttributes", "location"}),
)
EVENT_FIELDS = Fields(
    kinds={"identifyId": FieldKind.TEXT, "eventName": FieldKind.TEXT, "date": FieldKind.DATE}
)


def split_identify_id(flt: Filter) -> tuple[ProfileFilter, Filter]:
    """The ``identifyId==`` clauses of a single group, which storage finds by index, and the
    rest of the filter."""
    if len(flt) != 1:
        return ProfileFilter(), flt
    by_index = tuple(
        (IdentifierType.UUID.value, c.text)
        for c in flt[0]
        if c.path == "identifyId" and c.op is Op.EQ
    )
    rest = tuple(c for c in flt[0] if not (c.path == "identifyId" and c.op is Op.EQ))
    return ProfileFilter(identifiers=by_index), ((rest,) if rest else ())


@dataclass(frozen=True, slots=True)
class EventQuery:
    identify_id: str | None
    event_name: str | None
    # Inclusive bounds on the event's date, epoch ms.
    start: int | None
    end: int | None


def event_query(raws: Sequence[str], *, start: int | None, end: int | None) -> EventQuery:
    """Custom-event filters: ``identifyId==``, ``eventName==`` and ``date`` with any of
    ``==`` ``<`` ``<=`` ``>`` ``>=``, joined by ``;`` (one group: no OR)."""
    flt = parse_filters(raws, EVENT_FIELDS)
    if len(flt) > 1:
        raise ValidationError("filter", "custom events take one filter (clauses joined by ;)")
    identify_id: str | None = None
    event_name: str | None = None
    for clause in flt[0] if flt else ():
        if clause.path == "date":
            value = int(clause.value)
            if clause.op in (Op.EQ, Op.GE, Op.GT):
                low = value + 1 if clause.op is Op.GT else value
                start = low if start is None else max(start, low)
            if clause.op in (Op.EQ, Op.LE, Op.LT):
                high = value - 1 if clause.op is Op.LT else value
                end = high if end is None else min(end, high)
            if clause.op not in (Op.EQ, Op.GE, Op.GT, Op.LE, Op.LT):
                raise ValidationError("filter", f"unsupported filter clause {clause_text(clause)}")
        elif clause.op is not Op.EQ:
            raise ValidationError("filter", f"unsupported filter clause {clause_text(clause)}")
        elif clause.path == "identifyId":
            identify_id = _single(identify_id, clause.text)
        else:
            event_name = _single(event_name, clause.text)
    return EventQuery(identify_id, event_name, start, end)


def clause_text(clause: Clause) -> str:
    return repr(f"{clause.path}{clause.op.value}{clause.text}")


def _single(held: str | None, value: str) -> str:
    if held is not None and held != value:
        raise ValidationError("filter", "names two different values for one field")
    return value


def event_sort_descending(raw: str | None) -> bool:
    """``date`` (the default) or ``-date``."""
    keys = parse_sort(raw, EVENT_FIELDS)
    if any(k.path != "date" for k in keys) or len(keys) > 1:
        raise ValidationError("sort", "custom events sort by date or -date")
    return bool(keys) and keys[0].descending
