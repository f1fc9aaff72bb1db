"""An unknown deletion job, receipt, suppression or device answers a 404 problem naming what
was not found, never another kind of record's "no such profile"."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from obliviate.domain.errors import AccountNotFound, ModelNotFound
from obliviate.http.native.errors import to_response
from tests.support.headers import native_headers
from tests.support.tenants import Tenant
from tests.surfaces.native.support import API, PROBLEM_BASE, assert_problem

UNKNOWN = [
    # (method, path, detail)
    ("GET", f"{API}/deletions/123456789", "no such deletion job"),
    ("POST", f"{API}/deletions/123456789/cancel", "no such deletion job"),
    # Not a job id at all: refused before any read, with the same answer.
    ("GET", f"{API}/deletions/abc", "no such deletion job"),
    ("GET", f"{API}/receipts/{'0' * 32}", "no such receipt"),
    ("GET", f"{API}/suppressions/email/nobody@example.com", "no such suppression"),
    ("DELETE", f"{API}/suppressions/email/nobody@example.com", "no such suppression"),
    ("GET", f"{API}/devices/nobody", "no such device"),
    ("GET", f"{API}/profiles/nobody", "no such profile"),
]


@pytest.mark.parametrize(("method", "path", "detail"), UNKNOWN)
def test_an_unknown_record_is_a_404_problem_naming_its_kind(
    client: TestClient, tenant: Tenant, method: str, path: str, detail: str
) -> None:
    response = client.request(method, path, headers=native_headers(tenant))
    problem = assert_problem(response, 404, "not-found")
    assert problem["detail"] == detail


@pytest.mark.parametrize(
    ("error", "detail"),
    [(AccountNotFound("acme"), "no such account"), (ModelNotFound("user2"), "no such model")],
)
def test_not_founds_the_native_routes_do_not_raise_still_name_their_kind(
    error: Exception, detail: str
) -> None:
    response = to_response(error)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert bytes(response.body) == (
        b'{"type":"' + PROBLEM_BASE.encode() + b'not-found","title":"Not Found","status":404,'
        b'"detail":"' + detail.encode() + b'"}'
    )
