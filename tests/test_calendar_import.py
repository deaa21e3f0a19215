"""A school's published term dates (.ics) become the kiosks' calendar: terms from whole-term
events and from "term starts"/"term ends" pairs, INSET days, closures and early closings,
with the collection window at the same local time on every school day of the year, on both
sides of both clock changes, as the kiosk's own replica decides it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from locker_controller.replica import PolicyReplica
from locker_controller.store import KioskStore
from lockers.wire import messages as m
from server.migrate import upgrade
from server.services import Services
from server.store import Store
from tests.server_kit import database_url, make_clock, seed

pytestmark = pytest.mark.usefixtures("each_database")

ICS = (Path(__file__).resolve().parents[1] / "launcher" / "demo_data"
       / "term-dates-2026-27.ics").read_bytes()
LONDON = ZoneInfo("Europe/London")
NORMAL = (time(15, 10), time(16, 30))  # the site's usual window (tests/server_kit.seed)

# What the school's website says, written out by hand: (first, last, what).
TERMS = [(date(2026, 9, 3), date(2026, 12, 18)), (date(2027, 1, 4), date(2027, 3, 25)),
         (date(2027, 4, 12), date(2027, 7, 21))]
CLOSED = [(date(2026, 9, 3), date(2026, 9, 3)), (date(2026, 10, 26), date(2026, 10, 30)),
          (date(2026, 11, 27), date(2026, 11, 27)), (date(2026, 12, 19), date(2027, 1, 4)),
          (date(2027, 2, 15), date(2027, 2, 19)), (date(2027, 3, 26), date(2027, 4, 9)),
          (date(2027, 5, 3), date(2027, 5, 3)), (date(2027, 5, 31), date(2027, 6, 4)),
          (date(2027, 6, 7), date(2027, 6, 7))]
EARLY = {date(2026, 12, 18): (time(13, 30), time(14, 30)),
         date(2027, 3, 25): (time(13, 30), time(14, 30)),  # written in UTC, in GMT
         date(2027, 5, 21): (time(14, 0), time(15, 0)),  # written in UTC, in BST
         date(2027, 7, 21): (time(13, 30), time(16, 30))}  # "closes at 1.30pm" in a title


def expected(day: date) -> tuple[time, time] | None:
    """The window the school's published dates give ``day`` (None: no school)."""
    if day in EARLY:
        return EARLY[day]
    if day.weekday() >= 5 or not any(a <= day <= b for a, b in TERMS):
        return None
    if any(a <= day <= b for a, b in CLOSED):
        return None
    return NORMAL


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    url = database_url(tmp_path)
    upgrade(url)
    store = Store(url)
    svc = Services(store, make_clock())
    seed(svc)
    yield svc
    store.dispose()


def kiosk_replica(tmp_path: Path, days: list[m.ReleaseDay]) -> PolicyReplica:
    replica = PolicyReplica(KioskStore(tmp_path / "kiosk.db"), "north", "k1")
    assert replica.apply_snapshot(m.PolicySnapshot(
        kiosk="k1", site="north", version=1, generated_at=datetime(2026, 9, 1, tzinfo=UTC),
        settings=m.KioskSettings(), days=days, cards=[]))
    return replica


def test_every_day_of_the_school_year_has_the_published_window_at_the_kiosk_in_local_time(
        services: Services, tmp_path: Path) -> None:
    result = services.calendar.import_ics("head", ICS)
    assert [(t.starts, t.ends) for t in result.terms] == TERMS
    assert result.flags == []
    first, last = date(2026, 9, 1), date(2027, 8, 31)
    days = []
    day = first
    while day <= last:
        entry = services.calendar.release_window(day)
        want = expected(day)
        got = (entry.release_opens, entry.release_closes) if entry.school_day else None
        assert got == want, f"{day:%a %d %b %Y}: the calendar gives {got}, the school {want}"
        days.append(entry)
        day += timedelta(days=1)
    assert sum(1 for d in days if d.school_day) == 70 + 53 + 66  # counted on a wall calendar
    replica = kiosk_replica(tmp_path, days)
    for entry in days:
        if not entry.school_day:
            continue
        assert entry.release_opens is not None
        opens = datetime.combine(entry.day, entry.release_opens, LONDON)
        assert not replica.release_open(opens - timedelta(minutes=1)), entry.day
        assert replica.release_open(opens + timedelta(minutes=1)), entry.day
    # Either side of each clock change the window opens at 15:10 in London, which is an
    # hour apart in UTC: the kiosk follows the school's clock, not the server's.
    for before, after in ((date(2026, 10, 23), date(2026, 11, 2)),
                          (date(2027, 3, 24), date(2027, 4, 12))):
        utc = [datetime.combine(d, NORMAL[0], LONDON).astimezone(UTC).hour
               for d in (before, after)]
        assert abs(utc[0] - utc[1]) == 1
        for d in (before, after):
            at = datetime.combine(d, NORMAL[0], LONDON).astimezone(UTC)
            assert replica.release_open(at + timedelta(minutes=1))
            assert not replica.release_open(at - timedelta(minutes=1))


def test_term_starts_and_term_ends_events_make_one_term_each_and_reimporting_changes_nothing(
        services: Services) -> None:
    services.calendar.import_ics("head", ICS)
    again = services.calendar.import_ics("head", ICS)
    year = services.calendar.school_year(2026)
    assert [(t.name, t.starts, t.ends) for t in year.terms] == [
        ("Autumn term", date(2026, 9, 3), date(2026, 12, 18)),
        ("Spring Term 2027", date(2027, 1, 4), date(2027, 3, 25)),
        ("Summer term", date(2027, 4, 12), date(2027, 7, 21))]
    assert [t.school_days for t in again.terms] == [70, 53, 66]
    assert again.skipped == ["Year 7 parents' evening", "Sports day"]
    assert year.flags == []


ODD = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Somewhere//EN\r
BEGIN:VEVENT\r
UID:a@x\r
SUMMARY:Autumn Term\r
DTSTART;VALUE=DATE:20260903\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:b@x\r
SUMMARY:Spring term starts\r
DTSTART;VALUE=DATE:20270104\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:c@x\r
SUMMARY:Summer Term 2027\r
DTSTART;VALUE=DATE:20270731\r
DTEND;VALUE=DATE:20270802\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_an_import_that_makes_an_implausible_calendar_says_what_to_check(
        services: Services) -> None:
    result = services.calendar.import_ics("head", ODD)
    text = "\n".join(result.flags)
    assert "'Spring term starts' on Mon 04 Jan 2027 has no matching end of term" in text
    assert "'Autumn Term' (03 Sep 2026 to 03 Sep 2026) is a term of one day" in text
    assert "'Summer Term 2027' (31 Jul 2027 to 01 Aug 2027) has no school days" in text


def test_a_file_that_is_not_a_calendar_is_refused_with_what_to_do(services: Services) -> None:
    from server.errors import ServerError

    with pytest.raises(ServerError, match="download the term dates again"):
        services.calendar.import_ics("head", b"UPN,Forename\nA1,Sam\n")
