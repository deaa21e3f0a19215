"""Compliance that means something: a pupil with no phone, an absent pupil and a pupil on a
trip are not "not handed in". At a primary where only Year 5/6 walkers with a signed
agreement bring a phone (004), almost nobody is a concern; the MIS's attendance export says
who is absent or off site."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from server.migrate import upgrade
from server.roster import import_roster
from server.services import Services
from server.store import Store
from tests.server_kit import MORNING, database_url, make_clock, seed
from tests.test_web_dashboard import browser, sign_in, site  # noqa: F401

TODAY = MORNING.date()  # Monday 23 November 2026


@pytest.fixture
def services(tmp_path: Path, each_database: str) -> Iterator[Services]:
    """The seeded school on a migrated database: SQLite, then PostgreSQL."""
    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    svc = Services(store, make_clock())
    seed(svc)  # A001 Amira, A002 Ben, A003 Cara, with cards
    roster = "".join(f"P{i},Pupil,Number{i},5,5W,\r\n" for i in range(1, 7))
    import_roster(svc, "admin", ("UPN,Forename,Surname,Year,Reg Group,Card ID\r\n"
                                 "A001,Amira,O'Neil,9,9X,04A1B2C3D4E501\r\n"
                                 "A002,Ben,Šimek,9,9X,04A1B2C3D4E502\r\n"
                                 "A003,Cara,Lee,9,9X,04A1B2C3D4E503\r\n" + roster).encode(),
                  progress=False)
    yield svc
    store.dispose()


ATTENDANCE = ("\ufeffUPN,Surname,Forename,Date,AM,PM\r\n"
              "A002,Šimek,Ben,23/11/2026,I,I\r\n"  # ill
              "\r\n"
              "P1,Number1,Pupil,23/11/2026,V,V\r\n"  # on a trip
              "P2,Number2,Pupil,23/11/2026,/,\\\r\n"  # present
              "P3,Number3,Pupil,23/11/2026,L,/\r\n"  # late, present
              "Z9,Nobody,No,23/11/2026,N,N\r\n"
              "P4,Number4,Pupil,31/02/2026,O,O\r\n").encode("utf-8")


def test_only_pupils_expected_to_hand_in_and_who_did_not_are_a_concern(
        services: Services) -> None:
    services.admin.update_settings("admin", "004: only agreed pupils bring phones",
                                   eligibility_required=True)
    for ref in ("A001", "A002", "A003", "P1", "P2", "P3", "P4"):
        services.exceptions.record_eligibility("office1", ref, TODAY - timedelta(days=30),
                                               "Parent/carer")
    services.registers.record_phone("office1", "P4", False, "home_school_agreement")
    result = services.registers.import_attendance("office1", ATTENDANCE)
    assert (result.absent, result.off_site, result.present) == (1, 1, 2)
    assert result.problems == [
        "line 7: Z9 is not on roll here; line skipped (import the roster first)",
        "line 8: P4: date '31/02/2026' is not a date; line skipped (write it as 23/11/2026)"]
    services.registers.mark_off_site("office1", "P5", TODAY, TODAY + timedelta(days=4),
                                     "work placement")
    services.exceptions.grant_exception(
        "head", "A003", category="medical", reason="glucose monitoring",
        approved_by="Headteacher", agreement_date=TODAY, starts=TODAY,
        review_date=TODAY + timedelta(days=90))
    rows = {r["reference"]: r for r in services.reports.compliance(day=TODAY)}
    statuses = {ref: r["status"] for ref, r in rows.items()}
    assert statuses == {
        "A001": "not_handed_in",  # has an agreement, so brings a phone, and did not hand in
        "A002": "absent", "A003": "exempt", "P1": "off_site",
        "P2": "not_handed_in", "P3": "not_handed_in",
        "P4": "no_phone",  # the family said so, whatever the agreement
        "P5": "off_site", "P6": "no_phone"}  # no agreement at a 004 school
    assert rows["A002"]["why"] == "I" and rows["P1"]["why"] == "educational visit or trip"
    assert rows["P5"]["why"] == "work placement"
    assert sorted(ref for ref, r in rows.items() if r["concern"]) == ["A001", "P2", "P3"]
    counts = services.reports.today(day=TODAY)
    assert (counts.not_handed_in, counts.no_phone, counts.absent, counts.off_site,
            counts.exempt) == (3, 2, 1, 2, 1)
    # The trip and the absence are for today only; the placement runs all week.
    tomorrow = {r["reference"]: r["status"]
                for r in services.reports.compliance(day=TODAY + timedelta(days=1))}
    assert (tomorrow["A002"], tomorrow["P1"], tomorrow["P5"]) == ("not_handed_in",
                                                                  "not_handed_in", "off_site")


def test_a_pupil_who_hands_in_counts_as_handed_in_even_if_marked_absent_by_mistake(
        services: Services) -> None:
    from server.models import Deposit, Kiosk, Pupil

    services.registers.mark_absent("office1", "A001", TODAY, "N")
    with services.store.write() as s:
        pupil = s.query(Pupil).filter_by(reference="A001").one()
        kiosk = s.query(Kiosk).one()
        s.add(Deposit(site_id=pupil.site_id, kiosk_id=kiosk.id, pupil_id=pupil.id,
                      pupil_ref="A001", slot=1, day=TODAY, deposited_at=MORNING))
    rows = {r["reference"]: r["status"] for r in services.reports.compliance(day=TODAY)}
    assert rows["A001"] == "handed_in"


def test_the_attendance_export_comes_in_through_the_cli(services: Services,
                                                       tmp_path: Path) -> None:
    from click.testing import CliRunner

    from launcher.cli import main as lockers_cli

    path = tmp_path / "marks.csv"
    path.write_bytes(ATTENDANCE)
    config = tmp_path / "server.toml"
    config.write_text(f'[database]\nurl = "{services.store.url}"\n')
    result = CliRunner().invoke(lockers_cli, ["import-attendance", str(path), "--config",
                                              str(config), "--actor", "office1"])
    assert result.exit_code == 0, result.output
    assert "absent=1 off_site=1 present=2 problems=2" in result.output
    assert "line 7: Z9 is not on roll here" in result.output


def test_the_office_marks_a_pupil_off_site_and_uploads_attendance_in_the_browser(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, _kiosk = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "office1", "office pass")
    page.goto(f"{base}/console/pupil/A001")
    page.check("input[value=off_site]")
    page.fill("input[name=until]", "2026-11-25")
    page.fill("form[action$='/register'] input[name=reason]", "Year 9 trip to York")
    page.click("form[action$='/register'] button")
    page.wait_for_url("**done=off_site")
    page.goto(f"{base}/console/attendance")
    tmp = Path(rt.store.url.split("///", 1)[-1]).parent / "marks.csv"
    tmp.write_bytes(ATTENDANCE)
    page.set_input_files("input[name=marks]", str(tmp))
    page.click("button:has-text('Import attendance')")
    words = page.inner_text("#attendance-words")
    assert words.startswith("1 absent, 0 off site and 0 present recorded")  # only A002 is ours
    rows = {r["reference"]: r for r in rt.services.reports.compliance(day=TODAY)}
    assert (rows["A001"]["status"], rows["A001"]["why"]) == ("off_site", "Year 9 trip to York")
    assert rows["A002"]["status"] == "absent"
