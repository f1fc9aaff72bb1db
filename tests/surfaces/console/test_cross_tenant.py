"""Another tenant's admin sees nothing of this tenant's people through the console: not the
person, their job, their receipt or their suppression, and cannot delete or unsuppress them."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.support.rows import rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.console.support import assert_page, post, signed_in
from tests.surfaces.native.support import person_with_history, run_until_terminal

UUID = "isolated-person"
EMAIL = f"{UUID}@example.com"
SUPPRESSED = "kept-away@example.com"


@pytest.fixture
def a_job_and_receipt(
    browser: TestClient, client: TestClient, container: Container, worker: Worker, tenant: Tenant
) -> tuple[str, str]:
    person_with_history(client, tenant, UUID)
    person_with_history(client, tenant, "gone-person")
    csrf = signed_in(browser, tenant["native"]["token"])
    post(browser, "/console/suppressions", csrf, type="email", value=SUPPRESSED)
    deleted = post(
        browser,
        "/console/deletions",
        csrf,
        type="uuid",
        value="gone-person",
        mode="hard",
        nonce="x" * 24,
    )
    job_path = deleted.headers["location"]
    run_until_terminal(container, worker, job_path.rsplit("/", 1)[1])
    [receipt] = re.findall(
        r"/console/receipts/([0-9a-f]{32})", browser.get("/console/receipts").text
    )
    return job_path, receipt


def test_another_tenants_admin_finds_no_one_and_changes_nothing(
    second_browser: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    other_tenant: Tenant,
    a_job_and_receipt: tuple[str, str],
) -> None:
    job_path, receipt = a_job_and_receipt
    a_rows = rows_of_tenant(snapshot(container), tenant_id_of(container, tenant))
    csrf = signed_in(second_browser, other_tenant["native"]["token"])

    for id_type, value in (("uuid", UUID), ("email", EMAIL)):
        found = second_browser.get("/console/people", params={"type": id_type, "value": value})
        page = assert_page(found, 200, "No one holds")
        assert "suppressed" not in page
        assert "Profile <code>" not in page
        assert "What is held" not in page
    assert_page(second_browser.get(job_path), 404, "No such deletion job")
    assert_page(second_browser.get(f"/console/receipts/{receipt}"), 404, "No such receipt")
    assert receipt not in assert_page(second_browser.get("/console/receipts"), 200, "No deletion")
    assert_page(second_browser.get("/console/suppressions"), 200, "Nothing is suppressed")
    found = second_browser.get("/console/people", params={"type": "email", "value": SUPPRESSED})
    assert "is <strong>suppressed" not in found.text

    preview = post(
        second_browser, "/console/deletions/preview", csrf, type="uuid", value=UUID, mode="hard"
    )
    assert_page(preview, 200, "No one this deletion could remove")
    deleted = post(
        second_browser,
        "/console/deletions",
        csrf,
        type="email",
        value=EMAIL,
        mode="hard",
        nonce="y" * 24,
    )
    assert deleted.status_code == 303
    run_until_terminal(container, worker, deleted.headers["location"].rsplit("/", 1)[1])
    assert_page(second_browser.get(deleted.headers["location"]), 200, "not_found")
    lifted = post(
        second_browser, "/console/suppressions/lift", csrf, type="email", value=SUPPRESSED
    )
    assert_page(lifted, 404, "not suppressed")
    cancel = post(second_browser, f"{job_path}/cancel", csrf)
    assert_page(cancel, 404, "No such deletion job")

    assert rows_of_tenant(snapshot(container), tenant_id_of(container, tenant)) == a_rows
