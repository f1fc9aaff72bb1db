"""A batch upsert costs a few statements per table, not a dozen per person, and recovers when
another transaction takes one of its new identifiers before it writes them.

Statements are counted where this code base runs SQL: ``Prepared`` (and ``PreparedMany``) on
the DBAPI cursor, ``execute_sql`` (BEGIN, savepoints), and ``Connection.execute`` (the
engine's ``before_cursor_execute`` event). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from obliviate.bootstrap import Container
from obliviate.domain.errors import Suppressed
from obliviate.domain.tenants import Caller
from obliviate.services import identity, suppression
from obliviate.services.identity import PersonInput, UpsertOutcome
from obliviate.storage import engine as engine_module
from obliviate.storage import prepared, savepoints
from obliviate.storage.repositories import staging
from obliviate.storage.repositories.batched import PreparedMany
from obliviate.storage.repositories.profiles import SqlProfiles
from tests.integration.identity.support import Store, email, event, uuid
from tests.support.clock import FakeClock

USERS = 1000
# Per batch: a look-up or two per identifier type and table, the writes of each table, the
# transaction and savepoints around them; whatever the number of people.
MOST_STATEMENTS = 30


_PREPARED_RUN = prepared.Prepared._run


class Statements:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def __len__(self) -> int:
        return len(self.sql)


@pytest.fixture
def statements(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[Statements]:
    seen = Statements()
    run, run_many, execute_sql = _PREPARED_RUN, PreparedMany.run_many, prepared.execute_sql

    def counted_run(self: Any, conn: Any, params: Any) -> Any:
        seen.sql.append(str(self._statement)[:60])
        return run(self, conn, params)

    def counted_many(self: Any, conn: Any, rows: Any) -> None:
        if rows:
            seen.sql.append(str(self._statement)[:60])
        run_many(self, conn, rows)

    def counted_sql(conn: Any, sql: str) -> None:
        seen.sql.append(sql)
        execute_sql(conn, sql)

    def on_execute(*args: Any) -> None:
        seen.sql.append(str(args[2])[:60])

    monkeypatch.setattr(prepared.Prepared, "_run", counted_run)
    monkeypatch.setattr(PreparedMany, "run_many", counted_many)
    for module in (prepared, savepoints, engine_module):
        monkeypatch.setattr(module, "execute_sql", counted_sql)
    sa_event.listen(container.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        sa_event.remove(container.engine, "before_cursor_execute", on_execute)


def _users(prefix: str, count: int, at: int) -> list[PersonInput]:
    return [
        PersonInput(
            identifiers=[uuid(f"{prefix}-{i}"), email(f"{prefix}-{i}@example.com")],
            attributes={"name": "Ada", "custom": {"plan": "pro"}},
            events=[event("bench_event", at, source="bench")],
        )
        for i in range(count)
    ]


def _upsert(store: Store, people: list[PersonInput]) -> list[Any]:
    with store.c.uow_factory(store.tenant_id) as uow:
        results = identity.upsert_people(
            uow, tenant=store.tenant, people=people, now=store.clock.now_ms(), hasher=store.c.hasher
        )
        uow.commit()
    return list(results)


def test_a_thousand_new_users_then_the_same_again_take_a_few_dozen_statements_each(
    store: Store, clock: FakeClock, statements: Statements
) -> None:
    people = _users("new", USERS, clock.now_ms())
    start = len(statements)
    created = _upsert(store, people)
    first = len(statements) - start
    clock.advance(1)
    updated = _upsert(store, people)
    second = len(statements) - start - first

    assert all(isinstance(r, UpsertOutcome) and r.created for r in created)
    assert [r.profile_id for r in updated] == [r.profile_id for r in created]
    assert not any(r.created for r in updated)
    assert first <= MOST_STATEMENTS, statements.sql[start:]
    assert second <= MOST_STATEMENTS, statements.sql[start + first :]
    assert store.event_names(created[-1].profile_id) == ["bench_event", "bench_event"]


def test_people_who_merge_cost_their_own_savepoint_and_no_more_for_the_rest(
    store: Store, clock: FakeClock, statements: Statements
) -> None:
    # Ten pairs of people known apart; the batch names each pair together (a merge, which
    # the stage cannot hold back), among a thousand new users.
    pairs = [(uuid(f"a-{i}"), email(f"b-{i}@example.com")) for i in range(10)]
    for a, b in pairs:
        store.upsert(a)
        store.upsert(b)
    clock.advance(1)
    people = _users("many", USERS, clock.now_ms())
    for i, (a, b) in enumerate(pairs):
        people[i * 100] = PersonInput(identifiers=[a, b])
    before = len(statements)
    results = _upsert(store, people)

    merged = [r for r in results if isinstance(r, UpsertOutcome) and r.merged]
    assert len(merged) == len(pairs)
    assert all(store.find(a).profile_id == store.find(b).profile_id for a, b in pairs)
    # A merge runs the per-person statements it always did, in a savepoint of its own.
    assert len(statements) - before <= MOST_STATEMENTS + 40 * len(pairs), statements.sql


def test_a_new_identifier_taken_meanwhile_is_answered_as_one_person_run_alone_would_be(
    caller: Caller, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction creates a person with one of the batch's new identifiers after
    the batch read it as free: writing what was held fails, and those people run again."""
    taken = email("taken@example.com")
    prefetch = staging.Stage.prefetch

    def then_someone_else(self: staging.Stage, pairs: Any) -> None:
        prefetch(self, pairs)
        # Committed by another writer between the batch's reads and its writes: here on the
        # batch's own connection, which the stage does not know about either.
        other = SqlProfiles(self._conn, caller.tenant.tenant_id, self._sealer.keys)
        profile = other.insert(attributes={"name": "Someone"}, now=store.clock.now_ms())
        other.add_identifier(
            id_type=taken.id_type, value=taken.value, profile_id=profile.profile_id, now=0
        )

    monkeypatch.setattr(staging.Stage, "prefetch", then_someone_else)
    people = [
        PersonInput(identifiers=[uuid("first")]),
        PersonInput(identifiers=[uuid("second"), taken], attributes={"name": "Ada"}),
        PersonInput(identifiers=[taken, uuid("third")]),
    ]
    results = _upsert(store, people)
    monkeypatch.setattr(staging.Stage, "prefetch", prefetch)

    first, second, third = results
    assert isinstance(first, UpsertOutcome)
    assert first.created
    # The second finds the person the other writer made, as it would have read alone.
    assert isinstance(second, UpsertOutcome)
    assert not second.created
    assert isinstance(third, UpsertOutcome)
    assert third.profile_id == second.profile_id
    found = store.find(taken)
    assert found.attributes == {"name": "Ada"}
    assert sorted(v for _, v in store.identifiers_of(found.profile_id)) == [
        "second",
        "taken@example.com",
        "third",
    ]
    assert store.find(uuid("first")).profile_id == first.profile_id


def test_a_refused_person_leaves_nothing_and_the_next_sees_only_what_went_in(
    store: Store, clock: FakeClock
) -> None:
    with store.c.uow_factory(store.tenant_id) as uow:
        gone = email("gone@example.com")
        suppression.suppress(uow, ident=gone, now=clock.now_ms(), hasher=store.c.hasher)
        uow.commit()
    people = [
        PersonInput(identifiers=[uuid("p1"), email("gone@example.com")]),
        PersonInput(identifiers=[uuid("p1")], attributes={"name": "Ada"}),
    ]
    refused, created = _upsert(store, people)
    assert isinstance(refused, Suppressed)
    assert isinstance(created, UpsertOutcome)
    assert created.created
    assert store.identifiers_of(created.profile_id) == [("uuid", "p1")]
