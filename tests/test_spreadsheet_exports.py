"""Exports a school can open: the reports' CSVs open right in Excel (a BOM, local times,
names beside references, kiosk names) and no cell is ever run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Browser

from lockers.wire import messages as m
from server.roster import import_roster
from server.spreadsheet import to_csv
from tests.server_kit import MORNING, deposit, wait_until
from tests.test_web_dashboard import browser, sign_in, site  # noqa: F401

NASTY = ["=HYPERLINK(\"http://x.example\",\"click\")", "+44 7700 900123", "-2+3",
         "@SUM(A1:A9)", "\tTabbed", "\rReturned"]


def rows_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_every_cell_a_spreadsheet_would_run_as_a_formula_is_text_and_numbers_stay_numbers(
        ) -> None:
    data = to_csv([{"last_name": v, "breaches": -3} for v in NASTY])
    header, *body = rows_of(data)
    assert header == ["Last name", "Breaches"]
    for (name, breaches), original in zip(body, NASTY, strict=True):
        assert name == "'" + original
        assert breaches == "-3"
    assert b"\r\n" in data


def test_times_are_written_in_the_schools_local_time_on_both_sides_of_the_clock_change(
        ) -> None:
    summer = datetime(2026, 10, 23, 7, 15, tzinfo=UTC)  # 08:15 in London (BST)
    winter = datetime(2026, 11, 2, 8, 15, tzinfo=UTC)  # 08:15 in London (GMT)
    _header, *body = rows_of(to_csv([{"at": summer}, {"at": winter}], "Europe/London"))
    assert body == [["2026-10-23 08:15"], ["2026-11-02 08:15"]]


def test_the_compliance_report_csv_downloaded_from_the_web_opens_as_the_school_expects(
        site: Any, browser: Browser) -> None:  # noqa: F811
    base, rt, kiosk = site
    import_roster(rt.services, "admin", (
        "UPN,Forename,Surname,Year,Reg Group,Card ID\r\n"
        "A001,Amira,O'Neil,9,9X,04A1B2C3D4E501\r\n"
        "A002,Ben,Šimek,9,9X,04A1B2C3D4E502\r\n"
        "A003,Cara,Lee,9,9X,04A1B2C3D4E503\r\n"
        '"X1","@Zoë","=HYPERLINK(""http://x.example"",""click"")",9,-9X,04A1B2C3D4E504\r\n'
    ).encode(), progress=False)
    with rt.store.write() as s:
        from server.models import Kiosk

        s.query(Kiosk).one().name = "North entrance"
    kiosk.publish(m.TapEvent(kiosk="k1", site="north", seq=1, at=MORNING, reader="r1",
                             card=rt.cards["A001"], pupil_ref="A001",
                             outcome=m.TapOutcome.DEPOSIT_OPENED, slot=3))
    kiosk.publish(deposit(kiosk, 2, MORNING + timedelta(minutes=1), "A001", 3))
    wait_until(lambda: rt.services.queries.where_is_phone("A001").slot == 3, 10,
               "the deposit")
    page = browser.new_page()
    sign_in(page, base, "head", "leader pass")
    response = page.request.get(f"{base}/reports/compliance?format=csv")
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    header, *body = rows_of(response.body())
    assert header == ["Pupil", "Reference", "Status", "Phone now", "Locker", "Handed in at",
                      "Collected at", "Why"]
    records = [dict(zip(header, r, strict=True)) for r in body]
    row = {r["Reference"]: r for r in records}
    amira = row["A001"]
    assert (amira["Pupil"], amira["Status"], amira["Phone now"], amira["Locker"]) == (
        "Amira O'Neil (9X)", "Handed in", "Still in locker", "Locker 3, North entrance")
    assert amira["Handed in at"] == "2026-11-23 08:01"  # local time, GMT in November
    assert row["A002"]["Pupil"] == "Ben Šimek (9X)"
    assert row["A002"]["Status"] == "Not handed in"
    # A name a spreadsheet would run as a formula stays text.
    assert row["X1"]["Pupil"] == "'@Zoë =HYPERLINK(\"http://x.example\",\"click\") (-9X)"
