"""The Gainsight filter and sort language as a library: any sort over any records pages through
every match exactly once, in order, however the pages are cut; filters agree with a plain
reading of their clauses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obliviate.domain.errors import ValidationError
from obliviate.http.gainsight import query
from obliviate.http.gainsight.query import FieldKind, Fields, Position, SortKey

FIELDS = Fields(
    kinds={"name": FieldKind.TEXT, "size": FieldKind.NUMBER, "at": FieldKind.DATE},
    open_objects=frozenset({"custom"}),
)
values = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from(["a", "B", "b", "", "ab"]))
records = st.lists(
    st.fixed_dictionaries(
        {"name": values, "size": values, "at": st.one_of(st.none(), st.integers(0, 10))}
    ),
    max_size=30,
)
sorts = st.lists(
    st.builds(SortKey, st.sampled_from(["name", "size", "at"]), st.booleans()), max_size=3
)


def walk(items: list[dict[str, Any]], sort: tuple[SortKey, ...], size: int) -> list[int]:
    numbered = list(enumerate(items))
    seen: list[int] = []
    after: Position | None = None
    while True:
        page, total = query.page_of(
            numbered,
            place=lambda item: query.position(item[1], sort, item[0]),
            sort=sort,
            after=after,
            limit=size,
        )
        assert total == len(items)
        seen += [n for n, _ in page]
        if len(page) < size:
            return seen
        last_n, last = page[-1]
        after = query.position(last, sort, last_n)


@settings(max_examples=200, deadline=None)
@given(items=records, sort=sorts, size=st.integers(1, 7))
def test_paging_any_sort_yields_every_record_once_in_sort_order(
    items: list[dict[str, Any]], sort: list[SortKey], size: int
) -> None:
    order = tuple(sort)
    seen = walk(items, order, size)
    assert sorted(seen) == list(range(len(items)))
    keys = [query.position(items[n], order, n).key(order) for n in seen]
    assert keys == sorted(keys)


@settings(max_examples=200, deadline=None)
@given(items=records, wanted=st.integers(-5, 5))
def test_number_comparisons_agree_with_python(items: list[dict[str, Any]], wanted: int) -> None:
    flt = query.parse_filters([f"size>={wanted}"], FIELDS)
    found = [r for r in items if query.matches(r, flt)]
    assert found == [
        r
        for r in items
        if isinstance(r["size"], int) and not isinstance(r["size"], bool) and r["size"] >= wanted
    ]


@pytest.mark.parametrize(
    ("clause", "record", "holds"),
    [
        ("name==ADA", {"name": "ada"}, True),
        ("name!=ada", {"name": "Ada"}, False),
        ("name~a*a", {"name": "Ada Lovelace a"}, True),
        ("name~a?a", {"name": "ada"}, True),
        ("name~a?a", {"name": "aa"}, False),
        ("name!~*love*", {"name": "Ada Lovelace"}, False),
        ("name~a.c", {"name": "abc"}, False),  # wildcards only: "." is literal
        ("size<3", {"size": None}, False),
        ("at>=2026-01-01", {"at": 1_767_225_600_000}, True),
        ("at>2026-01-01T00:00:00Z", {"at": 1_767_225_600_000}, False),
        ("custom.plan==gold", {"custom": {"plan": "Gold"}}, True),
        ("custom.seats>2", {"custom": {"seats": 3}}, True),
        ("custom.seats>2", {"custom": {"seats": "3"}}, True),  # text compares as text
        ("custom.missing==", {"custom": {}}, True),
    ],
)
def test_clauses_hold_as_documented(clause: str, record: dict[str, Any], holds: bool) -> None:
    assert query.matches(record, query.parse_filters([clause], FIELDS)) is holds


@pytest.mark.parametrize(
    "raw",
    ["nosuch==1", "size>big", "at<=soon", "size~1*", "name", "==x", "custom==x", "custom.==x"],
)
def test_clauses_outside_the_language_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        query.parse_filters([raw], FIELDS)


def test_groups_or_and_clauses_and() -> None:
    flt = query.parse_filters(["name==a;size>1", "name==b"], FIELDS)
    assert query.matches({"name": "a", "size": 2}, flt)
    assert not query.matches({"name": "a", "size": 1}, flt)
    assert query.matches({"name": "B", "size": None}, flt)


def test_sort_accepts_plus_and_the_space_an_unencoded_plus_becomes() -> None:
    assert query.parse_sort("+name; -size; at", FIELDS) == (
        SortKey("name", False),
        SortKey("size", True),
        SortKey("at", False),
    )
