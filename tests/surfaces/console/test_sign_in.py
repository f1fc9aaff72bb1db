"""Signing in to the console: only a native token with the ``admin`` scope opens it, the session
cookie is HttpOnly, Secure, SameSite=Strict and holds no token in clear, and a revoked token
ends the session."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.http.console.session import COOKIE
from tests.support.tenants import Tenant
from tests.surfaces.console.support import assert_page, csrf_of, sign_in, signed_in, token_with


def _set_cookie(response_headers: list[str]) -> SimpleCookie:
    [header] = [h for h in response_headers if h.startswith(f"{COOKIE}=")]
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    return jar


def test_an_admin_token_signs_in_with_a_strict_httponly_secure_cookie_that_hides_the_token(
    browser: TestClient, container: Container, tenant: Tenant
) -> None:
    token = token_with(container, tenant, "admin")
    answer = sign_in(browser, token)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console?signed-in=1"
    header = answer.headers["set-cookie"]
    morsel = _set_cookie([header])[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/console"
    assert token not in header
    assert token.split("_", 1)[1][:12] not in header
    page = assert_page(browser.get("/console?signed-in=1"), 200, "Find a person", tenant["tenant"])
    assert token not in page


def test_the_tenants_own_token_with_every_scope_signs_in(
    browser: TestClient, tenant: Tenant
) -> None:
    signed_in(browser, tenant["native"]["token"])


@pytest.mark.parametrize("scopes", [("read",), ("read", "write", "delete")])
def test_a_token_without_the_admin_scope_is_refused_and_opens_nothing(
    browser: TestClient, container: Container, tenant: Tenant, scopes: tuple[str, ...]
) -> None:
    answer = sign_in(browser, token_with(container, tenant, *scopes))
    assert_page(answer, 403, "lacks the admin scope")
    home = browser.get("/console")
    assert home.status_code == 303
    assert home.headers["location"] == "/console/sign-in"


def test_a_wrong_token_is_refused(browser: TestClient) -> None:
    assert_page(sign_in(browser, "ob_not-a-token"), 401, "not valid")
    assert browser.get("/console").status_code == 303


def test_a_sign_in_without_the_forms_csrf_token_is_refused(
    browser: TestClient, tenant: Tenant
) -> None:
    browser.get("/console/sign-in")
    refused = browser.post("/console/sign-in", data={"token": tenant["native"]["token"]})
    assert_page(refused, 403, "Nothing was changed")
    assert browser.get("/console").status_code == 303


def test_a_sign_in_with_another_browsers_csrf_token_is_refused(
    browser: TestClient, second_browser: TestClient, tenant: Tenant
) -> None:
    theirs = csrf_of(second_browser.get("/console/sign-in"))
    browser.get("/console/sign-in")
    refused = browser.post(
        "/console/sign-in", data={"csrf": theirs, "token": tenant["native"]["token"]}
    )
    assert_page(refused, 403, "form token")


def test_a_browser_that_drops_the_cookie_is_told_why(tenant: Tenant, browser: TestClient) -> None:
    csrf = csrf_of(browser.get("/console/sign-in"))
    browser.cookies.clear()
    refused = browser.post(
        "/console/sign-in", data={"csrf": csrf, "token": tenant["native"]["token"]}
    )
    assert_page(refused, 403, "HTTPS")
    # Signed in, but the cookie did not come back (plain HTTP to a remote host).
    assert_page(browser.get("/console?signed-in=1"), 403, "HTTPS")


def test_a_forged_or_tampered_cookie_opens_nothing(browser: TestClient, tenant: Tenant) -> None:
    signed_in(browser, tenant["native"]["token"])
    sealed = browser.cookies[COOKIE]
    browser.cookies.set(COOKIE, sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"))
    assert browser.get("/console").status_code == 303


def test_signing_out_ends_the_session(browser: TestClient, tenant: Tenant) -> None:
    csrf = signed_in(browser, tenant["native"]["token"])
    out = browser.post("/console/sign-out", data={"csrf": csrf})
    assert out.status_code == 303
    assert browser.get("/console").status_code == 303
