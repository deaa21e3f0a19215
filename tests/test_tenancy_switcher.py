"""The school switcher in headless Chromium: a trust role moves between two schools and sees
them side by side; a school's own staff see no switcher at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from server.migrate import upgrade
from server.services import Services
from server.store import Store
from tests.server_kit import database_url, make_clock
from tests.tenancy_kit import PASSWORD, WebServer, two_schools

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "tenancy"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    """North and South on one installation, served over HTTP."""
    url = database_url(tmp_path)
    upgrade(url)
    services = Services(Store(url), make_clock())
    two_schools(services)
    with WebServer(services) as web:
        yield web.base
    services.store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = Path("/usr/bin/chromium")
    assert executable.exists(), "Chromium is missing: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _sign_in(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(lambda url: "/signin" not in url)


def test_trust_lead_switches_school_and_the_pages_follow(base: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, base, "trustlead")
    page.goto(f"{base}/console?q=A001")
    switcher = page.locator("form.school-switcher select[name=school]")
    assert switcher.locator("option").all_inner_texts() == ["North Academy", "South School"]
    assert page.locator("main").inner_text().count("Amira") == 1
    switcher.select_option("south")
    with page.expect_navigation():
        page.click("form.school-switcher button:has-text('Switch')")
    assert page.url == f"{base}/console?q=A001"  # back on the same page, now South's
    assert switcher.input_value() == "south"
    main = page.locator("main").inner_text()
    assert "Zebedee" in main and "Amira" not in main
    page.goto(f"{base}/console/pupil/A001")  # the choice is remembered in the session
    assert "Quartermain" in page.locator("main").inner_text()
    page.goto(f"{base}/dashboard")  # the heading says whose lockers these are
    assert page.inner_text("h1").startswith("Today at South School")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trust-dashboard-south.png"))
    page.click("a:has-text('All schools')")
    rows = page.locator("table.trust tbody tr")
    assert rows.count() == 2
    assert rows.nth(1).get_attribute("data-school") == "south"
    assert "South School" in rows.nth(1).inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trust-overview.png"), full_page=True)
    page.close()


def test_a_schools_own_office_sees_no_switcher(base: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 800})
    _sign_in(page, base, "north_office")
    page.goto(f"{base}/console?q=A001")
    assert page.locator("form.school-switcher").count() == 0
    main = page.locator("main").inner_text()
    assert "Amira" in main and "Zebedee" not in main
    page.close()
