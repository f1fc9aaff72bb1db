"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium, and the
screenshots the browser tests leave of each step.

Without Chromium the browser tests skip, except with ``CI=true``, where they fail: CI installs
it (.ci/run), so a missing browser there is a broken build, not a reason to test less.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.environment import IN_CI

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = "chromedriver"
WAIT_S = 30.0
# Where each step's screenshot goes (gitignored); OBLIVIATE_SCREENSHOTS moves it.
SCREENSHOTS = Path(
    os.environ.get("OBLIVIATE_SCREENSHOTS", Path(__file__).parents[2] / "artifacts" / "screenshots")
)


def _found(names: tuple[str, ...]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


def chromium() -> webdriver.Chrome:
    browser, driver = _found(CHROMIUM), _found((DRIVER,))
    if browser is None or driver is None:
        message = "Chromium and chromedriver are needed: apt-get install chromium chromium-driver"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the browser tests must run, not skip)")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        # Root in CI and in containers: Chromium's sandbox needs user namespaces it lacks there.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--no-first-run",
        "--disable-background-networking",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver is named, so Selenium Manager never tries to download one.
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(driver, WAIT_S)


def shot(driver: webdriver.Chrome, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    assert driver.save_screenshot(str(path)), path
    return path


def heading(driver: webdriver.Chrome, text: str) -> WebElement:
    """Wait for the page whose first heading holds ``text``."""
    wait(driver).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))
    return driver.find_element(By.TAG_NAME, "h1")


def fill(driver: webdriver.Chrome, label: str, value: str) -> None:
    """Type into the field a visible label names (the way a person finds it)."""
    field = driver.find_element(By.XPATH, f"//label[normalize-space(text())={label!r}]")
    target = driver.find_element(By.ID, field.get_attribute("for") or "")
    target.clear()
    target.send_keys(value)


def press(driver: webdriver.Chrome, button: str) -> None:
    driver.find_element(By.XPATH, f"//button[starts-with(normalize-space(.), {button!r})]").click()


def page_text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def browser_log(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """What the page logged (errors, refused loads, CSP reports) since last asked."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return entries
