"""Groups with their own collection window: an after-school club's members collect at 16:45
on club days without an office override, decided by a real kiosk controller from its replica
alone; everyone else keeps the school's window."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from firmware_py.nfc import ReaderSpec
from lockers.cardhash import card_hash
from lockers.wire import messages as m
from server.roster import import_roster
from tests.controller_kit import make_rig, wait_until
from tests.fixtures.broker import Broker
from tests.test_calendar_web import _shot
from tests.test_web_dashboard import browser, sign_in, site  # noqa: F401
from tests.test_web_with_real_kiosk import UID, school  # noqa: F401

FRIEND = "04C0FFEE000002"


def test_a_chess_club_member_collects_at_1645_on_club_day_at_a_real_kiosk(
        tmp_path: Path, mock_pins: Any, broker: Broker, school: Any) -> None:  # noqa: F811
    rt, _base, clock = school
    s = rt.services
    import_roster(s, "admin", (f"UPN,Forename,Surname,Year,Reg Group,Card ID\r\n"
                               f"P1,Amira,O'Neil,9,9X,{UID}\r\n"
                               f"P2,Tom,Okafor,9,9X,{FRIEND}\r\n").encode(),
                  full_export=False, progress=False)
    s.groups.create_group("admin", "Chess club")
    assert s.groups.set_members("admin", "Chess club", ["P1", "NOPE"]) == ["NOPE"]
    s.groups.set_window("admin", "Chess club", {0, 2}, time(16, 45), time(17, 30))  # Mon, Wed
    with rt.store.read() as db:
        from server.models import Site

        key = db.query(Site).one().card_hash_key
    rig = make_rig(tmp_path, mock_pins, broker, readers=[ReaderSpec("arrival", "none")],
                   clock=clock)
    rig.controller.config.card_key = key
    member = card_hash(key, UID)
    try:
        wait_until(lambda: (e := rig.controller.state.replica.cards.get(member)) is not None
                   and e.window is not None, 30, "the club window in the kiosk's replica")
        slots = {}
        for uid in (UID, FRIEND):
            result = rig.tap(uid)
            assert result.outcome is m.TapOutcome.DEPOSIT_OPENED
            rig.open_and_close(result.slot, item="put")
            slots[uid] = result.slot
        # Hours pass: the server has acknowledged the morning (its acknowledgements also
        # vouch for the kiosk's clock; a first one arriving after the afternoon has come
        # would carry a morning time and make the kiosk doubt its clock, as it should).
        wait_until(lambda: rig.controller.view().outbox_pending == 0, 30,
                   "the server to acknowledge the morning")
        rig.advance(timedelta(hours=7, minutes=30).total_seconds())  # Monday 15:30
        refused = rig.tap(UID)
        assert refused.outcome is m.TapOutcome.NOT_RELEASE_TIME
        assert refused.opens_at == time(16, 45)  # the screen says when, in school time
        friend = rig.tap(FRIEND)
        assert friend.outcome is m.TapOutcome.RELEASE_OPENED  # the school's window
        rig.open_and_close(friend.slot, item="take")
        wait_until(lambda: rig.controller.view().outbox_pending == 0, 30,
                   "the server to acknowledge the afternoon")
        rig.advance(timedelta(hours=1, minutes=20).total_seconds())  # Monday 16:50
        collected = rig.tap(UID)
        assert collected.outcome is m.TapOutcome.RELEASE_OPENED
        assert collected.slot == slots[UID]
        rig.open_and_close(collected.slot, item="take")
        wait_until(lambda: rig.state(collected.slot) is m.SlotState.FREE, 10,
                   "the club member's locker to be free")
    finally:
        rig.controller.stop()


def test_a_group_window_applies_only_on_its_days_and_only_on_school_days(
        school: Any) -> None:  # noqa: F811
    from datetime import date

    from server.policy.groups import windows_today

    rt, _base, _clock = school
    s = rt.services
    s.groups.create_group("admin", "Year 9", year_group="9")
    s.groups.set_window("admin", "Year 9", {2}, time(15, 30), time(16, 45))  # Wednesdays
    s.calendar.set_day("admin", date(2026, 12, 2), "inset", note="training")
    with rt.store.read() as db:
        from server.models import Pupil, Site

        site = db.query(Site).one()
        p1 = db.query(Pupil).filter_by(reference="P1").one().id
        assert windows_today(db, site, date(2026, 11, 25)) == {p1: (time(15, 30),
                                                                     time(16, 45))}
        assert windows_today(db, site, date(2026, 11, 24)) == {}  # a Tuesday
        assert windows_today(db, site, date(2026, 12, 2)) == {}  # Wednesday, but INSET
    views = s.groups.groups()
    assert [(v.name, v.year_group, v.windows) for v in views] == [
        ("Year 9", "9", ["Wed 15:30–16:45"])]


def test_leadership_set_up_a_club_and_its_window_in_the_browser(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    sign_in(page, base, "head", "leader pass")
    page.goto(f"{base}/admin/groups")
    page.fill("input[name=name]", "Chess club")
    page.click("button:has-text('Add group')")
    page.fill("textarea[name=refs]", "A001, A002")
    page.click("button:has-text('Save members')")
    page.select_option("form[action$='/window'] select[name=name]", "Chess club")
    page.check("input[name=day][value='0']")
    page.check("input[name=day][value='2']")
    page.fill("input[name=opens]", "16:45")
    page.fill("input[name=closes]", "17:30")
    page.click("button:has-text('Add window')")
    row = page.inner_text("#groups")
    assert "Chess club\tA001, A002\tMon, Wed 16:45–17:30" in row
    _shot(page, "web-groups.png")
    # Monday: the members' cards carry the window to the kiosk, the others' do not.
    kiosk.wait_for(lambda k: (e := k.card(rt.cards["A001"])) is not None
                   and e.window is not None, 5, "A001's window")
    assert kiosk.card(rt.cards["A001"]).window.opens == time(16, 45)
    assert kiosk.card(rt.cards["A003"]).window is None
