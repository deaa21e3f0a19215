"""The school calendar in Chromium: the term dates imported from the school's .ics are
answered in words, the year shows as a month grid with each day's window, and a day is
corrected by hand."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from tests.test_web_dashboard import ARTIFACTS, browser, sign_in, site  # noqa: F401

ICS = Path(__file__).resolve().parents[1] / "launcher" / "demo_data" / "term-dates-2026-27.ics"


def _shot(page: Any, name: str) -> None:
    """A screenshot under test-artifacts/web (copied into docs/screens by hand when the page
    changes, so a test run never dirties the tree)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_leadership_import_term_dates_read_the_result_and_correct_a_day_on_the_grid(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "head", "leader pass")
    page.goto(f"{base}/admin/calendar")
    page.set_input_files("input[name=ics]", str(ICS))
    page.click("button:has-text('Import')")
    page.wait_for_selector("#import-words")
    words = page.inner_text("#import-words")
    assert words.startswith("3 terms, 4 INSET days") and "4 early closings" in words
    terms = page.inner_text("#terms")
    assert "Autumn term\tThu 03 Sep 2026\tFri 18 Dec 2026\t70" in terms
    assert "Fri 21 May 2027: collection from 14:00 to 15:00" in page.inner_text("#early")
    assert "Sports day" in page.inner_text("#skipped")
    assert page.locator("#flags").count() == 0
    _shot(page, "web-calendar-import.png")
    page.click("a:has-text('See the whole year')")
    # Friday before the October clock change and Monday after half term: same local time.
    for day in ("2026-10-23", "2026-11-02"):
        cell = page.locator(f"#day-{day}")
        assert cell.get_attribute("data-kind") == "school"
        assert cell.get_attribute("data-window") == "15:10-16:30"
    assert page.locator("#day-2026-10-27").get_attribute("data-kind") == "holiday"
    assert page.locator("#day-2026-11-27").get_attribute("data-kind") == "inset"
    assert page.locator("#day-2026-12-18").get_attribute("data-window") == "13:30-14:30"
    # Polling day: the school closes early, by hand.
    page.click("#day-2026-12-03 a")
    page.select_option("select[name=kind]", "early_closing")
    page.fill("input[name=opens]", "12:00")
    page.fill("input[name=closes]", "13:00")
    page.fill("input[name=note]", "polling day")
    page.click("button:has-text('Save day')")
    page.wait_for_selector("#chosen-words")
    assert "collection 12:00–13:00" in page.inner_text("#chosen-words")
    cell = page.locator("#day-2026-12-03")
    assert cell.get_attribute("data-kind") == "early_closing"
    assert "✎" in cell.inner_text() and "polling day" in (cell.get_attribute("title") or "")
    entry = rt.services.calendar.release_window(date(2026, 12, 3))
    assert (entry.release_opens, entry.release_closes) == (time(12, 0), time(13, 0))
    page.goto(f"{base}/admin/calendar?year=2026")
    _shot(page, "web-calendar.png")
