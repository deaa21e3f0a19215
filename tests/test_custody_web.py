"""The office's custody pages in headless Chromium, against the running server, the real
broker and a kiosk speaking the wire: the timeline in words, only the actions valid now, the
locker a parent collection opened, a refusal shown, and the DSL's hand-over page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from lockers.broker import free_port
from lockers.wire import messages as m
from tests.custody_kit import CustodyKiosk, server_and_custody_kiosk
from tests.server_kit import MORNING
from tests.test_web_dashboard import CHROMIUM_ARGS, WebServer, sign_in


@pytest.fixture
def site(tmp_path: Path, broker_factory: Any) -> Iterator[tuple[str, Any, CustodyKiosk]]:
    with server_and_custody_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        rt.services.admin.create_staff("admin", "dsl1", "Dee Safeguarding", "dsl",
                                       "dsl safeguard pass")
        web = WebServer(rt, free_port())
        web.start()
        try:
            yield f"http://127.0.0.1:{web.port}", rt, kiosk
        finally:
            web.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def _answer(kiosk: CustodyKiosk, outcome: m.CommandOutcome, detail: str) -> threading.Thread:
    def run() -> None:
        cmd = kiosk.wait_for(lambda k: k.commands and k.commands[-1], 10, "the unlock")
        kiosk.publish(m.CommandAck(command_id=cmd.id, kiosk="k1", at=MORNING, outcome=outcome,
                                   detail=detail))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_pupil_page_tells_the_devices_story_and_offers_only_what_is_possible_now(
        site: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:
    base, rt, kiosk = site
    phone = kiosk.deposit("A001", 3)
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    sign_in(page, base, "office1", "office pass")
    page.goto(f"{base}/console/pupil/A001")
    record = page.locator(f"section[data-custody='{phone}']")
    assert "Handed in at North entrance, locker 3" in record.inner_text()
    assert "Mon 23 Nov 08:00" in record.inner_text()  # local time (GMT in November)
    assert record.locator("input[name=custody_id]").count() == 1  # confiscate this device
    assert record.locator("a.handover").count() == 0  # not for the office
    record.locator("input[name=reason]").first.fill("filming a lesson")
    record.locator("input[name=serious]").check()
    record.locator("button:has-text('Record confiscation')").click()
    record = page.locator(f"section[data-custody='{phone}']")
    text = record.inner_text()
    assert "Held in locker" in text and "Confiscated by Olu Office while in North entrance" in text
    assert page.inner_text("p.done") == "Saved: the confiscation is recorded."
    assert record.locator("input[name=custody_id]").count() == 0  # no second confiscation
    assert record.locator("button:has-text('Return to pupil')").count() == 0  # parent only
    answer = _answer(kiosk, m.CommandOutcome.DOOR_OPENED, "door switch opened")
    record.locator("input[name=collector]").fill("Mrs O'Neil")
    record.locator("input[name=relationship]").fill("mother")
    record.locator("input[name=identity_check]").fill("photo ID")
    record.locator("button:has-text('Record collection')").click()
    page.wait_for_selector("#outcome")
    answer.join(10)
    assert "The locker opened" in page.inner_text("#outcome")
    assert page.inner_text("#locker") == "North entrance, locker 3"
    page.goto(f"{base}/console/pupil/A001")
    assert page.locator("p.no-custody").count() == 1
    assert "Collected by Mrs O'Neil (mother; identity: photo ID), handed over by Olu Office" \
        in page.inner_text("section.closed")


def test_a_refused_unlock_is_shown_to_the_office_and_the_device_stays_in_its_record(
        site: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:
    base, rt, kiosk = site
    phone = kiosk.deposit("A002", 5)
    rt.services.confiscations.confiscate("office1", "A002", "serious", custody_id=phone,
                                         serious=True)
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    sign_in(page, base, "office1", "office pass")
    page.goto(f"{base}/console/held")
    answer = _answer(kiosk, m.CommandOutcome.REFUSED, "slot holds another device")
    page.fill("input[name=collector]", "Mr Šimek")
    page.fill("input[name=relationship]", "father")
    page.fill("input[name=identity_check]", "known to staff")
    page.click("button:has-text('Record collection')")
    page.wait_for_selector("#outcome")
    answer.join(10)
    assert "The kiosk refused" in page.inner_text("#outcome")
    assert page.inner_text("#detail") == "slot holds another device"
    page.goto(f"{base}/console/pupil/A002")
    record = page.locator(f"section[data-custody='{phone}']")
    assert "The kiosk did not open North entrance, locker 5" in record.inner_text()
    assert record.locator("input[name=collector]").count() == 1  # still to be collected


def test_only_the_dsl_and_leadership_reach_the_hand_over_page(
        site: tuple[str, Any, CustodyKiosk], browser: Browser) -> None:
    base, rt, _kiosk = site
    conf = rt.services.confiscations.confiscate("office1", "A003", "safeguarding concern",
                                                place="office safe", serious=True)
    office = browser.new_page()
    sign_in(office, base, "office1", "office pass")
    refused = office.goto(f"{base}/console/custody/{conf.custody_id}/handover")
    assert refused is not None and refused.status == 403
    dsl = browser.new_page()
    sign_in(dsl, base, "dsl1", "dsl safeguard pass")
    dsl.goto(f"{base}/console/pupil/A003")
    dsl.click("a.handover")
    assert dsl.inner_text("h1") == "Hand Cara Lee (9X)'s device to the DSL or the police"
    dsl.check("input[value=police]")
    dsl.fill("input[name=note]", "PC 123, reference 55/26")
    dsl.click("button:has-text('Record the hand-over')")
    assert "Hand the device over from office safe" in dsl.inner_text("[role=alert]")
    assert rt.services.confiscations.get(conf.id).state == "handed_to_police"
