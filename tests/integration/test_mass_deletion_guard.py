"""The mass-deletion guard has no side doors: no surface deletes past the allowance unasked.

Every surface that removes a profile counts against one allowance; the window slides over the
last 60 minutes instead of the clock hour, and the allowance is a share of the profiles there
at the start of the window, so fillers created just before a burst raise nothing. Time moves
on a fake clock the app reads. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.domain.errors import MassDeletionRefused
from obliviate.domain.guard import DeletionKind
from obliviate.domain.tenants import Tenant
from obliviate.services.guard import admit_deletions
from obliviate.storage import tables as t
from tests.support.clock import FakeClock
from tests.support.headers import gs_headers, native_headers
from tests.support.tenants import sign_in
from tests.surfaces.insider.support import call as insider_call
from tests.surfaces.native.support import (
    API,
    CONFIRM,
    accepted_job,
    assert_problem,
    create_profile,
    get_profile,
    subject,
    submit,
)

Wire = dict[str, Any]
FLOOR = 3
SHARE = 0.1
# 30 profiles there before the window: an allowance of max(3, 10% of 30) = 3.
OLD_PROFILES = 30
# Ten o'clock of a day to come, so the clock-hour boundary falls where the test says.
TEN_O_CLOCK = int(datetime.datetime(2030, 3, 4, 10, 0, tzinfo=datetime.UTC).timestamp() * 1000)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"mass_delete_floor": FLOOR, "mass_delete_share": SHARE}


@pytest.fixture
def clock(container: Container, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The app's clock, moved by hand; it starts an hour before ten."""
    fake = FakeClock(TEN_O_CLOCK - 3_600_000)
    monkeypatch.setattr(container.clock, "now_ms", fake.now_ms)
    return fake


def at(clock: FakeClock, hour: int, minute: int, second: int = 0) -> None:
    """Set the clock to that time of the test's day."""
    clock.now = TEN_O_CLOCK + ((hour - 10) * 3600 + minute * 60 + second) * 1000


def population(client: TestClient, tenant: Wire, prefix: str, count: int) -> list[str]:
    uuids = [f"{prefix}-{n}" for n in range(count)]
    for uuid in uuids:
        create_profile(client, tenant, uuid)
    return uuids


def native_delete(client: TestClient, tenant: Wire, uuid: str, **headers: str) -> httpx2.Response:
    return client.delete(f"{API}/profiles/{uuid}", headers={**native_headers(tenant), **headers})


def assert_refused(response: httpx2.Response, *, recent: int, allowed: int) -> None:
    problem = assert_problem(response, 409, "mass-delete-guard")
    assert problem["allowed"] == allowed, problem
    assert f"mass-deletion guard: {recent} " in problem["detail"], problem
    assert "X-Obliviate-Confirm-Mass-Delete: yes" in problem["detail"], problem


def test_filler_profiles_created_just_before_a_burst_do_not_raise_the_allowance(
    client: TestClient, tenant: Wire, clock: FakeClock
) -> None:
    old = population(client, tenant, "old", OLD_PROFILES)
    at(clock, 10, 30)
    # 70 fillers would make the old hourly allowance 10% of 100 = 10.
    population(client, tenant, "filler", 70)
    for uuid in old[:3]:
        assert native_delete(client, tenant, uuid).status_code == 200
    assert_refused(native_delete(client, tenant, old[3]), recent=4, allowed=3)
    assert_refused(submit(client, tenant, [subject("uuid", old[4])]), recent=4, allowed=3)
    assert get_profile(client, tenant, old[3]).status_code == 200


def test_deleting_fillers_costs_more_allowance_than_it_adds(
    client: TestClient, tenant: Wire, clock: FakeClock
) -> None:
    old = population(client, tenant, "old", OLD_PROFILES)
    at(clock, 10, 30)
    fillers = population(client, tenant, "filler", 70)
    for uuid in fillers[:3]:
        assert native_delete(client, tenant, uuid).status_code == 200
    # Deleted fillers count as if they had been there (33 profiles: still 3), and use it up.
    assert_refused(native_delete(client, tenant, fillers[3]), recent=4, allowed=3)
    assert_refused(native_delete(client, tenant, old[0]), recent=4, allowed=3)


