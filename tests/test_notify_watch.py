"""What the office and leadership hear without anyone pressing a button: devices left in
school overnight or held N school days (from the custody records), leadership's daily digest
on school days only, and the termly compliance summary once per term. The school calendar
decides what a school day is; the fake clock walks through the weeks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lockers.wire import messages as m
from server.models import Kiosk, Notification
from server.notify.watch import Watch
from server.services import Services
from tests.notify_kit import MAILBOXES, school
from tests.server_kit import MORNING, deposit, server_and_kiosk, wait_until

pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with school(tmp_path) as svc:
        yield svc


def at(services: Services, when: datetime) -> Watch:
    """Move the fake clock to ``when`` (UTC; London is on GMT in winter), run one pass."""
    clock = services.clock
    clock.advance((when - clock.now()).total_seconds())  # type: ignore[attr-defined]
    watch = Watch(services.store, clock)
    watch(clock.now())
    return watch


def queued(services: Services, kind: str) -> list[Notification]:
    with services.store.read() as s:
        return list(s.scalars(select(Notification).where(Notification.kind == kind)
                              .order_by(Notification.id)))


# --- the office: left overnight, held N school days ------------------------------------


def test_office_hears_once_when_a_held_device_reaches_the_schools_number_of_school_days(
        services: Services) -> None:
    services.notifications.change_settings("admin", "north", office_when_held_days=2)
    services.calendar.set_day("admin", date(2026, 11, 30), "inset", note="training day")
    at(services, datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # Friday
    held = services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    at(services, datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # Monday: INSET, not a school day
    at(services, datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # Tuesday: 1 school day held
    assert queued(services, "held_too_long") == []
    at(services, datetime(2026, 12, 2, 9, 0, tzinfo=UTC))  # Wednesday: 2 school days
    at(services, datetime(2026, 12, 3, 9, 0, tzinfo=UTC))  # and the next day, a new process
    [told] = queued(services, "held_too_long")
    assert (told.entity, told.entity_id) == ("custody", held.custody_id)
    assert told.recipient == "office@north.example"
    assert told.subject == "Held 2 school days: Amira's device (A001)"


def test_a_device_given_back_before_the_limit_never_alerts_the_office(
        services: Services) -> None:
    services.notifications.change_settings("admin", "north", office_when_held_days=1)
    held = services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    services.confiscations.record_parent_collection(
        "office1", held.id, "Mrs O'Neil", "mother", "photo ID")
    at(services, datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    assert queued(services, "held_too_long") == queued(services, "left_overnight") == []


def test_office_hears_of_a_phone_handed_in_at_the_office_left_overnight_once(
        services: Services) -> None:
    view = services.custody.hand_in_at_office("office1", "A002", "office drawer")
    at(services, datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # before close: nothing yet
    assert queued(services, "left_overnight") == []
    at(services, datetime(2026, 11, 23, 18, 0, tzinfo=UTC))  # after the window closed
    at(services, datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    [told] = queued(services, "left_overnight")
    assert told.entity_id == view.custody_id
    assert "handed in on Monday 23 November" in told.body_text
    assert "Where: office drawer" in told.body_text
    assert queued(services, "held_too_long") == []  # not held: the pupil collects it


def test_the_school_can_switch_the_overnight_alert_off(services: Services) -> None:
    services.notifications.change_settings("admin", "north", office_when_overnight=False)
    services.custody.hand_in_at_office("office1", "A002", "office drawer")
    at(services, datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    assert queued(services, "left_overnight") == []


# --- leadership: the daily digest -------------------------------------------------------


def test_leadership_digest_goes_after_close_on_school_days_only(services: Services) -> None:
    services.calendar.add_term("admin", "Autumn term", date(2026, 9, 2), date(2026, 12, 18))
    services.calendar.set_day("admin", date(2026, 11, 24), "inset", note="training day")
    at(services, datetime(2026, 11, 23, 16, 59, tzinfo=UTC))  # Monday, before digest time
    assert queued(services, "daily_digest") == []
    for when in (datetime(2026, 11, 23, 17, 1, tzinfo=UTC),  # Monday
                 datetime(2026, 11, 23, 21, 0, tzinfo=UTC),  # Monday again: not twice
                 datetime(2026, 11, 24, 17, 1, tzinfo=UTC),  # Tuesday: INSET
                 datetime(2026, 11, 25, 17, 1, tzinfo=UTC),  # Wednesday
                 datetime(2026, 11, 28, 17, 1, tzinfo=UTC),  # Saturday
                 datetime(2026, 12, 21, 17, 1, tzinfo=UTC)):  # Monday in the holiday
        at(services, when)
    days = [n.subject for n in queued(services, "daily_digest")]
    assert days == ["Phone lockers today: Monday 23 November 2026",
                    "Phone lockers today: Wednesday 25 November 2026"]


def test_leadership_digest_counts_the_day_and_names_what_needs_looking_at(
        services: Services) -> None:
    services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    at(services, datetime(2026, 11, 23, 17, 5, tzinfo=UTC))
    [digest] = queued(services, "daily_digest")
    assert digest.recipient == "head@north.example"
    for line in ("Pupils on roll:             3", "Confiscated today:          1",
                 "Devices held now:           1", "Not handed in:              3",
                 "Open alarms:                0", "Kiosks offline:             1 of 1 (k1)"):
        assert line in digest.body_text, digest.body_text
    assert "Amira" not in digest.body_text  # figures, not names


def test_leadership_digest_counts_what_the_kiosks_reported_and_lists_open_alarms(
        tmp_path: Path, broker_factory: Any) -> None:
    with server_and_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        rt.services.notifications.change_settings("admin", "north", **MAILBOXES)
        kiosk.publish(m.KioskStatus(kiosk="k1", site="north", state="online", reason="birth",
                                    at=MORNING, software="1.0", policy_version=1))
        kiosk.publish(deposit(kiosk, 1, MORNING, "A001", 3))
        kiosk.publish(deposit(kiosk, 2, MORNING + timedelta(minutes=1), "A002", 4))
        kiosk.publish(m.AlarmEvent(kiosk="k1", site="north", seq=3,
                                   at=MORNING + timedelta(minutes=2),
                                   alarm=m.AlarmKind.DOOR_LEFT_OPEN, state="raised", slot=4))
        kiosk.wait_for(lambda k: {1, 2, 3} <= k.acked, what="the kiosk's events applied")

        def online() -> bool:
            with rt.store.read() as s:
                return bool(s.scalar(select(Kiosk.online)))

        wait_until(online, 10, "the kiosk online")
        at(rt.services, datetime(2026, 11, 23, 17, 5, tzinfo=UTC))
        [digest] = queued(rt.services, "daily_digest")
    for line in ("Handed in:                  2", "Not collected at close:     2",
                 "Open alarms:                1", "Kiosks offline:             0 of 1",
                 "  - k1: door left open, locker 4"):
        assert line in digest.body_text, digest.body_text


# --- leadership: the termly summary -----------------------------------------------------


def test_termly_summary_goes_once_when_the_term_has_ended(services: Services) -> None:
    services.calendar.add_term("admin", "Autumn term", date(2026, 9, 2), date(2026, 11, 24))
    services.calendar.add_term("admin", "Spring term", date(2027, 1, 5), date(2027, 3, 26))
    services.confiscations.confiscate("office1", "A001", "filming", serious=True)
    at(services, datetime(2026, 11, 24, 16, 0, tzinfo=UTC))  # last day, before digest time
    assert queued(services, "termly_summary") == []
    for when in (datetime(2026, 11, 24, 17, 5, tzinfo=UTC),
                 datetime(2026, 11, 25, 9, 0, tzinfo=UTC),  # a later pass, a new process
                 datetime(2026, 12, 1, 9, 0, tzinfo=UTC)):
        at(services, when)
    [summary] = queued(services, "termly_summary")
    assert summary.subject == "Phone lockers: summary of Autumn term"
    assert summary.recipient == "head@north.example"
    assert "2 September to 24 November 2026" in summary.body_text
    assert "Confiscations:                        1" in summary.body_text
    assert "Amira" not in summary.body_text and "A001" not in summary.body_text


def test_no_summary_of_a_term_long_gone_nor_when_the_school_switched_it_off(
        services: Services) -> None:
    services.calendar.add_term("admin", "Summer term", date(2026, 4, 20), date(2026, 7, 22))
    at(services, datetime(2026, 11, 23, 17, 5, tzinfo=UTC))  # months later: a new install
    assert queued(services, "termly_summary") == []
    services.notifications.change_settings("admin", "north", leadership_termly=False)
    services.calendar.add_term("admin", "Autumn term", date(2026, 9, 2), date(2026, 11, 24))
    at(services, datetime(2026, 11, 24, 17, 5, tzinfo=UTC))
    assert queued(services, "termly_summary") == []
