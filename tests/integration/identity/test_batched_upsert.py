"""A batch upsert ends exactly as the same people upserted one request each.

``upsert_people`` reads a batch at once and holds its writes back (the profiles repository's
stage); these check it against the plainest use of the same rules: one person per unit of
work, committed before the next. People overlap on identifiers, some of them suppressed, some
soft-deleted (within their revival window or past it), some merging past the merge limit; the
answers and every stored profile must come out the same. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from obliviate.bootstrap import Container
from obliviate.domain.errors import IdentifierInUse, ObliviateError, Suppressed, ValidationError
from obliviate.domain.identifiers import Identifier
from obliviate.domain.tenants import Caller
from obliviate.services import deletions, identity, suppression
from obliviate.services.identity import PersonInput, UpsertOutcome
from obliviate.storage import tables as t
from tests.integration.identity.support import WINDOW, email, event, uuid
from tests.support.clock import now_ms
from tests.support.tenants import new_tenant, sign_in

UUIDS = [uuid(f"u{i}") for i in range(4)]
EMAILS = [email(f"e{i}@example.com") for i in range(4)]
UNIVERSE = UUIDS + EMAILS
MERGE_LIMIT = 2

identifiers = st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=3, unique=True)
people = st.builds(
    PersonInput,
    identifiers=identifiers,
    attributes=st.fixed_dictionaries(
        {"name": st.sampled_from(["Ada", "Grace"])},
        optional={"email": st.sampled_from([e.value for e in EMAILS])},
    ),
    events=st.lists(st.builds(event, st.just("login"), st.integers(0, 10**12)), max_size=2),
)


@dataclass(frozen=True)
class Scenario:
    before: list[PersonInput]  # upserted one at a time first
    soft_deleted: list[Identifier]  # uuids whose profiles are then soft-deleted
    suppressed: list[Identifier]
    past_window: bool  # the batch runs after the soft deletes' revival windows end
    confirmed: bool
    batch: list[PersonInput]


scenarios = st.builds(
    Scenario,
    before=st.lists(people, max_size=4),
    soft_deleted=st.lists(st.sampled_from(UUIDS), max_size=2, unique=True),
    suppressed=st.lists(st.sampled_from(UNIVERSE), max_size=2, unique=True),
    past_window=st.booleans(),
    confirmed=st.booleans(),
    batch=st.lists(people, min_size=1, max_size=8),
)


def _answer(result: UpsertOutcome | ObliviateError) -> tuple[Any, ...]:
    """What an answer says, without the profile ids (made afresh in each tenant)."""
    if isinstance(result, UpsertOutcome):
        return ("ok", result.created, result.revived, len(result.merged))
    if isinstance(result, IdentifierInUse | Suppressed):
        return (type(result).__name__, result.id_type)
    assert isinstance(result, ValidationError)
    return (type(result).__name__, result.field, result.message)


class Tenancy:
    """One tenant the scenario runs in."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self.caller: Caller = sign_in(
            container, new_tenant(container), "insider", revival_window=WINDOW, merge_limit=2
        )
        self.tenant_id = self.caller.tenant.tenant_id

    def upsert_one(self, person: PersonInput, now: int, confirmed: bool) -> Any:
        try:
            with self.c.uow_factory(self.tenant_id) as uow:
                outcome = identity.upsert_person(
                    uow,
                    tenant=self.caller.tenant,
                    person=person,
                    now=now,
                    hasher=self.c.hasher,
                    confirmed=confirmed,
                )
                uow.commit()
        except (IdentifierInUse, Suppressed, ValidationError) as exc:
            return exc
        return outcome

    def upsert_batch(self, batch: list[PersonInput], now: int, confirmed: bool) -> list[Any]:
        with self.c.uow_factory(self.tenant_id) as uow:
            results = identity.upsert_people(
                uow,
                tenant=self.caller.tenant,
                people=batch,
                now=now,
                hasher=self.c.hasher,
                confirmed=confirmed,
            )
            uow.commit()
        return list(results)

    def prepare(self, scenario: Scenario, now: int) -> None:
        for person in scenario.before:
            self.upsert_one(person, now, confirmed=True)
        for ident in scenario.soft_deleted:
            with self.c.uow_factory(self.tenant_id) as uow:
                try:
                    deletions.soft_delete_profile(
                        uow, caller=self.caller, uuid=ident.value, now=now, confirmed=True
                    )
                except ObliviateError:
                    continue
                uow.commit()
        for ident in scenario.suppressed:
            with self.c.uow_factory(self.tenant_id) as uow:
                suppression.suppress(uow, ident=ident, now=now, hasher=self.c.hasher)
                uow.commit()

    def stored(self) -> tuple[Any, ...]:
        """Who holds each identifier of the universe (profiles numbered in order of first
        appearance), with each profile's state, attributes, rows and merges; and the jobs."""
        numbers: dict[int, int] = {}
        holders: list[Any] = []
        with self.c.uow_factory(self.tenant_id, write=False) as uow:
            for ident in UNIVERSE:
                profile = uow.profiles.find_by_identifier(ident.id_type, ident.value)
                if profile is None:
                    holders.append(None)
                    continue
                pid = profile.profile_id
                holders.append(
                    (
                        numbers.setdefault(pid, len(numbers)),
                        profile.state.value,
                        profile.attributes,
                        uow.person_rows.count("profile", pid),
                        len(uow.profiles.merged_into(pid)),
                    )
                )
        with self.c.engine.connect() as conn:
            jobs = conn.execute(
                select(func.count()).where(t.jobs.c.tenant_id == self.tenant_id)
            ).scalar_one()
        return tuple(holders), jobs


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios)
def test_a_batch_ends_as_the_same_people_upserted_one_request_each(
    container: Container, scenario: Scenario
) -> None:
    at = now_ms()
    then = at + round(WINDOW * 1000) + 1000 if scenario.past_window else at + 1000
    batched, one_by_one = Tenancy(container), Tenancy(container)
    batched.prepare(scenario, at)
    one_by_one.prepare(scenario, at)

    answers = batched.upsert_batch(scenario.batch, then, scenario.confirmed)
    expected = [one_by_one.upsert_one(p, then, scenario.confirmed) for p in scenario.batch]

    assert [_answer(a) for a in answers] == [_answer(e) for e in expected]
    assert batched.stored() == one_by_one.stored()
