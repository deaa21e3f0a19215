"""The demo school comes in as a real school does: its MIS export and its published term
dates, shipped in launcher/demo_data/, through the roster and calendar imports."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from sqlalchemy import select

from launcher.demo_school import ROSTER, TERM_DATES, make_pupils, seed_school
from server.models import AuditEntry, Pupil, PupilContact


def test_the_demo_school_is_seeded_through_the_roster_and_calendar_imports(
        tmp_path: Path) -> None:
    pupils = make_pupils(250, seed=3)  # the shipped 240 and 10 invented in the same layout
    services, _key = seed_school(f"sqlite:///{tmp_path}/demo.db", pupils, ["k1"], 10,
                                 date(2026, 11, 23), time(15, 0), time(15, 45), tmp_path)
    with services.store.read() as s:
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"roster.import", "calendar.import_ics"} <= actions
        assert s.query(Pupil).count() == 250
        assert s.query(PupilContact).count() > 240  # the export's parents and carers
        names = {(p.first_name, p.last_name) for p in s.scalars(select(Pupil))}
    assert ("Дмитрий", "Иванов") in names
    year = services.calendar.school_year(2026)
    assert [t.name for t in year.terms] == ["Autumn term", "Spring Term 2027", "Summer term"]
    assert year.flags == []
    assert services.calendar.release_window(date(2026, 11, 27)).school_day is False  # INSET
    demo_day = services.calendar.release_window(date(2026, 11, 23))
    assert (demo_day.release_opens, demo_day.release_closes) == (time(15, 0), time(15, 45))


def test_the_shipped_files_import_without_a_single_problem(tmp_path: Path) -> None:
    from server.policy.ics import read_ics
    from server.roster_read import read_roster

    roster = read_roster(ROSTER.read_bytes())
    assert (roster.layout, roster.encoding, len(roster.rows)) == ("Arbor", "UTF-8 with BOM",
                                                                  240)
    calendar = read_ics(TERM_DATES.read_bytes())
    assert calendar.flags == [] and len(calendar.terms) == 3
