"""Every error the console can meet has its own HTML answer, unknown console paths get an HTML
404 (and known ones a wrong method an HTML 405), and an unexpected error is a page too."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from obliviate.http.body import BodyTooLarge, MalformedJson
from obliviate.http.console import errors
from obliviate.http.console.session import CsrfRefused
from tests.support.tenants import Tenant
from tests.surfaces.console.support import assert_page, signed_in
from tests.surfaces.test_error_tables import DOMAIN_ERRORS


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_every_domain_transport_and_console_error_has_its_own_row() -> None:
    known = (*DOMAIN_ERRORS, BodyTooLarge, MalformedJson, CsrfRefused)
    assert len(DOMAIN_ERRORS) > 20
    assert [cls.__name__ for cls in known if cls not in errors.TABLE] == []
    assert [cls.__name__ for cls in errors.TABLE if cls not in known] == []


def test_an_unexpected_error_is_an_html_page_not_a_bare_500() -> None:
    answer = errors.to_response(ZeroDivisionError("bug"))
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert b"Something went wrong" in answer.body
    assert b"ZeroDivisionError" not in answer.body


@pytest.mark.parametrize("path", ["/console/nothing-here", "/console/jobs/1/nope", "/console/x/"])
def test_an_unknown_console_path_is_an_html_404(client: TestClient, path: str) -> None:
    assert_page(client.get(path), 404, "There is no console page at this address")
    assert_page(client.post(path), 404, "There is no console page")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/console"), ("GET", "/console/deletions"), ("DELETE", "/console/suppressions")],
)
def test_a_wrong_method_on_a_console_page_is_an_html_405(
    client: TestClient, method: str, path: str
) -> None:
    answer = client.request(method, path)
    assert_page(answer, 405, "Method not allowed")
    assert answer.headers["allow"]


def test_pages_need_sign_in_and_forbid_framing(browser: TestClient, tenant: Tenant) -> None:
    for path in ("/console", "/console/receipts", "/console/suppressions", "/console/jobs/1"):
        answer = browser.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/console/sign-in"
    assert_page(browser.post("/console/suppressions", data={}), 401, "Not signed in")
    signed_in(browser, tenant["native"]["token"])
    page = browser.get("/console")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_a_large_form_is_refused_with_a_page(browser: TestClient, tenant: Tenant) -> None:
    csrf = signed_in(browser, tenant["native"]["token"])
    answer = browser.post("/console/suppressions", data={"csrf": csrf, "value": "v" * 20_000})
    assert_page(answer, 413, "bigger than")
