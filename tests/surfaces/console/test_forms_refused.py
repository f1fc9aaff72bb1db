"""Every console form is refused without its session's CSRF token, or with another session's,
and bad input gets an HTML page with a clear message; either way nothing changes."""

from __future__ import annotations

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.console.support import assert_page, csrf_of, post, signed_in
from tests.surfaces.native.support import person_with_history

UUID = "forms-person"
EMAIL = f"{UUID}@example.com"
NONCE = "n" * 24
# A form that would change something (or run a dry run) were its token right, per POST route.
FORMS: dict[str, dict[str, str]] = {
    "/console/deletions/preview": {"type": "uuid", "value": UUID, "mode": "hard"},
    "/console/deletions": {"type": "email", "value": EMAIL, "mode": "hard", "nonce": NONCE},
    "/console/suppressions": {"type": "email", "value": "new@example.com"},
    "/console/suppressions/lift": {"type": "email", "value": "held@example.com"},
    "/console/jobs/{job_id}/cancel": {},
    "/console/receipts/verify": {},
    "/console/sign-out": {},
    "/console/people/export": {"uuid": UUID},
}


def _post_routes(browser: TestClient) -> set[str]:
    return {
        route.path
        for route in browser.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        and route.path.startswith("/console/")
        and "POST" in (route.methods or ())
        and route.path not in ("/console/sign-in", "/console/{rest:path}")
    }


def test_every_form_of_the_console_is_in_this_test(browser: TestClient) -> None:
    assert _post_routes(browser) == set(FORMS)


@pytest.fixture
def seeded(browser: TestClient, client: TestClient, tenant: Tenant) -> tuple[str, str]:
    """The admin's CSRF token, and a queued job's path."""
    person_with_history(client, tenant, UUID)
    csrf = signed_in(browser, tenant["native"]["token"])
    post(browser, "/console/suppressions", csrf, type="email", value="held@example.com")
    queued = post(
        browser, "/console/deletions", csrf, type="uuid", value=UUID, mode="soft", nonce="q" * 24
    )
    assert queued.status_code == 303, queued.text
    return csrf, queued.headers["location"]


@pytest.mark.parametrize("route", sorted(FORMS))
@pytest.mark.parametrize("token", ["missing", "empty", "another session's"])
def test_a_form_without_this_sessions_csrf_token_is_refused_and_changes_nothing(
    browser: TestClient,
    second_browser: TestClient,
    container: Container,
    tenant: Tenant,
    seeded: tuple[str, str],
    route: str,
    token: str,
) -> None:
    _, job_path = seeded
    theirs = signed_in(second_browser, tenant["native"]["token"])
    sent = {"missing": None, "empty": "", "another session's": theirs}[token]
    path = route.replace("/console/jobs/{job_id}", job_path)
    before = snapshot(container)
    refused = post(browser, path, sent, **FORMS[route])
    assert_page(refused, 403, "Nothing was changed")
    assert snapshot(container) == before
    # Still signed in: a refused sign-out did not sign out.
    assert browser.get("/console").status_code == 200


BAD_INPUT = [
    (
        "/console/deletions/preview",
        {"type": "email", "value": "not-an-email", "mode": "hard"},
        "value",
    ),
    ("/console/deletions/preview", {"type": "fax", "value": "1", "mode": "hard"}, "type"),
    ("/console/deletions/preview", {"type": "uuid", "value": UUID, "mode": "wipe"}, "mode"),
    (
        "/console/deletions",
        {"type": "uuid", "value": UUID, "mode": "soft", "suppress": "yes", "nonce": NONCE},
        "suppress: needs a hard deletion",
    ),
    ("/console/deletions", {"type": "uuid", "value": UUID, "mode": "hard"}, "nonce"),
    ("/console/deletions", {"type": "uuid", "value": " ", "mode": "hard", "nonce": NONCE}, "value"),
    (
        "/console/deletions",
        {"type": "uuid", "value": "a\x00b", "mode": "hard", "nonce": NONCE},
        "NUL",
    ),
    ("/console/suppressions", {"type": "phone_number", "value": "12"}, "value"),
    (
        "/console/suppressions",
        {"type": "custom", "custom_name": "bad name!", "value": "v"},
        "value",
    ),
]


@pytest.mark.parametrize(("route", "fields", "said"), BAD_INPUT)
def test_bad_input_gets_an_html_page_naming_the_field_and_changes_nothing(
    browser: TestClient,
    container: Container,
    seeded: tuple[str, str],
    route: str,
    fields: dict[str, str],
    said: str,
) -> None:
    csrf, _ = seeded
    before = snapshot(container)
    assert_page(post(browser, route, csrf, **fields), 400, said)
    assert snapshot(container) == before


def test_a_field_sent_twice_is_refused(
    browser: TestClient, container: Container, seeded: tuple[str, str]
) -> None:
    csrf, _ = seeded
    before = snapshot(container)
    body = f"csrf={csrf}&type=uuid&value={UUID}&value=other&mode=hard&nonce={NONCE}"
    refused = browser.post(
        "/console/deletions",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_page(refused, 400, "value: was sent more than once")
    assert snapshot(container) == before


def test_a_bad_search_is_an_html_page(browser: TestClient, seeded: tuple[str, str]) -> None:
    del seeded
    bad = browser.get("/console/people", params={"type": "phone_number", "value": "123"})
    assert_page(bad, 400, "value")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # A guard that allows a single deletion an hour, whatever the population.
    return {"mass_delete_floor": 1, "mass_delete_share": 0.0}


def test_the_mass_deletion_guard_refuses_until_the_admin_confirms(
    browser: TestClient,
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    seeded: tuple[str, str],
) -> None:
    del worker
    csrf, _ = seeded  # the seeded soft deletion spent the hour's one deletion
    person_with_history(client, tenant, "second-person")
    before = snapshot(container)
    fields = {"type": "uuid", "value": "second-person", "mode": "hard", "nonce": "g" * 24}
    refused = post(browser, "/console/deletions", csrf, **fields)
    assert_page(refused, 409, "mass-deletion guard", "Confirm mass deletion", "Nothing was deleted")
    assert snapshot(container) == before
    confirmed = post(browser, "/console/deletions", csrf, confirm_mass_delete="yes", **fields)
    assert confirmed.status_code == 303, confirmed.text
    assert csrf_of(browser.get(confirmed.headers["location"]))
