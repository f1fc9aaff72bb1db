"""Every mutating EngageLab endpoint refuses bad input with its documented envelope and changes
no row anywhere: a validation failure is 400 code 27002, missing credentials 401 code 27001,
wrong ones 401 code 27004, and a body over the cap 413."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.headers import basic, el_headers, native_headers
from tests.support.rows import rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import (
    AUTH_FAILED,
    AUTH_MISSING,
    INVALID,
    assert_error,
    assert_ok,
    get_device,
    set_device,
)

VICTIM = "victim1"
TAG = "news"
ALIAS = "ann"
CAP = 2000


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_body_bytes": CAP}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    # A body that would change something if the request were accepted (None: no body).
    body: dict[str, Any] | None
    # (path, raw body) pairs of input the endpoint must refuse with 400 code 27002: bodies of
    # the right shape whose values have the wrong JSON type, or paths and queries it must refuse.
    invalid: tuple[tuple[str, Any], ...]


DEVICE_PATH = f"/v4/devices/{VICTIM}"
TAG_PATH = f"/v4/tags/{TAG}"

ENDPOINTS: dict[str, Endpoint] = {
    "POST device": Endpoint(
        "POST",
        DEVICE_PATH,
        {"tags": {"add": ["new"], "remove": [TAG]}, "alias": "mallory"},
        (
            (DEVICE_PATH, {"tags": "news"}),
            (DEVICE_PATH, {"tags": ["news"]}),
            (DEVICE_PATH, {"tags": {"add": "new"}}),
            (DEVICE_PATH, {"tags": {"add": [1]}}),
            (DEVICE_PATH, {"tags": {"remove": {"news": True}}}),
            (DEVICE_PATH, {"alias": 5}),
            (DEVICE_PATH, {"alias": ["mallory"]}),
            (DEVICE_PATH, {"tags": {"add": ["a b"]}}),
            (DEVICE_PATH, {"alias": "x" * 41}),
            (DEVICE_PATH, {"tags": {"add": [f"t{n:03d}" for n in range(100)]}}),
        ),
    ),
    "DELETE device": Endpoint("DELETE", DEVICE_PATH, None, ()),
    "POST tag": Endpoint(
        "POST",
        TAG_PATH,
        {"registration_ids": {"remove": [VICTIM]}},
        (
            (TAG_PATH, {"registration_ids": [VICTIM]}),
            (TAG_PATH, {"registration_ids": {"remove": VICTIM}}),
            (TAG_PATH, {"registration_ids": {"remove": [7]}}),
            # (1001 ids do not fit under the 2000-byte cap; test_wire_tags_aliases.py sends them.)
            (TAG_PATH, {"registration_ids": {"add": [""]}}),
            (TAG_PATH, {}),
            ("/v4/tags/a%20b", {"registration_ids": {"add": [VICTIM]}}),
        ),
    ),
    "DELETE tag": Endpoint(
        "DELETE",
        f"{TAG_PATH}?platform=android,ios",
        None,
        (
            (f"{TAG_PATH}?platform=windows", None),
            (f"{TAG_PATH}?platform=android,windows", None),
            (f"/v4/tags/{'x' * 41}", None),
        ),
    ),
    "DELETE alias": Endpoint(
        "DELETE",
        f"/v4/aliases/{ALIAS}?platform=android",
        None,
        (
            (f"/v4/aliases/{ALIAS}?platform=windows", None),
            ("/v4/aliases/a%20b", None),
            (f"/v4/aliases/{'x' * 41}", None),
        ),
    ),
}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    content: bytes | None
    headers: dict[str, str]
    expected_status: int
    expected_code: int | None


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def build_case(name: str, kind: str, tenant: Tenant, other_tenant: Tenant) -> Case:
    endpoint = ENDPOINTS[name]
    auth = el_headers(tenant)
    content = None if endpoint.body is None else _json(endpoint.body)
    method, path = endpoint.method, endpoint.path
    if kind == "malformed-json":
        assert content is not None
        return Case(method, path, content[:-3], auth, 400, INVALID)
    if kind == "json-array":
        return Case(method, path, _json([endpoint.body]), auth, 400, INVALID)
    if kind.startswith("invalid-"):
        bad_path, body = endpoint.invalid[int(kind.removeprefix("invalid-"))]
        raw = None if body is None else _json(body)
        return Case(method, bad_path, raw, auth, 400, INVALID)
    if kind == "missing-auth":
        return Case(method, path, content, {}, 401, AUTH_MISSING)
    if kind == "wrong-auth":
        wrong = basic(tenant["engagelab"]["app_key"], tenant["engagelab"]["master_secret"] + "x")
        return Case(method, path, content, wrong, 401, AUTH_FAILED)
    if kind == "other-tenants-credentials":
        other = el_headers(other_tenant)
        if name in ("DELETE tag", "DELETE alias"):
            # Tenant B has no such tag or alias: a harmless 200 that touches nothing.
            return Case(method, path, content, other, 200, None)
        return Case(method, path, content, other, 404, INVALID)
    assert kind == "oversized-body"
    padded = {**(endpoint.body or {}), "padding": "x" * (CAP + 500)}
    return Case(method, path, _json(padded), auth, 413, None)


def _kinds(name: str) -> list[str]:
    endpoint = ENDPOINTS[name]
    with_body = ["malformed-json", "json-array"] if endpoint.body is not None else []
    invalid = [f"invalid-{n}" for n in range(len(endpoint.invalid))]
    return [
        *with_body,
        *invalid,
        "missing-auth",
        "wrong-auth",
        "other-tenants-credentials",
        "oversized-body",
    ]


CASES = [(name, kind) for name in ENDPOINTS for kind in _kinds(name)]


@pytest.fixture
def victim(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    response = client.put(
        f"/api/v1/devices/{VICTIM}",
        json={"platform": "android", "timezone": "Europe/Paris", "info": {"model": "X"}},
        headers=native_headers(tenant),
    )
    assert response.status_code == 201, response.text
    set_device(client, tenant, VICTIM, add=[TAG, "sale"], alias=ALIAS)
    return get_device(client, tenant, VICTIM)


@pytest.mark.parametrize(("endpoint", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_bad_request_answers_its_envelope_and_changes_nothing(
    client: TestClient,
    container: Container,
    tenant: Tenant,
    other_tenant: Tenant,
    victim: dict[str, Any],
    endpoint: str,
    kind: str,
) -> None:
    case = build_case(endpoint, kind, tenant, other_tenant)
    before = snapshot(container)
    headers = {"Content-Type": "application/json", **case.headers}
    response = client.request(case.method, case.path, content=case.content, headers=headers)
    if endpoint == "POST device" and kind == "other-tenants-credentials":
        # Registering "victim1" in tenant B is legitimate; tenant A must not feel it.
        assert_ok(response, {})
        tenant_a = tenant_id_of(container, tenant)
        assert rows_of_tenant(snapshot(container), tenant_a) == rows_of_tenant(before, tenant_a)
        assert get_device(client, other_tenant, VICTIM) == {"tags": ["new"], "alias": "mallory"}
        assert get_device(client, tenant, VICTIM) == victim
        return
    # Nothing changed is the stronger promise, so it is checked first.
    assert snapshot(container) == before, f"{response.status_code} {response.text}"
    if case.expected_status == 200:
        assert_ok(response, {})
    elif case.expected_code is None:
        assert response.status_code == case.expected_status, response.text
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message"}
    else:
        assert_error(response, case.expected_status, case.expected_code)
    assert get_device(client, tenant, VICTIM) == victim
