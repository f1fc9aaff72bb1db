"""The console and /docs in a real headless Chromium against a real ``obliviate serve``
(API and worker in one process): sign in, find a person, dry run, delete with suppression,
watch the job complete, verify the receipts, lift the suppression; a token without ``admin``
and a form without its CSRF token are refused. Each step leaves a screenshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from tests.browser.support import browser_log, chromium, fill, heading, page_text, press, shot, wait
from tests.support.servers import Server, run_cli, server_env, serving

pytestmark = pytest.mark.system

DEMO_TOKEN = "demo-native-token"
UUID = "browser-person"
EMAIL = "browser.person@example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    env = server_env(f"sqlite:///{folder / 'obliviate.db'}", OBLIVIATE_DATA_DIR=str(folder))
    with serving(env, folder / "server.log") as running:
        running.env = env  # type: ignore[attr-defined]
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    browser = chromium()
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(autouse=True)
def fresh_session(driver: webdriver.Chrome, server: Server) -> None:
    driver.get(f"{server.base}/console/sign-in")
    driver.delete_all_cookies()


def _native(server: Server, method: str, path: str, body: object = None) -> object:
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"}
    status, answer = server.request(method, path, body, headers)
    assert status < 300, (method, path, status, answer)
    return answer


def _person(server: Server) -> None:
    _native(
        server,
        "PUT",
        f"/api/v1/profiles/{UUID}",
        {"identifiers": {"email": EMAIL}, "attributes": {"name": "Browser Person"}},
    )
    events = [{"name": "visited", "timestamp": 1_790_000_000_000 + n} for n in range(3)]
    _native(server, "POST", f"/api/v1/profiles/{UUID}/events", {"events": events})
    _native(server, "PUT", "/api/v1/devices/browser-phone", {"platform": "android"})
    _native(server, "PUT", f"/api/v1/profiles/{UUID}/devices/browser-phone")


def _listed(driver: webdriver.Chrome) -> list[str]:
    return [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#suppressions tbody tr")]


def _sign_in(driver: webdriver.Chrome, server: Server, token: str) -> None:
    driver.get(f"{server.base}/console")
    heading(driver, "Sign in")
    fill(driver, "Admin token", token)
    press(driver, "Sign in")


def test_a_person_is_found_dry_run_deleted_with_suppression_verified_and_unsuppressed(
    driver: webdriver.Chrome, server: Server
) -> None:
    _person(server)
    _sign_in(driver, server, DEMO_TOKEN)
    heading(driver, "Find a person")
    shot(driver, "01-signed-in")

    Select(driver.find_element(By.ID, "type")).select_by_visible_text("email")
    fill(driver, "Value", "Browser.Person@EXAMPLE.com")
    press(driver, "Find")
    heading(driver, EMAIL)
    text = page_text(driver)
    assert UUID in text
    assert "active" in text
    held = {
        row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
        for row in driver.find_elements(By.CSS_SELECTOR, "table.held tbody tr")
    }
    assert {"events": "3", "devices": "1", "profiles": "1"}.items() <= held.items(), held
    shot(driver, "02-person-found")

    driver.find_element(By.CSS_SELECTOR, "input[name=mode][value=hard]").click()
    driver.find_element(By.CSS_SELECTOR, "input[name=suppress]").click()
    press(driver, "Dry run")
    heading(driver, "Dry run: hard deletion with suppression")
    counts = driver.find_element(By.ID, "dry-run-counts").text
    assert "events 3" in counts, counts
    shot(driver, "03-dry-run")
    # The dry run changed nothing.
    assert _native(server, "GET", f"/api/v1/profiles/{UUID}") is not None

    press(driver, "Delete (hard, suppress)")
    heading(driver, "Deletion job")
    shot(driver, "04-job-running")
    # The page reloads itself (meta refresh) until the job has ended and its erasure is done.
    wait(driver).until(ec.text_to_be_present_in_element((By.ID, "job-state"), "completed"))
    wait(driver).until(ec.text_to_be_present_in_element((By.ID, "job-state"), "erasure done"))
    assert "suppressed" in page_text(driver)
    shot(driver, "05-job-completed")
    status, _ = server.request(
        "GET", f"/api/v1/profiles/{UUID}", headers={"Authorization": f"Bearer {DEMO_TOKEN}"}
    )
    assert status == 404

    driver.find_element(By.LINK_TEXT, "Receipts").click()
    heading(driver, "Deletion receipts")
    assert driver.find_elements(By.CSS_SELECTOR, "#receipts tbody tr")
    shot(driver, "06-receipts")
    press(driver, "Verify the receipt chain")
    wait(driver).until(ec.text_to_be_present_in_element((By.ID, "chain-verdict"), "intact"))
    shot(driver, "07-chain-verified")

    driver.get(f"{server.base}/console/people?type=email&value={quote(EMAIL)}")
    heading(driver, EMAIL)
    assert "suppressed" in page_text(driver)
    shot(driver, "08-suppressed")
    press(driver, "Lift this suppression")
    heading(driver, "Suppressions")
    assert "The suppression is lifted" in page_text(driver)
    shot(driver, "09-suppression-lifted")
    driver.get(f"{server.base}/console/people?type=email&value={quote(EMAIL)}")
    heading(driver, EMAIL)
    assert "suppressed" not in page_text(driver)


def test_a_token_without_the_admin_scope_is_refused(
    driver: webdriver.Chrome, server: Server
) -> None:
    made = run_cli(
        server.env,  # type: ignore[attr-defined]
        "tenant",
        "token",
        "create",
        "demo",
        "--scopes",
        "read,delete",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    _sign_in(driver, server, json.loads(made.stdout)["token"])
    heading(driver, "Sign in")
    assert "lacks the admin scope" in driver.find_element(By.ID, "refused").text
    shot(driver, "10-sign-in-refused")
    driver.get(f"{server.base}/console")
    heading(driver, "Sign in")


def test_a_form_posted_without_its_csrf_token_is_refused(
    driver: webdriver.Chrome, server: Server
) -> None:
    _sign_in(driver, server, DEMO_TOKEN)
    heading(driver, "Find a person")
    driver.get(f"{server.base}/console/suppressions")
    heading(driver, "Suppressions")
    before = _listed(driver)
    fill(driver, "Value", "csrf-less@example.com")
    # What a forged cross-site form is: the same fields, without this session's token.
    driver.execute_script(
        "document.querySelector('form[action=\"/console/suppressions\"] input[name=csrf]').remove()"
    )
    driver.find_element(By.CSS_SELECTOR, "form[action='/console/suppressions'] button").click()
    heading(driver, "This form was refused")
    assert "Nothing was changed" in page_text(driver)
    shot(driver, "11-csrf-refused")
    driver.get(f"{server.base}/console/suppressions")
    heading(driver, "Suppressions")
    assert _listed(driver) == before


def test_docs_render_every_document_from_the_apps_own_assets(
    driver: webdriver.Chrome, server: Server
) -> None:
    browser_log(driver)  # what earlier tests logged
    driver.get(f"{server.base}/docs")
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    assert "Unable to render" not in page_text(driver)
    assert "Obliviate native API" in page_text(driver)
    shot(driver, "12-docs-native")
    menu = Select(driver.find_element(By.CSS_SELECTOR, ".download-url-wrapper select"))
    names = [option.text for option in menu.options]
    assert len(names) == 4, names
    for name in names[1:]:
        menu = Select(driver.find_element(By.CSS_SELECTOR, ".download-url-wrapper select"))
        menu.select_by_visible_text(name)
        wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
        title = (By.CSS_SELECTOR, ".info .title")
        wait(driver).until(ec.text_to_be_present_in_element(title, name.split(" ")[0]))
        assert "Unable to render" not in page_text(driver)
    shot(driver, "13-docs-vendor")
    problems = [
        entry["message"]
        for entry in browser_log(driver)
        if entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"]
    ]
    assert problems == []


def test_the_landing_page_links_everything(driver: webdriver.Chrome, server: Server) -> None:
    driver.get(server.base + "/")
    heading(driver, "Obliviate")
    links = {a.text: a.get_attribute("href") for a in driver.find_elements(By.TAG_NAME, "a")}
    for wanted in ("/console", "/docs", "/healthz", "/readyz", "/metrics"):
        assert any(href and href.endswith(wanted) for href in links.values()), wanted
    shot(driver, "14-landing")
