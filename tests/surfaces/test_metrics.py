"""/metrics counts what was acknowledged, under the surface that was asked, and reads the jobs
from the database.

A deletion counts once it is committed: one refused (unknown person, wrong tenant) or only
tried (a dry run) counts nothing. The job figures are the database's, so a job another process
enqueued shows up, and a queue that no worker drains shows its lag.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.storage import tables as t
from tests.factories import gainsight_user
from tests.support.clock import now_ms
from tests.support.headers import gs_headers, native_headers
from tests.support.rows import tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import delete_device, set_device
from tests.surfaces.native.support import create_profile

TOKEN = "a-metrics-token-from-the-environment"


def samples(
    client: TestClient, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def deletions(client: TestClient, surface: str, mode: str) -> float:
    key = ("obliviate_deletions_total", (("mode", mode), ("surface", surface)))
    return samples(client).get(key, 0.0)


def test_each_acknowledged_deletion_counts_once_under_its_surface_and_mode(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    for uuid in ("soft-1", "hard-1"):
        assert (
            client.post(
                "/v1/users", json=gainsight_user(uuid), headers=gs_headers(tenant)
            ).status_code
            == 201
        )
    create_profile(client, tenant, "native-1")
    set_device(client, tenant, "phone-1", add=["news"])

    assert client.delete("/v1/users/soft-1", headers=gs_headers(tenant)).status_code == 200
    assert deletions(client, "gainsight", "soft") == 1
    hard = client.delete("/v1/users/hard-1?hardDelete=true", headers=gs_headers(tenant))
    assert hard.status_code == 200, hard.text
    assert deletions(client, "gainsight", "hard") == 1
    native = client.delete("/api/v1/profiles/native-1?mode=hard", headers=native_headers(tenant))
    assert native.status_code in (200, 202), native.text
    assert deletions(client, "native", "hard") == 1
    delete_device(client, tenant, "phone-1")
    assert deletions(client, "engagelab", "device") == 1

    # Refused, or only tried: nothing more is counted.
    assert client.delete("/v1/users/nobody", headers=gs_headers(tenant)).status_code == 404
    assert client.delete("/v1/users/soft-1", headers=gs_headers(tenant)).status_code == 404
    theirs = client.delete(
        "/api/v1/profiles/native-1?mode=hard", headers=native_headers(other_tenant)
    )
    assert theirs.status_code == 404, theirs.text
    create_profile(client, tenant, "native-2")
    dry = client.delete(
        "/api/v1/profiles/native-2?mode=hard&dry_run=true", headers=native_headers(tenant)
    )
    assert dry.status_code == 200, dry.text
    assert deletions(client, "gainsight", "soft") == 1
    assert deletions(client, "gainsight", "hard") == 1
    assert deletions(client, "native", "hard") == 1
    assert deletions(client, "engagelab", "device") == 1


def test_jobs_by_state_are_the_database_s_and_an_undrained_queue_shows_its_lag(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    for uuid in ("j-1", "j-2"):
        assert (
            client.post(
                "/v1/users", json=gainsight_user(uuid), headers=gs_headers(tenant)
            ).status_code
            == 201
        )
        deleted = client.delete(f"/v1/users/{uuid}?hardDelete=true", headers=gs_headers(tenant))
        assert deleted.status_code == 200, deleted.text
    tid = tenant_id_of(container, tenant)
    with container.engine.begin() as conn:
        stored: dict[str, int] = dict(
            conn.execute(select(t.jobs.c.state, func.count()).group_by(t.jobs.c.state)).all()
        )
        # As if no worker had looked at the queue for ten minutes.
        conn.execute(
            update(t.jobs)
            .where(t.jobs.c.tenant_id == tid, t.jobs.c.state == "queued")
            .values(run_after=now_ms() - 600_000)
        )
    assert stored.get("queued", 0) >= 2
    found = samples(client)
    for state in ("queued", "running", "completed", "failed"):
        assert found[("obliviate_jobs", (("state", state),))] == stored.get(state, 0)
    assert found[("obliviate_job_queue_lag_seconds", ())] >= 600


def test_a_job_put_off_until_later_is_no_lag(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    assert (
        client.post(
            "/v1/users", json=gainsight_user("later"), headers=gs_headers(tenant)
        ).status_code
        == 201
    )
    deleted = client.delete("/v1/users/later?hardDelete=true", headers=gs_headers(tenant))
    assert deleted.status_code == 200, deleted.text
    tid = tenant_id_of(container, tenant)
    with container.engine.begin() as conn:
        conn.execute(
            update(t.jobs)
            .where(t.jobs.c.tenant_id == tid, t.jobs.c.state == "queued")
            .values(run_after=now_ms() + 3_600_000)
        )
        # Other tenants' jobs, left by earlier tests on a shared database, count as they are.
        due = conn.execute(
            select(func.min(t.jobs.c.run_after)).where(t.jobs.c.state == "queued")
        ).scalar_one()
    lag = samples(client)[("obliviate_job_queue_lag_seconds", ())]
    expected = max(0.0, (now_ms() - int(due)) / 1000)
    assert expected - 5 <= lag <= expected


class TestGuardedByToken:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"metrics_token": TOKEN}

    @pytest.mark.parametrize(
        "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "]
    )
    def test_without_the_token_metrics_are_refused(
        self, client: TestClient, authorization: str | None
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "obliviate_" not in response.text

    def test_with_the_token_they_are_served(self, client: TestClient) -> None:
        assert ("obliviate_job_queue_lag_seconds", ()) in samples(
            client, Authorization=f"Bearer {TOKEN}"
        )


def exports(client: TestClient, kind: str) -> float:
    return samples(client).get(("obliviate_exports_total", (("kind", kind),)), 0.0)


def test_each_export_given_counts_once_and_a_refused_or_replayed_one_not(
    client: TestClient, tenant: Tenant
) -> None:
    create_profile(client, tenant, "exported-1")
    assert (
        client.get("/api/v1/profiles/nobody/export", headers=native_headers(tenant)).status_code
        == 404
    )
    assert exports(client, "profile") == 0
    given = client.get("/api/v1/profiles/exported-1/export", headers=native_headers(tenant))
    assert given.status_code == 200, given.text
    assert exports(client, "profile") == 1
    body = {"subjects": [{"type": "uuid", "value": "exported-1"}]}
    headers = {**native_headers(tenant), "Idempotency-Key": "export-once"}
    for _ in range(2):
        submitted = client.post("/api/v1/exports", json=body, headers=headers)
        assert submitted.status_code == 202, submitted.text
    assert exports(client, "batch") == 1
