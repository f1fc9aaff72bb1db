"""Driving the console as a browser would: reading a page's CSRF token, signing in, posting
its forms; and admin tokens to sign in with."""

from __future__ import annotations

import html
import re

import httpx2
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.services.tenants import create_token
from tests.support.clock import now_ms
from tests.support.tenants import Tenant

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def token_with(container: Container, tenant: Tenant, *scopes: str) -> str:
    return create_token(
        container.tenant_store, name=tenant["tenant"], scopes=list(scopes), now=now_ms()
    )


def csrf_of(page: httpx2.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, f"no CSRF token in {page.text[:500]}"
    return html.unescape(found.group(1))


def assert_page(response: httpx2.Response, status: int, *texts: str) -> str:
    """An HTML page of this status that says each of ``texts``; its text, unescaped."""
    assert response.status_code == status, f"{response.status_code} {response.text[:800]}"
    assert response.headers["content-type"].startswith("text/html"), response.headers
    text = html.unescape(response.text)
    for wanted in texts:
        assert wanted in text, f"{wanted!r} not in {text[:1500]}"
    return text


def sign_in(browser: TestClient, token: str) -> httpx2.Response:
    form = browser.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return browser.post("/console/sign-in", data={"csrf": csrf_of(form), "token": token})


def signed_in(browser: TestClient, token: str) -> str:
    """Sign in; the CSRF token of the new session."""
    answer = sign_in(browser, token)
    assert answer.status_code == 303, answer.text
    home = browser.get("/console")
    assert_page(home, 200, "Find a person")
    return csrf_of(home)


def post(browser: TestClient, path: str, csrf: str | None, **fields: str) -> httpx2.Response:
    data = dict(fields) if csrf is None else {"csrf": csrf, **fields}
    return browser.post(path, data=data)
