"""The exact sequence that once opened another pupil's locker, played end to end with nothing
faked but the world: the real server and its web console in Chromium, the real broker and a
real kiosk controller on mock pins.

Pupil A collects early, pupil B then uses the same locker, A is later caught with the phone
(it is kept in the office safe), and A's parent comes to collect it. Recording that
collection must not open B's locker: A's phone is in the office, so no door opens at all.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

from firmware_py.nfc import ReaderSpec
from lockers.wire import messages as m
from tests.controller_kit import make_rig, wait_until
from tests.fixtures.broker import Broker
from tests.test_web_dashboard import ARTIFACTS, CHROMIUM_ARGS, sign_in
from tests.test_web_with_real_kiosk import UID, school  # noqa: F401 - the fixture

UID_B = "04C0FFEE000002"
O, S = m.TapOutcome, m.SlotState  # noqa: E741


def test_a_parent_collection_for_a_phone_in_the_office_opens_no_other_pupils_locker(
        tmp_path: Path, mock_pins: Any, broker: Broker, school: Any) -> None:  # noqa: F811
    rt, base, clock = school
    from server.models import Command, Pupil, Site

    with rt.store.write() as db:
        site = db.query(Site).one()
        key = site.card_hash_key
        db.add(Pupil(site_id=site.id, reference="P2", first_name="Tom", last_name="Byrne",
                     year_group="9", form="9Y"))
    rt.services.cards.enrol_card("office1", "P2", UID_B)
    rig = make_rig(tmp_path, mock_pins, broker, readers=[ReaderSpec("arrival", "none")],
                   clock=clock)
    rig.controller.config.card_key = key
    pulses: set[int] = set()
    watching = threading.Event()

    def watch_relays() -> None:  # every relay that energises from now on
        while not watching.wait(0.002):
            pulses.update(n for n in range(1, 9) if rig.relay(n))

    try:
        wait_until(lambda: rig.controller.view().policy_version >= 1, 10, "the replica")
        # 08:00 A hands in; the office approves an early release; A collects at 10:30.
        slot = rig.tap(UID).slot
        assert slot is not None
        rig.open_and_close(slot, item="put")
        with sync_playwright() as p:
            browser: Browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            sign_in(page, base, "office1", "office pass")
            page.goto(f"{base}/console/pupil/P1")
            page.fill("form[action$='/early-release'] input[name=reason]", "dentist at 11:00")
            page.click("button:has-text('Approve early release')")
            wait_until(lambda: rig.controller.view().policy_version >= 2, 10, "the approval")
            wait_until(lambda: not rig.relay(slot), 5, "the deposit's pulse to end")
            clock.advance(2.5 * 3600)
            assert rig.tap(UID).outcome is O.EARLY_RELEASE_OPENED
            rig.open_and_close(slot, item="take")
            wait_until(lambda: not rig.relay(slot), 5, "the release pulse to end")
            # 10:30 B hands in and is given the same locker.
            result = rig.tap(UID_B)
            assert (result.outcome, result.slot) == (O.DEPOSIT_OPENED, slot)
            rig.open_and_close(slot, item="put")
            wait_until(lambda: not rig.relay(slot), 5, "B's pulse to end")
            wait_until(lambda: rt.services.queries.where_is_phone("P2").slot == slot, 10,
                       "B's deposit to reach the server")
            # 13:00 A is caught using the phone: it is kept in the office safe, parent only.
            clock.advance(2.5 * 3600)
            page.goto(f"{base}/console/pupil/P1")
            form = page.locator("form:has(h2:has-text('Confiscate a device taken'))")
            form.locator("input[name=reason]").fill("using the phone in a lesson")
            form.locator("input[name=serious]").check()
            form.locator("button").click()
            page.wait_for_selector("text=Saved: the confiscation is recorded")
            # Then A's mother collects it at the office.
            threading.Thread(target=watch_relays, daemon=True).start()
            page.goto(f"{base}/console/held")
            collect = page.locator("form[action*='/collect']").first
            collect.locator("input[name=collector]").fill("Mrs O'Neil")
            collect.locator("input[name=relationship]").fill("mother")
            collect.locator("input[name=identity_check]").fill("photo ID checked")
            collect.locator("button").click()
            page.wait_for_load_state()
            words = page.inner_text("main")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "custody-parent-collection-office.png"))
            browser.close()
        assert "office safe" in words, words
        watching.set()
        assert pulses == set()  # no locker opened: the phone was in the office
        assert rig.state(slot) is S.OCCUPIED
        assert next(s for s in rig.controller.view().slots if s.number == slot).pupil_ref == "P2"
        with rt.store.read() as db:
            assert db.query(Command).filter(Command.kind == "remote_unlock").count() == 0
        # At home time (15:30) B's own tap opens B's locker, with B's phone still in it.
        clock.advance(2.5 * 3600)
        assert rig.tap(UID_B).outcome is O.RELEASE_OPENED
    finally:
        watching.set()
        rig.controller.stop()