def test_a_burst_split_across_a_clock_hour_boundary_is_refused_past_one_allowance(
    client: TestClient, tenant: Wire, clock: FakeClock
) -> None:
    old = population(client, tenant, "old", OLD_PROFILES)
    at(clock, 10, 59)
    assert native_delete(client, tenant, old[0]).status_code == 200
    assert client.delete(f"/v1/users/{old[1]}", headers=gs_headers(tenant)).status_code == 200
    accepted_job(submit(client, tenant, [subject("uuid", old[2])]))
    at(clock, 11, 1)
    assert_refused(native_delete(client, tenant, old[3]), recent=4, allowed=3)
    hard = client.delete(f"{API}/profiles/{old[3]}?mode=hard", headers=native_headers(tenant))
    assert_refused(hard, recent=4, allowed=3)
    gainsight = client.delete(f"/v1/users/{old[3]}", headers=gs_headers(tenant))
    assert gainsight.status_code == 409, gainsight.text
    assert "mass-deletion guard" in gainsight.json()["externalapierror"]["message"]
    insider = insider_call(client, tenant, "POST", "/delete", {"identifiers": {"uuid": old[3]}})
    assert insider.status_code == 400, insider.text
    assert "mass-deletion guard" in insider.json()["error"]
    assert get_profile(client, tenant, old[3]).status_code == 200
    # A confirmed deletion passes, and is counted like any other.
    assert native_delete(client, tenant, old[3], **CONFIRM).status_code == 200
    assert_refused(native_delete(client, tenant, old[4]), recent=5, allowed=3)


def test_sixty_minutes_after_a_burst_its_allowance_is_back(
    client: TestClient, tenant: Wire, clock: FakeClock
) -> None:
    old = population(client, tenant, "old", OLD_PROFILES)
    at(clock, 10, 30, 0)
    for uuid in old[:3]:
        assert native_delete(client, tenant, uuid).status_code == 200
    # Not back with the next clock hour, nor a second before the 60 minutes are up.
    for hour, minute, second in ((11, 0, 0), (11, 29, 59)):
        at(clock, hour, minute, second)
        assert_refused(native_delete(client, tenant, old[3]), recent=4, allowed=3)
    at(clock, 11, 30, 0)
    for uuid in old[3:6]:
        assert native_delete(client, tenant, uuid).status_code == 200
    assert_refused(native_delete(client, tenant, old[6]), recent=4, allowed=3)


# --- concurrent admissions ----------------------------------------------------------------------


def tenant_of(container: Container, wire: Wire, *, floor: int) -> Tenant:
    caller = sign_in(container, wire, "native", revival_window=7 * 86400.0, mass_delete_floor=floor)
    return caller.tenant


def tallied(container: Container, tenant: Tenant) -> int:
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(t.deletion_tally.c.deletions).where(
                t.deletion_tally.c.tenant_id == tenant.tenant_id,
                t.deletion_tally.c.kind == DeletionKind.PROFILES.value,
            )
        )
        return sum(int(r.deletions) for r in rows)


def admit(container: Container, tenant: Tenant, now: int) -> None:
    with container.uow_factory(tenant.tenant_id) as uow:
        admit_deletions(uow, tenant=tenant, count=1, confirmed=False, now=now)
        uow.commit()


@pytest.mark.parametrize(
    ("earlier", "first_at", "second_at"),
    [
        # Neither finds a row to count in, or to lock: the tenant's very first deletions.
        (0, TEN_O_CLOCK + 30_000, TEN_O_CLOCK + 30_001),
        # Each counts in its own minute, and in its own clock hour.
        (1, TEN_O_CLOCK - 100, TEN_O_CLOCK + 100),
    ],
    ids=["first-deletions-in-one-minute", "across-an-hour-boundary"],
)
def test_a_concurrent_deletion_waits_for_the_first_and_is_counted_after_it(
    container: Container, tenant: Wire, earlier: int, first_at: int, second_at: int
) -> None:
    guarded = tenant_of(container, tenant, floor=earlier + 1)
    if earlier:
        admit(container, guarded, first_at - 1_800_000)
    refused: list[MassDeletionRefused] = []

    def second() -> None:
        try:
            admit(container, guarded, second_at)
        except MassDeletionRefused as exc:
            refused.append(exc)

    with container.uow_factory(guarded.tenant_id) as first:
        admit_deletions(first, tenant=guarded, count=1, confirmed=False, now=first_at)
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive(), "the second deletion did not wait for the first"
        first.commit()
    racer.join(10)
    assert not racer.is_alive()
    assert [(e.recent, e.allowed) for e in refused] == [(earlier + 2, earlier + 1)]
    assert tallied(container, guarded) == earlier + 1
