"""Tenant isolation, generated from the route table.

Every route of the app is called with tenant B's credentials for tenant A's ids. It must answer
not-found (or B's own, empty view, or act on B's own data), leak nothing of A's, and leave every
row of A's unchanged. A route that is not in the matrix fails the test, so a new route cannot
ship without its isolation check.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.http.gainsight.catalog import CONTENT_LISTS, EVENT_HISTORIES
from obliviate.jobs.worker import Worker
from tests.support.headers import surface_headers
from tests.support.rows import snapshot, tenant_id_of

UUID, EMAIL, PHONE = "iso-user-a", "iso-a@example.com", "+6591234567"
DEVICE, TAG, ALIAS = "iso-device-a", "isotag", "isoalias"
SECRET_EVENT = "iso_event_secret"
ACCOUNT, ACCOUNT_SECRET, CUSTOM_SECRET = "iso-account-a", "isoAccountSecret", "isoCustomSecret"
UNCHECKED = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/openapi.json",
    "/",
    "/docs",
    "/docs/static/{name}",
    *(f"/{surface}/openapi.json" for surface in ("gainsight", "engagelab", "insider", "native")),
}
# The console signs in with a session cookie, not a surface's credentials: its cross-tenant
# test is tests/surfaces/console/test_cross_tenant.py.
CONSOLE = "/console"


@dataclass(frozen=True)
class Probe:
    surface: str
    path: str
    allowed: frozenset[int]
    json: Any = None


@dataclass
class TenantA:
    tenant_id: str
    profile_hex: str
    job_id: str
    receipt_id: str
    export_job_id: str


def _matrix(a: TenantA) -> dict[str, Probe]:
    nf, ok = frozenset({404}), frozenset({200})
    gone = {"identifiers": {"email": EMAIL}}
    return {
        "POST /v1/users": Probe(
            "gainsight", "/v1/users", frozenset({201}), {"identifyId": UUID, "propertyKeys": ["k"]}
        ),
        "GET /v1/users": Probe("gainsight", "/v1/users", ok),
        "PUT /v1/users/update": Probe(
            "gainsight", "/v1/users/update", nf, {"identifyId": UUID, "firstName": "x"}
        ),
        "DELETE /v1/users/delete": Probe("gainsight", "/v1/users/delete", nf, {"identifyId": UUID}),
        "PUT /v1/users/{identify_id:path}": Probe(
            "gainsight", f"/v1/users/{UUID}", nf, {"firstName": "x"}
        ),
        "GET /v1/users/{identify_id:path}": Probe("gainsight", f"/v1/users/{UUID}", nf),
        "DELETE /v1/users/{identify_id:path}": Probe(
            "gainsight", f"/v1/users/{UUID}?hardDelete=true", nf
        ),
        "POST /v1/events/custom": Probe(
            "gainsight",
            "/v1/events/custom",
            nf,
            {"eventName": "x", "identifyId": UUID, "propertyKey": "k"},
        ),
        "GET /v1/events/custom": Probe(
            "gainsight", f"/v1/events/custom?filter=identifyId=={UUID}", ok
        ),
        "POST /v1/accounts": Probe(
            "gainsight",
            "/v1/accounts",
            frozenset({201}),
            {"id": ACCOUNT, "name": "b", "propertyKeys": ["k"]},
        ),
        "GET /v1/accounts": Probe("gainsight", "/v1/accounts", ok),
        "PUT /v1/accounts/update": Probe(
            "gainsight", "/v1/accounts/update", nf, {"id": ACCOUNT, "name": "x"}
        ),
        "PUT /v1/accounts/{account_id:path}": Probe(
            "gainsight", f"/v1/accounts/{ACCOUNT}", nf, {"name": "x"}
        ),
        "GET /v1/accounts/{account_id:path}": Probe("gainsight", f"/v1/accounts/{ACCOUNT}", nf),
        "DELETE /v1/accounts/{account_id:path}": Probe("gainsight", f"/v1/accounts/{ACCOUNT}", nf),
        "GET /v1/admin/model/{model}/attributes": Probe(
            "gainsight", "/v1/admin/model/user/attributes", ok
        ),
        **{
            f"GET {spec.path}": Probe("gainsight", spec.path, ok)
            for spec in (*CONTENT_LISTS, *EVENT_HISTORIES)
        },
        "POST /v4/devices/status": Probe(
            "engagelab", "/v4/devices/status", ok, {"registration_ids": [DEVICE]}
        ),
        "GET /v4/devices/{rid}": Probe("engagelab", f"/v4/devices/{DEVICE}", nf),
        "POST /v4/devices/{rid}": Probe(
            "engagelab", f"/v4/devices/{DEVICE}", ok, {"tags": {"add": ["b_tag"]}}
        ),
        "DELETE /v4/devices/{rid}": Probe("engagelab", f"/v4/devices/{DEVICE}", nf),
        "GET /v4/tags": Probe("engagelab", "/v4/tags", ok),
        "GET /v4/tags_count": Probe("engagelab", f"/v4/tags_count?tags={TAG}", ok),
        "GET /v4/tags/{tag}/registration_ids/{rid}": Probe(
            "engagelab", f"/v4/tags/{TAG}/registration_ids/{DEVICE}", ok
        ),
        "POST /v4/tags/{tag}": Probe(
            "engagelab", f"/v4/tags/{TAG}", nf, {"registration_ids": {"add": [DEVICE]}}
        ),
        "DELETE /v4/tags/{tag}": Probe("engagelab", f"/v4/tags/{TAG}", ok),
        "GET /v4/aliases/{alias}": Probe("engagelab", f"/v4/aliases/{ALIAS}", ok),
        "DELETE /v4/aliases/{alias}": Probe("engagelab", f"/v4/aliases/{ALIAS}", ok),
        "POST /api/user/v1/upsert": Probe("insider", "/api/user/v1/upsert", ok, {"users": [gone]}),
        "POST /api/user/v1/profile": Probe("insider", "/api/user/v1/profile", nf, gone),
        "DELETE /api/user/v1/identity": Probe("insider", "/api/user/v1/identity", nf, gone),
        "PATCH /api/user/v1/identity": Probe(
            "insider",
            "/api/user/v1/identity",
            nf,
            {"old_identifier": {"email": EMAIL}, "new_identifier": {"email": "b@example.com"}},
        ),
        "POST /api/user/v1/delete": Probe("insider", "/api/user/v1/delete", nf, gone),
        "POST /api/user/v1/attribute/delete": Probe(
            "insider", "/api/user/v1/attribute/delete", ok, {"users": [{**gone, "whole": ["n"]}]}
        ),
        "PUT /api/v1/profiles/{uuid}": Probe(
            "native", f"/api/v1/profiles/{UUID}", frozenset({201}), {"attributes": {"b": 1}}
        ),
        "GET /api/v1/profiles/{uuid}": Probe("native", f"/api/v1/profiles/{UUID}", nf),
        "GET /api/v1/profiles": Probe("native", "/api/v1/profiles", ok),
        "POST /api/v1/profiles/{uuid}/events": Probe(
            "native", f"/api/v1/profiles/{UUID}/events", nf, {"events": [{"name": "x"}]}
        ),
        "DELETE /api/v1/profiles/{uuid}": Probe("native", f"/api/v1/profiles/{UUID}?mode=hard", nf),
        "POST /api/v1/profiles/{uuid}/restore": Probe(
            "native", f"/api/v1/profiles/{UUID}/restore", nf
        ),
        "PUT /api/v1/profiles/{uuid}/devices/{rid}": Probe(
            "native", f"/api/v1/profiles/{UUID}/devices/{DEVICE}", nf
        ),
        "PUT /api/v1/devices/{rid}": Probe(
            "native", f"/api/v1/devices/{DEVICE}", frozenset({201}), {"platform": "ios"}
        ),
        "GET /api/v1/devices/{rid}": Probe("native", f"/api/v1/devices/{DEVICE}", nf),
        "POST /api/v1/deletions": Probe(
            "native",
            "/api/v1/deletions",
            frozenset({202}),
            {"subjects": [{"type": "uuid", "value": UUID}], "mode": "hard"},
        ),
        "GET /api/v1/deletions/{job_id}": Probe("native", f"/api/v1/deletions/{a.job_id}", nf),
        "POST /api/v1/deletions/{job_id}/cancel": Probe(
            "native", f"/api/v1/deletions/{a.job_id}/cancel", nf
        ),
        "GET /api/v1/receipts/{receipt_id}": Probe(
            "native", f"/api/v1/receipts/{a.receipt_id}", nf
        ),
        "GET /api/v1/receipts": Probe("native", "/api/v1/receipts?since=0", ok),
        "GET /api/v1/profiles/{uuid}/export": Probe(
            "native", f"/api/v1/profiles/{UUID}/export", nf
        ),
        # B's own job, over B's own people: it finds none of A's.
        "POST /api/v1/exports": Probe(
            "native",
            "/api/v1/exports",
            frozenset({202}),
            {"subjects": [{"type": "uuid", "value": UUID}, {"type": "email", "value": EMAIL}]},
        ),
        "GET /api/v1/exports/{job_id}": Probe("native", f"/api/v1/exports/{a.export_job_id}", nf),
        "GET /api/v1/exports/{job_id}/download": Probe(
            "native", f"/api/v1/exports/{a.export_job_id}/download", nf
        ),
        "GET /api/v1/suppressions": Probe("native", "/api/v1/suppressions", ok),
        "POST /api/v1/suppressions": Probe(
            "native",
            "/api/v1/suppressions",
            frozenset({201}),
            {"type": "email", "value": "other@example.com"},
        ),
        "GET /api/v1/suppressions/{type}/{value}": Probe(
            "native", "/api/v1/suppressions/email/supp-a@example.com", nf
        ),
        "DELETE /api/v1/suppressions/{type}/{value}": Probe(
            "native", "/api/v1/suppressions/email/supp-a@example.com", nf
        ),
    }


def _route_keys(client: TestClient) -> set[str]:
    keys = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if (
            isinstance(route, Route)
            and route.path not in UNCHECKED
            and not route.path.startswith(CONSOLE)
        ):
            keys |= {f"{m} {route.path}" for m in route.methods or () if m != "HEAD"}
    return keys


def _seed_a(client: TestClient, tenant: dict[str, Any], worker: Worker) -> TenantA:
    def call(surface: str, method: str, path: str, body: Any = None) -> Any:
        response = client.request(
            method, path, json=body, headers=surface_headers(surface, tenant[surface])
        )
        assert response.status_code < 300, (path, response.text)
        return response.json() if response.content else None

    call(
        "insider",
        "POST",
        "/api/user/v1/upsert",
        {
            "users": [
                {
                    "identifiers": {"uuid": UUID, "email": EMAIL, "phone_number": PHONE},
                    "attributes": {"n": "a-secret"},
                    "events": [{"event_name": SECRET_EVENT, "timestamp": "2026-01-01T00:00:00Z"}],
                }
            ]
        },
    )
    call(
        "gainsight",
        "POST",
        "/v1/accounts",
        {
            "id": ACCOUNT,
            "name": "A",
            "propertyKeys": ["k"],
            "customAttributes": {ACCOUNT_SECRET: 1},
        },
    )
    call(
        "gainsight",
        "PUT",
        f"/v1/users/{UUID}",
        {"accountId": ACCOUNT, "customAttributes": {CUSTOM_SECRET: "v"}},
    )
    call("engagelab", "POST", f"/v4/devices/{DEVICE}", {"tags": {"add": [TAG]}, "alias": ALIAS})
    call("native", "PUT", f"/api/v1/profiles/{UUID}/devices/{DEVICE}")
    call("native", "PUT", "/api/v1/profiles/iso-gone", {})
    call("native", "DELETE", "/api/v1/profiles/iso-gone?mode=hard")
    call("native", "POST", "/api/v1/suppressions", {"type": "email", "value": "supp-a@example.com"})
    export = call(
        "native", "POST", "/api/v1/exports", {"subjects": [{"type": "uuid", "value": UUID}]}
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and worker.run_once():
        pass
    receipts = call("native", "GET", "/api/v1/receipts?since=0")["receipts"]
    call("native", "PUT", "/api/v1/profiles/iso-queued", {})
    job = call(
        "native",
        "POST",
        "/api/v1/deletions",
        {"subjects": [{"type": "uuid", "value": "iso-queued"}], "mode": "hard"},
    )
    user = call("gainsight", "GET", f"/v1/users/{UUID}")
    return TenantA(
        tenant_id="",  # filled in by the caller, which has the container
        profile_hex=user["aptrinsicId"],
        job_id=job["id"],
        receipt_id=receipts[0]["receipt_id"],
        export_job_id=export["id"],
    )


def _rows_of(container: Container, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: [row for row in rows if row[0] == repr(tenant_id)]
        for name, rows in snapshot(container).items()
    }


ROUTES: list[str] = sorted(_matrix(TenantA("", "", "0", "0", "0")))


def test_every_route_is_in_the_isolation_matrix(client: TestClient) -> None:
    assert _route_keys(client) == set(ROUTES)


@pytest.mark.parametrize("route", ROUTES)
def test_another_tenant_cannot_reach_this_tenants_data(
    route: str,
    client: TestClient,
    container: Container,
    tenant: dict[str, Any],
    other_tenant: dict[str, Any],
    worker: Worker,
) -> None:
    a = _seed_a(client, tenant, worker)
    a.tenant_id = tenant_id_of(container, tenant)
    probe = _matrix(a)[route]
    before = _rows_of(container, a.tenant_id)
    method = route.split(" ", 1)[0]
    response = client.request(
        method,
        probe.path,
        json=probe.json,
        headers=surface_headers(probe.surface, other_tenant[probe.surface]),
    )
    assert response.status_code in probe.allowed, response.text
    assert _rows_of(container, a.tenant_id) == before
    sent = str(probe.json) + probe.path
    secrets = (SECRET_EVENT, "a-secret", a.profile_hex, PHONE, a.receipt_id, EMAIL, TAG)
    for secret in (*secrets, ACCOUNT, ACCOUNT_SECRET, CUSTOM_SECRET):
        if secret not in sent:
            assert secret not in response.text, f"{route} leaked {secret!r}"


def _bad_credentials(surface: str, tenant: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Missing, malformed and wrong credentials for a surface, each named."""
    good = surface_headers(surface, tenant[surface])
    if surface == "gainsight":
        return [
            ("missing", {}),
            ("empty", {"X-APTRINSIC-API-KEY": ""}),
            ("wrong", {"X-APTRINSIC-API-KEY": "gs_wrong"}),
        ]
    if surface == "engagelab":
        wrong = base64.b64encode(f"{tenant['engagelab']['app_key']}:nope".encode()).decode()
        return [
            ("missing", {}),
            ("malformed", {"Authorization": "Basic !!!"}),
            ("wrong", {"Authorization": f"Basic {wrong}"}),
        ]
    if surface == "insider":
        return [
            ("missing", {}),
            ("uppercase partner", {**good, "X-PARTNER-NAME": good["X-PARTNER-NAME"].upper()}),
            ("wrong token", {**good, "X-REQUEST-TOKEN": "in_wrong"}),
        ]
    return [
        ("missing", {}),
        ("malformed", {"Authorization": "Token abc"}),
        ("wrong", {"Authorization": "Bearer ob_wrong"}),
    ]


AUTH_ERRORS = {"gainsight": {401}, "engagelab": {401}, "insider": {400, 403}, "native": {401}}


@pytest.mark.parametrize("route", ROUTES)
def test_missing_malformed_or_wrong_credentials_change_nothing(
    route: str,
    client: TestClient,
    container: Container,
    tenant: dict[str, Any],
    worker: Worker,
) -> None:
    a = _seed_a(client, tenant, worker)
    probe = _matrix(a)[route]
    method = route.split(" ", 1)[0]
    before = snapshot(container)
    for name, headers in _bad_credentials(probe.surface, tenant):
        response = client.request(method, probe.path, json=probe.json, headers=headers)
        assert response.status_code in AUTH_ERRORS[probe.surface], (name, response.text)
        assert snapshot(container) == before, f"{route} with {name} credentials changed data"
