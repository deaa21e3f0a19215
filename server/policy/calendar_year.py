"""The school year as a person checks it: a month grid of days with their window, and the
things in a calendar that are probably mistakes (a term of one day, a term with no school
days, terms that overlap, an early closing outside term)."""

from __future__ import annotations

import calendar as monthcal
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import CalendarDay, Site, Term
from server.models.calendar import EARLY_CLOSING, HOLIDAY, INSET, SCHOOL_DAY
from server.policy.calendar import release_days

SHORT_TERM_DAYS = 5  # fewer school days than this in a term is worth a second look


@dataclass(frozen=True)
class YearDay:
    """One day of the grid: what it is, its window, and why."""

    day: date
    kind: str  # school | early_closing | inset | holiday | weekend | no_term
    opens: time | None
    closes: time | None
    note: str
    by_hand: bool  # corrected by a person (not from an .ics import)

    @property
    def words(self) -> str:
        """The day in words, for the grid's tooltip and screen readers."""
        window = (f" · collect {self.opens:%H:%M}–{self.closes:%H:%M}"
                  if self.opens and self.closes else "")
        label = {"school": "school day", "early_closing": "early closing", "inset": "INSET",
                 "holiday": "closed", "weekend": "weekend", "no_term": "not in term"}
        return f"{self.day:%a %d %b}: {label[self.kind]}{window}" + (
            f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Month:
    """A month of the grid: weeks Monday to Sunday, None outside the month."""

    first: date
    weeks: list[list[YearDay | None]]


def school_year_start(day: date) -> int:
    """The calendar year the school year containing ``day`` starts in (September)."""
    return day.year if day.month >= 9 else day.year - 1


def year_grid(s: Session, site: Site, start_year: int) -> list[Month]:
    """September ``start_year`` to August the year after, every day with its window."""
    first = date(start_year, 9, 1)
    count = (date(start_year + 1, 9, 1) - first).days
    entries = release_days(s, site, first, count)
    rows = {r.day: r for r in s.scalars(select(CalendarDay).where(
        CalendarDay.site_id == site.id, CalendarDay.day >= first,
        CalendarDay.day < date(start_year + 1, 9, 1)))}
    days: dict[date, YearDay] = {}
    for entry in entries:
        row = rows.get(entry.day)
        if entry.school_day:
            kind = "early_closing" if row and row.kind == EARLY_CLOSING else "school"
        elif row is not None and row.kind in (INSET, HOLIDAY):
            kind = "inset" if row.kind == INSET else "holiday"
        else:
            kind = "weekend" if entry.day.weekday() >= 5 else "no_term"
        days[entry.day] = YearDay(entry.day, kind, entry.release_opens, entry.release_closes,
                                  row.note if row else "",
                                  bool(row and row.source_uid is None))
    months = []
    for offset in range(12):
        year, month = (start_year, 9 + offset) if offset < 4 else (start_year + 1, offset - 3)
        weeks = [[days.get(d) if d.month == month else None for d in week]
                 for week in monthcal.Calendar().monthdatescalendar(year, month)]
        months.append(Month(date(year, month, 1), weeks))
    return months


def implausible(s: Session, site: Site) -> list[str]:
    """What in the site's calendar is probably a mistake, each in words with what to do."""
    flags = []
    terms = s.scalars(select(Term).where(Term.site_id == site.id).order_by(Term.starts)).all()
    for term in terms:
        span = (term.ends - term.starts).days + 1
        school = sum(1 for d in release_days(s, site, term.starts, span) if d.school_day)
        when = f"'{term.name}' ({term.starts:%d %b %Y} to {term.ends:%d %b %Y})"
        if span == 1:
            flags.append(f"{when} is a term of one day: was a 'term starts' event read "
                         "without its 'term ends'? Correct the term's end date")
        elif school == 0:
            flags.append(f"{when} has no school days: check its dates and closures")
        elif school < SHORT_TERM_DAYS:
            flags.append(f"{when} has only {school} school days: check its dates")
    for a, b in zip(terms, terms[1:], strict=False):
        if b.starts <= a.ends:
            flags.append(f"'{a.name}' and '{b.name}' overlap ({b.starts:%d %b %Y} to "
                         f"{min(a.ends, b.ends):%d %b %Y}): correct one of them")
    if terms:
        for row in s.scalars(select(CalendarDay).where(
                CalendarDay.site_id == site.id,
                CalendarDay.kind.in_((EARLY_CLOSING, SCHOOL_DAY)))):
            if not any(t.starts <= row.day <= t.ends for t in terms):
                flags.append(f"{row.day:%a %d %b %Y} is an early closing or school day "
                             "outside every term: is the date right?")
    return flags


def school_days(s: Session, site: Site, first: date, last: date) -> int:
    """How many school days from ``first`` to ``last`` inclusive."""
    return sum(1 for d in release_days(s, site, first, (last - first).days + 1)
               if d.school_day)


__all__ = ["Month", "YearDay", "implausible", "school_days", "school_year_start", "year_grid"]
