"""The office console in headless Chromium, used as an office administrator uses it at a desk
(1280 px) and on a phone (390 px), against the running server, the real broker and a kiosk
speaking the wire: where a pupil's phone is, the end-of-day and overnight lists, exceptions
recorded by name, checked and revoked, and the audit trail paged, filtered and exported whole.
Screenshots go to test-artifacts/web (the best are copied into docs/screens by hand)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from lockers.broker import free_port
from server.models import Pupil
from tests.custody_kit import CustodyKiosk, server_and_custody_kiosk
from tests.test_custody_web import browser  # noqa: F401
from tests.test_web_dashboard import ARTIFACTS, WebServer, sign_in

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture
def office(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[str, Any, CustodyKiosk]]:
    """The school of tests.server_kit plus Amira Khan (8B), whose first name Amira O'Neil
    (9X) shares, so a name alone does not say which pupil is meant."""
    with server_and_custody_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        with rt.store.write() as s:
            site_id = rt.services.ctx.site(s, "north").id
            s.add(Pupil(site_id=site_id, reference="D1083", first_name="Amira",
                        last_name="Khan", year_group="8", form="8B"))
        web = WebServer(rt, free_port())
        web.start()
        try:
            yield f"http://127.0.0.1:{web.port}", rt, kiosk
        finally:
            web.stop()


def _page(chromium: Browser, base: str, width: int, user: str = "office1",
          password: str = "office pass") -> Page:
    page = chromium.new_page(viewport={"width": width, "height": 900})
    sign_in(page, base, user, password)
    return page


def _fits(page: Page) -> bool:
    """No sideways scrolling: the page is no wider than the window."""
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def _shot(page: Page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def _csv(page: Page, url: str) -> list[dict[str, str]]:
    response = page.request.get(url)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.body().decode("utf-8-sig"), newline="")))


# The one browser scenario also run on PostgreSQL (the name search, where each phone is,
# local times): every browser test twice would cost minutes; the pages' queries are the
# same ones tests/test_tenancy_isolation.py runs on both databases through every route.
@pytest.mark.usefixtures("each_database")
def test_the_search_list_says_where_each_pupils_phone_is(
        office: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = office
    kiosk.deposit("A001", 3)
    rt.services.confiscations.confiscate("office1", "D1083", "phone out in maths",
                                         place="office", serious=True)
    for width_name, width in WIDTHS.items():
        page = _page(browser, base, width)
        page.fill("input[name=q]", "Amira")
        page.click("button:has-text('Find')")
        assert page.inner_text("tr[data-pupil=A001] .phone-where") == \
            "In locker 3 at North entrance kiosk since 08:00"
        assert page.inner_text("tr[data-pupil=D1083] .phone-where") == \
            "Held at the office for parent collection"
        assert "Amira Khan (8B)" in page.inner_text("tr[data-pupil=D1083]")
        assert _fits(page), f"the search list scrolls sideways at {width} px"
        _shot(page, f"console-search-{width_name}.png")
        page.fill("input[name=q]", "Lee")
        page.click("button:has-text('Find')")
        assert page.inner_text("tr[data-pupil=A003] .phone-where") == "Not handed in today"


def test_the_pupil_page_offers_early_release_only_while_the_phone_is_in_a_locker(
        office: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:  # noqa: F811
    base, _rt, kiosk = office
    phone = kiosk.deposit("A002", 5)
    page = _page(browser, base, 1280)
    page.goto(f"{base}/console/pupil/A002")
    assert page.locator("form[action$='/early-release']").count() == 1
    assert page.locator("form[action$='/hand-in']").count() == 0  # already handed in
    kiosk.collect(5, phone)
    page.goto(f"{base}/console/pupil/A002")
    assert page.inner_text(".where strong") == \
        "Collected from locker 5 at North entrance kiosk at 08:00"
    assert page.locator("form[action$='/early-release']").count() == 0
    assert "Returned to the pupil" in page.inner_text("section.closed")
    today = page.inner_text("ol.history")
    assert "Phone put in, locker 5" in today and "{" not in today  # words, not raw Python
    small = _page(browser, base, 390)
    small.goto(f"{base}/console/pupil/A002")
    assert _fits(small), "the pupil page scrolls sideways at 390 px"
    _shot(small, "console-pupil-phone.png")


def test_the_office_sees_what_is_still_here_at_close_and_what_was_left_overnight(
        office: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = office
    kiosk.deposit("A001", 3)
    collected = kiosk.deposit("A002", 5)
    kiosk.collect(5, collected)
    rt.services.confiscations.confiscate("office1", "D1083", "second phone",
                                         place="office safe", serious=True)
    page = _page(browser, base, 1280)
    page.goto(f"{base}/reports")
    assert page.locator("a:has-text('Audit trail')").count() == 0  # leadership's
    page.click("a:has-text('Still here at close')")
    table = page.inner_text("#report")
    assert "Amira O'Neil (9X)\tA001\tStill in locker\tLocker 3, North entrance" in table
    assert "Amira Khan (8B)\tD1083\tHeld at the office\tOffice (office safe)" in table
    assert "Parent or carer collection only" in table and "Ben" not in table
    _shot(page, "office-still-here-desktop.png")
    rows = _csv(page, f"{base}/reports/uncollected?format=csv")
    assert sorted(r["Pupil"] for r in rows) == ["Amira Khan (8B)", "Amira O'Neil (9X)"]
    refused = page.goto(f"{base}/reports/compliance")
    assert refused is not None and refused.status == 403
    assert page.inner_text("h1") == "Today's hand-in is for leadership staff"
    rt.clock.advance(24 * 3600)  # the next morning: nothing went home
    for width_name, width in WIDTHS.items():
        page = _page(browser, base, width)
        page.goto(f"{base}/reports/overnight")
        table = page.inner_text("#report")
        assert "Amira O'Neil (9X)" in table and "Amira Khan (8B)" in table
        assert "Mon 23 Nov 2026 08:00" in table  # since, in local time
        assert _fits(page), f"the overnight list scrolls sideways at {width} px"
        _shot(page, f"office-overnight-{width_name}.png")
    page.goto(f"{base}/console/held")
    assert "Amira Khan (8B)" in page.inner_text(".overnight-list")


def test_the_office_records_an_exception_by_name_sees_every_one_and_revokes_with_a_reason(
        office: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:  # noqa: F811
    base, rt, _kiosk = office
    today = rt.clock.now().date()
    rt.services.exceptions.grant_exception(  # reviewed in two months: not due, still listed
        "office1", "A003", category="other", reason="young carer", approved_by="Mr Head",
        agreement_date=today, starts=today, review_date=today + timedelta(days=60))
    page = _page(browser, base, 1280)
    page.goto(f"{base}/console/exceptions")
    page.fill("input[name=pupil]", "Amira")
    page.fill("input[name=reason]", "glucose monitoring")
    page.fill("input[name=approved_by]", "Mrs Head")
    page.fill("input[name=agreement_date]", str(today))
    page.fill("input[name=starts]", str(today))
    page.fill("input[name=ends]", str(today - timedelta(days=1)))
    page.click("button:has-text('Record exception')")
    assert "Several pupils match “Amira”" in page.inner_text(".form-error")
    page.check("input[name=pupil_ref][value=D1083]")
    page.click("button:has-text('Record exception')")
    error = page.inner_text(".form-error")
    assert "end date (22 Nov 2026) is before the start date (23 Nov 2026)" in error
    _shot(page, "exceptions-refused-desktop.png")
    # Nothing typed is lost, the chosen pupil included.
    assert page.input_value("input[name=pupil]") == "D1083"
    assert page.inner_text(".chosen") == "Amira Khan (8B)"
    assert page.input_value("input[name=reason]") == "glucose monitoring"
    assert page.input_value("input[name=approved_by]") == "Mrs Head"
    assert rt.services.exceptions.exceptions(current_only=True)[0].pupil_ref == "A003"
    page.fill("input[name=ends]", str(today + timedelta(days=90)))
    page.fill("input[name=review_date]", str(today + timedelta(days=7)))
    page.click("button:has-text('Record exception')")
    assert page.inner_text(".done") == \
        "Saved: the exception for Amira Khan (8B) was recorded."
    amira = page.locator("tr", has_text="Amira Khan (8B)")
    assert "Review due" in amira.inner_text()
    cara = page.locator("tr", has_text="Cara Lee (9X)")
    assert "Review due" not in cara.inner_text() and "young carer" in cara.inner_text()
    _shot(page, "exceptions-desktop.png")
    exported = _csv(page, f"{base}/reports/exceptions?format=csv")  # the office's own CSV
    assert [(r["Pupil"], r["Review due"]) for r in exported] == [
        ("Amira Khan (8B)", "Yes"), ("Cara Lee (9X)", "No")]
    cara.locator("a.revoke").click()
    assert page.inner_text("h1") == "Revoke Cara Lee (9X)'s exception?"
    page.fill("input[name=reason]", "no longer a young carer: letter from the council")
    page.click("button:has-text('Revoke the exception')")
    assert page.inner_text(".done") == "Saved: the exception for Cara Lee (9X) was revoked."
    assert page.locator("tr", has_text="Cara Lee (9X)").count() == 0
    [entry] = rt.services.reports.audit_search(action="exception.revoke")
    assert (entry["pupil_ref"], entry["actor"]) == ("A003", "staff:office1")
    assert entry["reason"] == "no longer a young carer: letter from the council"
    gone = page.goto(f"{base}/console/exceptions/9999/revoke")
    assert gone is not None and gone.status == 404
    assert page.inner_text("h1") == "No such exception"
    phone = _page(browser, base, 390)
    phone.goto(f"{base}/console/exceptions")
    assert _fits(phone), "the exceptions page scrolls sideways at 390 px"
    _shot(phone, "exceptions-phone.png")


def test_the_audit_trail_is_paged_filtered_by_name_and_exports_every_matching_row(
        office: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = office
    for i in range(230):  # more than the old export's silent limit of 200
        rt.services.registers.record_phone("office1", "D1083", brings_phone=i % 2 == 0)
    phone = kiosk.deposit("A001", 3)
    rt.services.confiscations.confiscate("office1", "A001", "filming", custody_id=phone)
    page = _page(browser, base, 1280, "head", "leader pass")
    page.goto(f"{base}/reports/audit")
    text = page.inner_text("main")
    assert page.locator("#report tbody tr").count() == 50
    assert "sha256" not in text and "{'" not in text and "confiscation.create" not in text
    page.click("a[rel=next]")
    assert page.inner_text("#audit-count").startswith("Entries 51–100 of ")
    page.click("a[rel=prev]")
    assert page.inner_text("#audit-count").startswith("Entries 1–50 of ")
    page.fill("input[name=pupil]", "Amira")
    page.click("button:has-text('Search')")
    page.click("a:has-text('Amira Khan (8B)')")  # two Amiras: choose
    assert page.inner_text("#audit-count").startswith("Entries 1–50 of 230")
    assert page.inner_text("#audit-pupil") == "Pupil: Amira Khan (8B)"
    assert _fits(page), "the audit page scrolls sideways at 1280 px"
    _shot(page, "audit-desktop.png", full_page=False)  # 50 rows: the top says enough
    rows = _csv(page, f"{base}/reports/audit{page.url.split('/reports/audit', 1)[1]}"
                      "&format=csv")
    assert len(rows) == 230
    assert set(rows[0]) == {"When", "Who", "Action", "Pupil", "Reason", "Details"}
    assert {(r["Who"], r["Action"], r["Pupil"]) for r in rows} == {
        ("Olu Office", "Phone register changed", "Amira Khan (8B)")}
    assert rows[0]["When"] == "2026-11-23 08:00"  # local time, to the minute
    page.goto(f"{base}/reports/audit")
    page.select_option("select[name=action]", "confiscation.create")
    page.select_option("select[name=actor]", "staff:office1")
    page.fill("input[name=from]", str(rt.clock.now().date()))
    page.click("button:has-text('Search')")
    row = page.inner_text("#report tbody tr")
    assert "Phone confiscated" in row and "Amira O'Neil (9X)" in row and "Olu Office" in row
    assert "Mon 23 Nov 2026 08:00" in row
    page.fill("input[name=from]", str(rt.clock.now().date() + timedelta(days=1)))
    page.click("button:has-text('Search')")
    assert page.inner_text("#audit-count").startswith("No entries match")
    small = _page(browser, base, 390, "head", "leader pass")
    small.goto(f"{base}/reports/audit")
    assert _fits(small), "the audit page scrolls sideways at 390 px"
    _shot(small, "audit-phone.png", full_page=False)


def test_leadership_reports_say_states_times_and_lockers_in_words(
        office: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = office
    kiosk.deposit("A001", 3)
    collected = kiosk.deposit("A002", 5)
    kiosk.collect(5, collected)
    rt.services.confiscations.confiscate("office1", "D1083", "phone out in maths",
                                         place="office")
    for width_name, width in WIDTHS.items():
        page = _page(browser, base, width, "head", "leader pass")
        page.goto(f"{base}/reports/compliance")
        ben = page.locator("#report tr", has_text="Ben Šimek (9X)").inner_text()
        # Handed in this morning, and gone home since: the report says both.
        assert "Handed in" in ben and "Collected" in ben and "Locker 5, North entrance" in ben
        assert "Mon 23 Nov 2026 08:00" in ben and "handed_in" not in ben
        amira = page.locator("#report tr", has_text="Amira O'Neil (9X)").inner_text()
        assert "Still in locker" in amira
        khan = page.locator("#report tr", has_text="Amira Khan (8B)").inner_text()
        assert "Not handed in" in khan and "Held at the office" in khan  # confiscated
        assert _fits(page), f"the compliance report scrolls sideways at {width} px"
        _shot(page, f"report-compliance-{width_name}.png")
    page.goto(f"{base}/reports/breaches")
    assert "Amira Khan (8B)" in page.inner_text("#report")
    rows = _csv(page, f"{base}/reports/compliance?format=csv")
    ben_row = next(r for r in rows if r["Reference"] == "A002")
    assert (ben_row["Status"], ben_row["Phone now"]) == ("Handed in", "Collected")
    # The reports page's chart is the dashboard's: real axes from the first hand-in, in words.
    page.goto(f"{base}/reports")
    chart = page.locator("img.chart")
    assert chart.count() == 1
    assert chart.get_attribute("alt").startswith("Phones handed in per five minutes from 08:00")
    assert chart.get_attribute("src").startswith("data:image/svg+xml;base64,")
    _shot(page, "reports-chart-desktop.png")
