"""Leadership's dashboard in headless Chromium: phones in lockers now and left at close,
kiosks by name and place, lockers readable and read out in words, alarms acknowledged with a
note, and the arrival chart on the school's own times; at desktop and phone widths."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import Browser
from sqlalchemy import select

from lockers.wire import messages as m
from server.models import AuditEntry
from tests.server_kit import MORNING, wait_until
from tests.test_web_admin import DESKTOP, PHONE, assert_no_sideways_scrolling, flash, shot
from tests.test_web_dashboard import browser, sign_in, site  # noqa: F401


def hand_in(kiosk: Any, seq: int, minutes: int, slot: int, pupil: str) -> None:
    """The kiosk reports a pupil's phone handed in ``minutes`` after 08:00 UTC."""
    kiosk.publish(m.DepositEvent(kiosk="k1", site="north", seq=seq, slot=slot,
                                 pupil_ref=pupil, at=MORNING + timedelta(minutes=minutes)))


def name_main_entrance(rt: Any) -> None:
    """Kiosk k1 is the Main entrance, by the front office."""
    rt.services.admin.name_kiosk("admin", "k1", "Main entrance", "by the front office")


def test_leadership_see_phones_in_lockers_now_and_those_left_at_close(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    name_main_entrance(rt)
    page = browser.new_page(**DESKTOP)
    sign_in(page, base, "head", "leader pass")
    page.wait_for_selector("#live:has-text('live')")
    assert page.inner_text("#in-lockers-now") == "0"
    hand_in(kiosk, 1, 10, 2, "A001")
    hand_in(kiosk, 2, 12, 5, "A002")
    page.wait_for_selector("#in-lockers-now:text-is('2')", timeout=5000)  # live
    assert "from 08:10 to 08:10" in (page.get_attribute("img.chart", "alt") or "")  # live too
    assert page.inner_text("#left-at-close") == "–"
    assert "counted at 16:30" in page.inner_text(".counter:has(#left-at-close)")
    assert "Main entrance" in page.inner_text(".kiosks") and "by the front office" in \
        page.inner_text(".kiosks")
    assert page.locator("h2:has-text('Main entrance')").count() == 1
    shot(page, "dashboard")
    rt.clock.advance(9 * 3600)  # 17:00: the window closed at 16:30 with both still in
    sign_in(page, base, "head", "leader pass")  # (a session lasts 8 hours)
    assert page.inner_text("#left-at-close") == "2"
    assert "not collected by 16:30" in page.inner_text(".counter:has(#left-at-close)")


def test_lockers_are_numbered_readably_and_read_out_in_words_on_a_phone(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    kiosk.publish(m.SlotStateEvent(kiosk="k1", site="north", seq=1, slot=3,
                                   at=MORNING + timedelta(minutes=1),
                                   state=m.SlotState.OCCUPIED, previous=m.SlotState.FREE,
                                   pupil_ref="A001"))
    page = browser.new_page(**PHONE)
    sign_in(page, base, "head", "leader pass")
    slot = page.locator("#slot-k1-3")
    page.wait_for_selector("#slot-k1-3[data-state=occupied]")
    size = slot.locator(".num").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 14
    # What a screen reader reads: the locker in words, not "P 3".
    assert slot.locator(".sr-only").inner_text() == "Locker 3, phone in"
    assert page.locator("#slot-k1-1 .sr-only").inner_text() == "Locker 1, free"
    assert slot.locator("[aria-hidden=true]").count() == 1
    assert_no_sideways_scrolling(page)
    shot(page, "dashboard-phone")


def test_an_alarm_is_acknowledged_with_a_note_and_the_audit_log_says_who(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    name_main_entrance(rt)
    kiosk.publish(m.AlarmEvent(kiosk="k1", site="north", seq=1, slot=4, state="raised",
                               alarm=m.AlarmKind.DOOR_LEFT_OPEN,
                               at=MORNING + timedelta(minutes=20)))
    wait_until(lambda: rt.services.queries.open_alarms(), 5, "the alarm")
    page = browser.new_page(**PHONE)
    sign_in(page, base, "head", "leader pass")
    alarm = page.locator(".alarm:has-text('Door left open')")
    assert re.search(r"Door left open · Main entrance \(by the front office\), locker 4\s+"
                     r"at 08:20", alarm.inner_text())
    alarm.locator("input[name=note]").fill("going to close it now")
    alarm.locator("button:has-text('Acknowledge')").click()
    assert "acknowledged by Hana Head" in flash(page)
    ack = alarm.locator(".ack").inner_text()
    assert ack.startswith("Acknowledged by Hana Head at 08:00") and "going to close it now" in ack
    assert alarm.locator("button:has-text('Acknowledge')").count() == 0
    assert_no_sideways_scrolling(page)
    shot(page, "alarm-acknowledged-phone")
    with rt.services.store.read() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "alarm.acknowledge"))
        assert (entry.actor, entry.reason) == ("staff:head", "going to close it now")


def test_the_arrival_chart_runs_from_the_first_to_the_last_hand_in_in_school_time(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    # A school an hour ahead of UTC: every time on the chart must be the school's own.
    rt.services.admin.update_settings("admin", "test school in Paris", timezone="Europe/Paris")
    for seq, minutes in enumerate((7, 9, 16, 16, 47), start=1):
        hand_in(kiosk, seq, minutes, seq, ("A001", "A002", "A003", "A001", "A002")[seq - 1])
    wait_until(lambda: rt.services.reports.today().handed_in >= 3, 5, "the hand-ins")
    page = browser.new_page(**DESKTOP)
    sign_in(page, base, "head", "leader pass")
    src = page.get_attribute("img.chart", "src") or ""
    svg = base64.b64decode(src.split(",", 1)[1]).decode()
    labels = re.findall(r">(\d\d:\d\d)<", svg)
    assert labels[0] == "09:05" and labels[-1] == "09:45"  # 08:07 and 08:47 UTC
    assert "Phones handed in" in svg and "Time of day" in svg  # both axes are titled
    assert {"0", "1", "2"} <= set(re.findall(r">(\d+)<", svg))  # counts on the y-axis
    sizes = [float(px) for px in re.findall(r"font-size:\s*([\d.]+)px", svg)]
    assert sizes and min(sizes) >= 12
    assert "from 09:05 to 09:45" in (page.get_attribute("img.chart", "alt") or "")
    page.click("summary:has-text('The figures')")
    assert page.locator(".chart-card tbody tr").count() == 9  # 09:05 … 09:45 in 5 minutes
    shot(page, "dashboard-chart")
