"""The console's deletion flow through the real app and worker: find a person by any
identifier and see what is held of them, a dry run that changes nothing, the deletion (hard,
suppressed), its job followed to the end, its receipt and the chain verified, and the
suppression lifted."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.jobs.worker import Worker
from tests.support.rows import rows_of_tenant, snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.console.support import assert_page, csrf_of, post, signed_in
from tests.surfaces.native.support import (
    HISTORY_COUNTS,
    create_profile,
    get_profile,
    person_with_history,
    run_until_terminal,
)

UUID = "console-person"
EMAIL = f"{UUID}@example.com"


def _held(page: str) -> dict[str, int]:
    return {k: int(n) for k, n in re.findall(r'<th scope="row">(\w+)</th><td>(\d+)</td>', page)}


def _find(browser: TestClient, id_type: str, value: str, **extra: str) -> Any:
    return browser.get("/console/people", params={"type": id_type, "value": value, **extra})


@pytest.fixture
def admin(browser: TestClient, client: TestClient, tenant: Tenant) -> str:
    person_with_history(client, tenant, UUID)
    return signed_in(browser, tenant["native"]["token"])


@pytest.mark.parametrize(
    ("id_type", "value"),
    [("uuid", UUID), ("email", EMAIL), ("email", "  Console-Person@EXAMPLE.com ")],
)
@pytest.mark.usefixtures("admin")
def test_a_person_is_found_by_any_identifier_with_what_is_held_per_kind(
    browser: TestClient, id_type: str, value: str
) -> None:
    page = assert_page(_find(browser, id_type, value), 200, UUID, EMAIL, "active")
    assert _held(page) == HISTORY_COUNTS


def test_a_custom_identifier_finds_its_person(
    browser: TestClient, client: TestClient, tenant: Tenant, admin: str
) -> None:
    del admin
    create_profile(client, tenant, "custom-person", custom={"crm": "C-77"})
    found = _find(browser, "custom", "C-77", custom_name="crm")
    assert_page(found, 200, "custom-person", "custom.crm")


@pytest.mark.usefixtures("admin")
def test_someone_no_one_holds_is_said_to_be_held_by_no_one(browser: TestClient) -> None:
    assert_page(_find(browser, "email", "nobody@example.com"), 200, "No one holds")


def test_a_dry_run_shows_what_would_go_and_changes_nothing(
    browser: TestClient, container: Container, admin: str
) -> None:
    before = snapshot(container)
    preview = post(
        browser,
        "/console/deletions/preview",
        admin,
        type="email",
        value=EMAIL,
        mode="hard",
        suppress="yes",
    )
    page = assert_page(preview, 200, "Dry run: hard deletion with suppression", "Nothing has")
    assert _held(page) == HISTORY_COUNTS
    assert snapshot(container) == before


def test_a_hard_suppressed_deletion_runs_to_a_verified_receipt_and_the_suppression_lifts(
    browser: TestClient,
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    admin: str,
) -> None:
    preview = post(
        browser,
        "/console/deletions/preview",
        admin,
        type="uuid",
        value=UUID,
        mode="hard",
        suppress="yes",
    )
    nonce = re.search(r'name="nonce" value="([^"]+)"', preview.text)
    assert nonce is not None
    fields = {"type": "uuid", "value": UUID, "mode": "hard", "suppress": "yes"}
    deleted = post(browser, "/console/deletions", csrf_of(preview), nonce=nonce[1], **fields)
    assert deleted.status_code == 303, deleted.text
    job_path = deleted.headers["location"]
    job_id = job_path.rsplit("/", 1)[1]
    # Sent again (a reload): the same job, not a second one.
    again = post(browser, "/console/deletions", csrf_of(preview), nonce=nonce[1], **fields)
    assert again.headers["location"] == job_path

    queued = assert_page(browser.get(job_path), 200, f"Deletion job {job_id}")
    assert '<meta http-equiv="refresh"' in queued
    run_until_terminal(container, worker, job_id)
    assert get_profile(client, tenant, UUID).status_code == 404
    done = assert_page(browser.get(job_path), 200, "completed", "suppressed")
    assert '<meta http-equiv="refresh"' not in done

    receipts = assert_page(browser.get("/console/receipts"), 200, "Deletion receipts")
    [receipt_id] = re.findall(r'/console/receipts/([0-9a-f]{32})"', receipts)
    assert_page(browser.get(f"/console/receipts/{receipt_id}"), 200, receipt_id, "hard")
    verdict = post(browser, "/console/receipts/verify", admin)
    assert_page(verdict, 200, "The chain is intact")

    listed = assert_page(browser.get("/console/suppressions"), 200, "uuid", "email")
    assert UUID not in listed
    assert EMAIL not in listed
    assert_page(_find(browser, "email", EMAIL), 200, "suppressed", "No one holds")
    lifted = post(browser, "/console/suppressions/lift", admin, type="email", value=EMAIL)
    assert lifted.status_code == 303, lifted.text
    assert_page(browser.get(lifted.headers["location"]), 200, "The suppression is lifted")
    assert "suppressed" not in assert_page(_find(browser, "email", EMAIL), 200, "No one holds")


def test_a_soft_deletion_hides_the_person_at_once(
    browser: TestClient,
    client: TestClient,
    container: Container,
    worker: Worker,
    tenant: Tenant,
    admin: str,
) -> None:
    preview = post(
        browser, "/console/deletions/preview", admin, type="uuid", value=UUID, mode="soft"
    )
    assert _held(preview.text) == {"profiles": 1}
    nonce = re.search(r'name="nonce" value="([^"]+)"', preview.text)
    assert nonce is not None
    deleted = post(
        browser, "/console/deletions", admin, nonce=nonce[1], type="uuid", value=UUID, mode="soft"
    )
    assert deleted.status_code == 303, deleted.text
    run_until_terminal(container, worker, deleted.headers["location"].rsplit("/", 1)[1])
    assert get_profile(client, tenant, UUID).status_code == 404
    assert_page(_find(browser, "uuid", UUID), 200, "soft_deleted")


def test_a_suppression_is_added_and_lifted_by_its_identifier(
    browser: TestClient, container: Container, tenant: Tenant, admin: str
) -> None:
    tenant_id = tenant_id_of(container, tenant)
    added = post(browser, "/console/suppressions", admin, type="email", value="Held@Example.com")
    assert added.status_code == 303, added.text
    page = assert_page(browser.get(added.headers["location"]), 200, "The identifier is suppressed")
    assert "held@example.com" not in page.lower()
    suppressions = rows_of_tenant(snapshot(container), tenant_id)["suppressions"]
    assert len(suppressions) == 1
    assert_page(_find(browser, "email", "held@example.com"), 200, "suppressed")
    lifted = post(
        browser, "/console/suppressions/lift", admin, type="email", value="held@example.com"
    )
    assert lifted.status_code == 303
    assert rows_of_tenant(snapshot(container), tenant_id)["suppressions"] == []
    missing = post(
        browser, "/console/suppressions/lift", admin, type="email", value="held@example.com"
    )
    assert_page(missing, 404, "not suppressed")


def test_a_queued_job_can_be_cancelled_from_its_page(browser: TestClient, admin: str) -> None:
    preview = post(
        browser, "/console/deletions/preview", admin, type="uuid", value=UUID, mode="hard"
    )
    nonce = re.search(r'name="nonce" value="([^"]+)"', preview.text)
    assert nonce is not None
    deleted = post(
        browser, "/console/deletions", admin, nonce=nonce[1], type="uuid", value=UUID, mode="hard"
    )
    job_path = deleted.headers["location"]
    cancelled = post(browser, f"{job_path}/cancel", admin)
    assert cancelled.status_code == 303, cancelled.text
    assert_page(browser.get(cancelled.headers["location"]), 200, "cancelled")


def test_a_job_is_opened_by_its_id(browser: TestClient, admin: str) -> None:
    del admin
    assert (
        browser.get("/console/jobs", params={"id": "12"}).headers["location"] == "/console/jobs/12"
    )
    assert_page(browser.get("/console/jobs/999999"), 404, "No such deletion job")


def test_the_persons_export_downloads_from_their_page(
    browser: TestClient, second_browser: TestClient, other_tenant: Tenant, admin: str
) -> None:
    page = assert_page(_find(browser, "email", EMAIL), 200, "Download the export")
    assert 'action="/console/people/export"' in page
    download = post(browser, "/console/people/export", admin, uuid=UUID)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("application/json")
    assert download.headers["content-disposition"] == f'attachment; filename="export-{UUID}.json"'
    document = download.json()
    assert {"type": "email", "value": EMAIL} in document["identifiers"]
    assert len(document["events"]) == 3
    assert len(document["devices"]) == 2
    theirs = signed_in(second_browser, other_tenant["native"]["token"])
    assert_page(post(second_browser, "/console/people/export", theirs, uuid=UUID), 404, "No such")
    assert_page(post(browser, "/console/people/export", admin, uuid="nobody"), 404, "No such")
