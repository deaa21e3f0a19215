"""The school calendar as the kiosks see it: which days are school days, and their window.

A weekday inside a term is a school day with the site's normal release window, unless a
calendar row makes it INSET, a holiday or an early-closing day (DOMAIN rule 2). A site with no
terms yet treats every weekday as a school day, so a fresh install runs the demo.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.wire.messages import ReleaseDay
from server.models import CalendarDay, Site, Term
from server.models.calendar import EARLY_CLOSING, SCHOOL_DAY

DAYS_AHEAD = 7  # a kiosk offline overnight must still know tomorrow (and the weekend after)


def local_now(site: Site, now: datetime) -> datetime:
    """``now`` in the site's time zone."""
    return now.astimezone(ZoneInfo(site.timezone))


def local_today(site: Site, now: datetime) -> date:
    """Today's date at the site."""
    return local_now(site, now).date()


def release_days(session: Session, site: Site, first: date, count: int) -> list[ReleaseDay]:
    """The calendar from ``first`` for ``count`` days, as the kiosk needs it."""
    last = first + timedelta(days=count - 1)
    rows = {r.day: r for r in session.scalars(
        select(CalendarDay).where(CalendarDay.site_id == site.id,
                                  CalendarDay.day >= first, CalendarDay.day <= last))}
    terms = session.scalars(select(Term).where(Term.site_id == site.id)).all()
    have_terms = bool(terms)
    out = []
    for i in range(count):
        day = first + timedelta(days=i)
        row = rows.get(day)
        if row is not None and row.kind in (EARLY_CLOSING, SCHOOL_DAY):
            out.append(ReleaseDay(day=day, school_day=True,
                                  release_opens=row.release_opens or site.release_opens,
                                  release_closes=row.release_closes or site.release_closes))
            continue
        in_term = not have_terms or any(t.starts <= day <= t.ends for t in terms)
        if row is None and day.weekday() < 5 and in_term:
            out.append(ReleaseDay(day=day, school_day=True, release_opens=site.release_opens,
                                  release_closes=site.release_closes))
        else:
            out.append(ReleaseDay(day=day, school_day=False))
    return out


def release_day(session: Session, site: Site, day: date) -> ReleaseDay:
    """One day's entry (school day or not, and its release window)."""
    return release_days(session, site, day, 1)[0]


def kiosk_days(session: Session, site: Site, now: datetime) -> list[ReleaseDay]:
    """Today plus the next :data:`DAYS_AHEAD` days at the site."""
    return release_days(session, site, local_today(site, now), DAYS_AHEAD + 1)


def term_containing(session: Session, site: Site, day: date) -> tuple[date, date]:
    """The term ``day`` falls in; without terms, the school year (1 Sep to 31 Aug)."""
    term = session.scalars(select(Term).where(Term.site_id == site.id, Term.starts <= day,
                                              Term.ends >= day)).first()
    if term is not None:
        return term.starts, term.ends
    start_year = day.year if day.month >= 9 else day.year - 1
    return date(start_year, 9, 1), date(start_year + 1, 8, 31)
