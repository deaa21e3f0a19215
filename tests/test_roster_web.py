"""The roster upload in the web admin, in Chromium against the running server, and a leaver's
card at a real kiosk controller after the import archives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from firmware_py.nfc import ReaderSpec
from lockers.cardhash import card_hash
from lockers.wire import messages as m
from server.roster import import_roster
from tests.controller_kit import make_rig, wait_until
from tests.fixtures.broker import Broker
from tests.test_web_dashboard import ARTIFACTS, browser, sign_in, site  # noqa: F401
from tests.test_web_with_real_kiosk import UID, school  # noqa: F401

DATA = Path(__file__).resolve().parent / "data"


def _shot(page: Any, name: str) -> None:
    """A screenshot under test-artifacts/web (copied into docs/screens by hand when the page
    changes, so a test run never dirties the tree)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_the_office_previews_an_arbor_export_then_applies_it_and_reads_what_happened(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "admin", "correct horse")
    page.goto(f"{base}/admin")
    page.click("a:has-text('Import pupils from the MIS')")
    page.set_input_files("input[name=roster]", str(DATA / "roster_arbor.csv"))
    page.click("button:has-text('Check the file')")
    page.wait_for_selector("#how-read")
    assert "Arbor (UTF-8 with BOM, 7 pupil lines, a full export)" in page.inner_text("#how-read")
    # A full export without the three pupils already on roll: they would leave.
    leaving = page.inner_text("#group-leave")
    assert "Leaving" in leaving and "(3)" in leaving
    assert "Ελένη Παπαδοπούλου" in page.inner_text("#group-new")
    problems = page.inner_text("table.problems")
    assert "given to neither pupil" in problems and "4.12E+13" in problems
    assert page.locator("table.problems tr:has-text('04B00000000002')").count() == 2
    with rt.store.read() as s:  # nothing changed yet
        from sqlalchemy import func, select

        from server.models import Pupil

        assert s.scalar(select(func.count()).select_from(Pupil)) == 3
    _shot(page, "web-roster-preview.png")
    before = len(kiosk.updates) + len(kiosk.snapshots)
    page.check("input[name=save_mapping]")
    page.click("button:has-text('Apply these changes')")
    page.wait_for_selector("#result-words")
    words = page.inner_text("#result-words")
    assert "7 pupils added" in words and "3 left the school" in words
    assert "4 cards enrolled" in words and "The column mapping is saved" in words
    _shot(page, "web-roster-result.png")
    # The kiosk hears at once: the leavers' cards are gone from its replica.
    kiosk.wait_for(lambda k: len(k.updates) + len(k.snapshots) > before, 5, "a new replica")
    for ref, h in rt.cards.items():
        kiosk.wait_for(lambda k, h=h: k.card(h) is None, 5, f"{ref}'s card to be dropped")


def test_a_leavers_card_opens_nothing_at_a_real_kiosk_after_the_import(
        tmp_path: Path, mock_pins: Any, broker: Broker, school: Any) -> None:  # noqa: F811
    rt, _base, clock = school
    with rt.store.read() as db:
        from server.models import Site

        key = db.query(Site).one().card_hash_key
    rig = make_rig(tmp_path, mock_pins, broker, readers=[ReaderSpec("arrival", "none")],
                   clock=clock)
    rig.controller.config.card_key = key  # the school the import made
    leaver_uid = "04:c0:ff:ee:00:00:02"
    roster = tmp_path / "roster.csv"
    try:
        wait_until(lambda: rig.controller.view().policy_version >= 1, 10, "the server's replica")
        roster.write_text(f"UPN,Forename,Surname,Card ID\r\nP1,Amira,O'Neil,{UID}\r\n"
                          f"P2,Lewis,Leaver,{leaver_uid}\r\n", encoding="utf-8-sig")
        import_roster(rt.services, "admin", roster, progress=False)
        leaver = card_hash(key, leaver_uid)
        wait_until(lambda: leaver in rig.controller.state.replica.cards, 10, "the leaver's card")
        roster.write_text(f"UPN,Forename,Surname,Card ID\r\nP1,Amira,O'Neil,{UID}\r\n",
                          encoding="utf-8-sig")  # a full export: P2 has left
        assert import_roster(rt.services, "admin", roster, progress=False).archived == 1
        wait_until(lambda: leaver not in rig.controller.state.replica.cards, 10,
                   "the kiosk to drop the leaver's card")
        result = rig.tap(leaver_uid.replace(":", ""))
        assert result.outcome is m.TapOutcome.UNKNOWN_CARD
        assert not any(rig.relay(n) for n in range(1, 9))
        # The kiosk is deciding, not broken: the pupil who stayed still hands in.
        assert rig.tap(UID).outcome is m.TapOutcome.DEPOSIT_OPENED
    finally:
        rig.controller.stop()


def test_a_windows_1252_sims_export_uploaded_as_a_partial_file_keeps_every_accent(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, _kiosk = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "admin", "correct horse")
    page.goto(f"{base}/admin/roster")
    page.set_input_files("input[name=roster]", str(DATA / "roster_sims.csv"))
    page.uncheck("input[name=full_export]")
    page.click("button:has-text('Check the file')")
    assert "SIMS (Windows-1252, 4 pupil lines, a partial file)" in page.inner_text("#how-read")
    assert page.locator("#group-leave").count() == 0  # a partial file makes nobody leave
    assert "left on 20/07/2026, not added" in page.inner_text("#group-skip")
    page.click("button:has-text('Apply these changes')")
    assert "3 pupils added" in page.inner_text("#result-words")
    with rt.store.read() as s:
        from sqlalchemy import select

        from server.models import Pupil

        names = set(s.execute(select(Pupil.first_name, Pupil.last_name)).all())
    assert {("Zoë", "O'Brien"), ("Chloé", "Smith, Jr"), ("Jürgen", "Müller")} <= names
    assert ("Amira", "O'Neil") in names  # still on roll
