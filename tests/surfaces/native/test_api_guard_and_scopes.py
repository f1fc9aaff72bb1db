"""Who may delete, and how much: token scopes answer 403 problem+json and change nothing; the
mass-delete guard refuses bursts past the allowance of the last 60 minutes on the native API and on
Gainsight, each in its own envelope, unless the caller confirms the burst."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.clock import FakeClock
from tests.support.headers import gs_headers, native_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import assert_error as assert_gainsight_error
from tests.surfaces.native.support import (
    API,
    CONFIRM,
    accepted_job,
    assert_problem,
    create_profile,
    get_profile,
    scoped_token,
    subject,
    submit,
)

# --- scopes -------------------------------------------------------------------------------------

# (method, path, body, scope it needs); "job" is replaced with a queued job's id.
WRITES_AND_DELETES: list[tuple[str, str, Any, str]] = [
    ("PUT", f"{API}/profiles/new-1", {"attributes": {}}, "write"),
    ("PUT", f"{API}/profiles/p-1", {"attributes": {"x": 1}}, "write"),
    ("POST", f"{API}/profiles/p-1/events", {"events": [{"name": "x"}]}, "write"),
    ("PUT", f"{API}/devices/d-1", {"platform": "ios"}, "write"),
    ("PUT", f"{API}/profiles/p-1/devices/d-1", None, "write"),
    ("POST", f"{API}/profiles/p-1/restore", None, "write"),
    ("DELETE", f"{API}/profiles/p-1", None, "delete"),
    ("DELETE", f"{API}/profiles/p-1?mode=hard", None, "delete"),
    ("DELETE", f"{API}/profiles/p-1?mode=hard&dry_run=true", None, "delete"),
    ("POST", f"{API}/deletions", {"subjects": [{"type": "uuid", "value": "p-1"}]}, "delete"),
    ("POST", f"{API}/deletions/job/cancel", None, "delete"),
    ("POST", f"{API}/suppressions", {"type": "email", "value": "a@example.com"}, "admin"),
    ("DELETE", f"{API}/suppressions/email/a@example.com", None, "admin"),
]


@pytest.fixture
def queued_job(client: TestClient, tenant: Tenant) -> str:
    create_profile(client, tenant, "p-1")
    response = submit(client, tenant, [subject("uuid", "nobody")])
    job_id: str = accepted_job(response)["id"]
    return job_id


def send(
    client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx2.Response:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(
    ("method", "path", "body", "scope"),
    WRITES_AND_DELETES,
    ids=[f"{m} {p}" for m, p, _, _ in WRITES_AND_DELETES],
)
def test_a_read_only_token_gets_403_problem_naming_the_scope_and_changes_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    queued_job: str,
    method: str,
    path: str,
    body: Any,
    scope: str,
) -> None:
    read_only = scoped_token(container, tenant, "read")
    before = snapshot(container)
    response = send(client, method, path.replace("job", queued_job), body, read_only)
    problem = assert_problem(response, 403, "forbidden")
    assert problem["scope"] == scope
    assert scope in problem["detail"]
    assert snapshot(container) == before


def test_a_read_only_token_can_read(
    client: TestClient, container: Container, tenant: Tenant, queued_job: str
) -> None:
    read_only = scoped_token(container, tenant, "read")
    for path in (
        f"{API}/profiles/p-1",
        f"{API}/profiles",
        f"{API}/deletions/{queued_job}",
        f"{API}/receipts",
    ):
        response = client.get(path, headers=read_only)
        assert response.status_code == 200, f"{path}: {response.text}"


def test_a_write_token_can_write_but_not_delete(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    write = scoped_token(container, tenant, "write")
    assert client.put(f"{API}/profiles/w-1", json={}, headers=write).status_code == 201
    assert_problem(client.delete(f"{API}/profiles/w-1", headers=write), 403, "forbidden")
    assert_problem(submit(client, tenant, [subject("uuid", "w-1")], headers=write), 403)
    assert get_profile(client, tenant, "w-1").status_code == 200


def test_a_delete_scoped_token_can_delete_and_submit_batches(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    delete_only = scoped_token(container, tenant, "delete")
    for uuid in ("d-1", "d-2", "d-3"):
        create_profile(client, tenant, uuid)
    soft = client.delete(f"{API}/profiles/d-1", headers=delete_only)
    assert soft.status_code == 200, soft.text
    hard = client.delete(f"{API}/profiles/d-2?mode=hard", headers=delete_only)
    assert hard.status_code == 202, hard.text
    dry = client.delete(f"{API}/profiles/d-3?mode=hard&dry_run=true", headers=delete_only)
    assert dry.status_code == 200, dry.text
    job = accepted_job(submit(client, tenant, [subject("uuid", "d-3")], headers=delete_only))
    cancelled = client.post(f"{API}/deletions/{job['id']}/cancel", headers=delete_only)
    assert cancelled.status_code == 200, cancelled.text
    for uuid in ("d-1", "d-2"):
        assert_problem(get_profile(client, tenant, uuid), 404)
    # Deleting does not grant reading.
    assert_problem(client.get(f"{API}/profiles/d-3", headers=delete_only), 403, "forbidden")


def test_an_admin_token_may_do_everything(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    admin = scoped_token(container, tenant, "admin")
    assert client.put(f"{API}/profiles/a-1", json={}, headers=admin).status_code == 201
    assert client.get(f"{API}/profiles/a-1", headers=admin).status_code == 200
    assert client.delete(f"{API}/profiles/a-1?mode=hard", headers=admin).status_code == 202
    suppression = {"type": "email", "value": "a@example.com"}
    assert client.post(f"{API}/suppressions", json=suppression, headers=admin).status_code == 201


def test_a_scoped_token_of_another_tenant_is_still_another_tenant(
    client: TestClient, container: Container, tenant: Tenant, other_tenant: Tenant
) -> None:
    create_profile(client, tenant, "mine")
    theirs = scoped_token(container, other_tenant, "read", "delete")
    assert_problem(client.get(f"{API}/profiles/mine", headers=theirs), 404)
    assert_problem(client.delete(f"{API}/profiles/mine?mode=hard", headers=theirs), 404)
    assert get_profile(client, tenant, "mine").status_code == 200


# --- the mass-delete guard ----------------------------------------------------------------------

GUARD = {"mass_delete_floor": 3, "mass_delete_share": 0.1}
guarded = pytest.mark.parametrize("settings_overrides", [GUARD])


def people(client: TestClient, tenant: Tenant, count: int) -> list[str]:
    uuids = [f"g-{n}" for n in range(count)]
    for uuid in uuids:
        create_profile(client, tenant, uuid)
    return uuids


def soft_delete(client: TestClient, tenant: Tenant, uuid: str, **headers: str) -> Any:
    return client.delete(f"{API}/profiles/{uuid}", headers={**native_headers(tenant), **headers})


@guarded
def test_single_deletes_past_the_allowance_are_409_problem_and_change_nothing(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    uuids = people(client, tenant, 6)
    assert soft_delete(client, tenant, uuids[0]).status_code == 200
    hard = client.delete(f"{API}/profiles/{uuids[1]}?mode=hard", headers=native_headers(tenant))
    assert hard.status_code == 202, hard.text
    assert soft_delete(client, tenant, uuids[2]).status_code == 200
    before = snapshot(container)
    for query in ("", "?mode=hard", "?mode=hard&suppress=true"):
        refused = client.delete(f"{API}/profiles/{uuids[3]}{query}", headers=native_headers(tenant))
        problem = assert_problem(refused, 409, "mass-delete-guard")
        assert problem["allowed"] == 3
        assert "X-Obliviate-Confirm-Mass-Delete: yes" in problem["detail"]
    assert snapshot(container) == before
    assert get_profile(client, tenant, uuids[3]).status_code == 200


@guarded
def test_a_confirmed_burst_passes_the_guard(client: TestClient, tenant: Tenant) -> None:
    uuids = people(client, tenant, 6)
    for uuid in uuids[:3]:
        assert soft_delete(client, tenant, uuid).status_code == 200
    assert_problem(soft_delete(client, tenant, uuids[3]), 409, "mass-delete-guard")
    confirmed = soft_delete(client, tenant, uuids[3], **CONFIRM)
    assert confirmed.status_code == 200, confirmed.text
    assert_problem(get_profile(client, tenant, uuids[3]), 404)
    hard = client.delete(
        f"{API}/profiles/{uuids[4]}?mode=hard", headers={**native_headers(tenant), **CONFIRM}
    )
    assert hard.status_code == 202, hard.text


@guarded
def test_a_batch_past_the_allowance_is_409_and_makes_no_job_unless_confirmed(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    uuids = people(client, tenant, 6)
    subjects = [subject("uuid", u) for u in uuids[:4]]
    before = snapshot(container)
    problem = assert_problem(submit(client, tenant, subjects), 409, "mass-delete-guard")
    assert problem["allowed"] == 3
    assert snapshot(container) == before
    job = accepted_job(submit(client, tenant, subjects, headers=CONFIRM))
    assert len(job["subjects"]) == 4


@guarded
def test_dry_runs_and_subjects_nobody_holds_do_not_use_the_allowance(
    client: TestClient, tenant: Tenant
) -> None:
    uuids = people(client, tenant, 6)
    everyone = [subject("uuid", u) for u in uuids]
    for _ in range(3):
        assert submit(client, tenant, everyone, dry_run=True).status_code == 200
        dry = client.delete(
            f"{API}/profiles/{uuids[0]}?dry_run=true", headers=native_headers(tenant)
        )
        assert dry.status_code == 200, dry.text
    nobody = [subject("uuid", f"nobody-{n}") for n in range(20)]
    accepted_job(submit(client, tenant, nobody))
    for uuid in uuids[:3]:
        assert soft_delete(client, tenant, uuid).status_code == 200


@guarded
def test_the_allowance_is_shared_by_every_surface_and_gainsight_refuses_in_its_envelope(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    uuids = people(client, tenant, 6)
    assert soft_delete(client, tenant, uuids[0]).status_code == 200
    accepted_job(submit(client, tenant, [subject("uuid", uuids[1])]))
    gainsight = client.delete(f"/v1/users/{uuids[2]}", headers=gs_headers(tenant))
    assert gainsight.status_code == 200, gainsight.text
    before = snapshot(container)
    for path in (f"/v1/users/{uuids[3]}", f"/v1/users/{uuids[3]}?hardDelete=true"):
        refused = client.delete(path, headers=gs_headers(tenant))
        assert_gainsight_error(refused, 409, "CONFLICT")
        assert "X-Obliviate-Confirm-Mass-Delete" in refused.json()["externalapierror"]["message"]
    assert_problem(soft_delete(client, tenant, uuids[3]), 409, "mass-delete-guard")
    assert snapshot(container) == before
    confirmed = client.delete(f"/v1/users/{uuids[3]}", headers={**gs_headers(tenant), **CONFIRM})
    assert confirmed.status_code == 200, confirmed.text


@guarded
def test_the_allowance_grows_with_the_tenants_profiles(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(container.clock, "now_ms", clock.now_ms)
    uuids = people(client, tenant, 50)  # 10% of 50 = 5 > the floor of 3
    # Measured against the profiles there when the last 60 minutes began.
    clock.advance(3600)
    for uuid in uuids[:5]:
        assert soft_delete(client, tenant, uuid).status_code == 200
    problem = assert_problem(soft_delete(client, tenant, uuids[5]), 409, "mass-delete-guard")
    assert problem["allowed"] == 5
    # Another tenant's allowance is its own.
    theirs = people(client, other_tenant, 3)
    for uuid in theirs:
        assert soft_delete(client, other_tenant, uuid).status_code == 200
