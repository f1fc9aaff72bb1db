"""Helpers shared by the native API tests: tokens, problem details, profiles with history, and
driving a deletion job to its end with the real worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import httpx2
from sqlalchemy import insert, select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from obliviate.services.tenants import create_token
from obliviate.storage import tables as t
from tests.support.clock import now_ms
from tests.support.headers import bearer, native_headers
from tests.support.tenants import Tenant

API = "/api/v1"
PROBLEM_BASE = "https://obliviate.dev/problems/"
TERMINAL = frozenset({"completed", "partial", "failed", "cancelled"})
CONFIRM = {"X-Obliviate-Confirm-Mass-Delete": "yes"}


def scoped_token(container: Container, tenant: Tenant, *scopes: str) -> dict[str, str]:
    """Headers with a fresh token of this tenant limited to ``scopes``."""
    token = create_token(
        container.tenant_store, name=tenant["tenant"], scopes=list(scopes), now=now_ms()
    )
    return bearer(token)


def assert_problem(response: httpx2.Response, status: int, kind: str | None = None) -> Any:
    """RFC 9457: the media type and the four members every problem carries."""
    # support.py is not assertion-rewritten by pytest: say what was received.
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= set(problem), problem
    assert problem["title"] == HTTPStatus(status).phrase, problem
    assert problem["status"] == status, problem
    assert isinstance(problem["detail"], str), problem
    assert problem["detail"], problem
    if kind is not None:
        assert problem["type"] == PROBLEM_BASE + kind, problem
    return problem


# --- profiles, events, devices ---------------------------------------------------------------


def put_profile(
    client: TestClient,
    tenant: Tenant,
    uuid: str,
    attributes: dict[str, Any] | None = None,
    identifiers: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    body: dict[str, Any] = {}
    if attributes is not None:
        body["attributes"] = attributes
    if identifiers is not None:
        body["identifiers"] = identifiers
    return client.put(
        f"{API}/profiles/{uuid}", json=body, headers=headers or native_headers(tenant)
    )


def create_profile(client: TestClient, tenant: Tenant, uuid: str, **identifiers: Any) -> Any:
    response = put_profile(client, tenant, uuid, {"name": uuid}, identifiers or None)
    assert response.status_code == 201, response.text
    return response.json()


def add_events(client: TestClient, tenant: Tenant, uuid: str, count: int) -> None:
    events = [
        {"name": f"e{n}", "timestamp": 1_000 + n, "properties": {"n": n}} for n in range(count)
    ]
    response = client.post(
        f"{API}/profiles/{uuid}/events", json={"events": events}, headers=native_headers(tenant)
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": count}, response.text


def own_device(
    client: TestClient,
    tenant: Tenant,
    uuid: str,
    rid: str,
    *,
    tags: tuple[str, ...] = (),
    alias: str | None = None,
) -> None:
    """Register a device (tags and alias through EngageLab) and give it to the profile."""
    headers = native_headers(tenant)
    put = client.put(f"{API}/devices/{rid}", json={"platform": "android"}, headers=headers)
    assert put.status_code == 201, put.text
    if tags or alias is not None:
        body: dict[str, Any] = {"tags": {"add": list(tags)}}
        if alias is not None:
            body["alias"] = alias
        app_key, secret = tenant["engagelab"]["app_key"], tenant["engagelab"]["master_secret"]
        posted = client.post(f"/v4/devices/{rid}", json=body, auth=(app_key, secret))
        assert posted.status_code == 200, posted.text
    owned = client.put(f"{API}/profiles/{uuid}/devices/{rid}", headers=headers)
    assert owned.status_code == 200, owned.text


# What a deletion of person_with_history counts, by kind: uuid + email, 3 events, 2 devices
# with 3 tags and 1 alias.
HISTORY_COUNTS = {
    "aliases": 1,
    "devices": 2,
    # The profile's key and its two devices'.
    "keys": 3,
    "events": 3,
    "identifiers": 2,
    "merges": 0,
    "profiles": 1,
    "tags": 3,
}


def person_with_history(client: TestClient, tenant: Tenant, uuid: str, tag: str = "") -> None:
    """A profile with an email, three events, and two owned devices: one with two tags and an
    alias, one with a single tag."""
    create_profile(client, tenant, uuid, email=f"{uuid}@example.com")
    add_events(client, tenant, uuid, 3)
    own_device(
        client,
        tenant,
        uuid,
        f"{uuid}-phone",
        tags=("news", f"vip{tag}"),
        alias="a_" + uuid.replace("-", "_"),
    )
    own_device(client, tenant, uuid, f"{uuid}-tablet", tags=("news",))


def get_profile(client: TestClient, tenant: Tenant, uuid: str) -> httpx2.Response:
    return client.get(f"{API}/profiles/{uuid}", headers=native_headers(tenant))


# --- deletions ---------------------------------------------------------------------------------


def subject(id_type: str, value: str) -> dict[str, str]:
    return {"type": id_type, "value": value}


def submit(
    client: TestClient,
    tenant: Tenant,
    subjects: list[dict[str, str]],
    headers: dict[str, str] | None = None,
    **options: Any,
) -> httpx2.Response:
    return client.post(
        f"{API}/deletions",
        json={"subjects": subjects, **options},
        headers={**native_headers(tenant), **(headers or {})},
    )


def accepted_job(response: httpx2.Response) -> Any:
    assert response.status_code == 202, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return response.json()


def job_status(client: TestClient, tenant: Tenant, job_id: str) -> Any:
    response = client.get(f"{API}/deletions/{job_id}", headers=native_headers(tenant))
    assert response.status_code == 200, response.text
    return response.json()


def job_row(container: Container, job_id: int | str) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(select(t.jobs).where(t.jobs.c.job_id == int(job_id))).one()


def run_until(worker: Worker, done: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Run due jobs (any tenant's: on PostgreSQL older tests' jobs may be due too) until
    ``done()``. A batch defers itself for a moment while its purges run, so when nothing is due
    the loop looks again shortly, up to ``timeout``."""
    give_up = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < give_up, f"{what}: not done after {timeout} s"
        if not worker.run_once():
            time.sleep(0.005)


def run_until_terminal(
    container: Container, worker: Worker, job_id: int | str, timeout: float = 15.0
) -> str:
    """Run due jobs until this one ends; its final state."""
    run_until(
        worker,
        lambda: str(job_row(container, job_id).state) in TERMINAL,
        f"job {job_id}",
        timeout,
    )
    return str(job_row(container, job_id).state)


def plant_event(container: Container, tenant_id: str, profile_id: int, event_id: int) -> None:
    """Write an event row for a profile behind the services' back (a leftover to find)."""
    with container.engine.begin() as conn:
        conn.execute(
            insert(t.events).values(
                tenant_id=tenant_id,
                event_id=event_id,
                profile_id=profile_id,
                name="planted",
                occurred_at=1,
                # Sealed under no key there is: the row is what a leftover check must find.
                sealed_body=b"sealed",
            )
        )


def receipts(client: TestClient, tenant: Tenant, since: int = 0) -> list[Any]:
    response = client.get(f"{API}/receipts?since={since}", headers=native_headers(tenant))
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["receipts"]
    return found
