"""Editing the school calendar: terms, INSET days, holidays, early closing, .ics import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import delete, select

from lockers.wire.messages import ReleaseDay
from server.errors import NotAllowed
from server.models import CalendarDay, Term
from server.models.calendar import DAY_KINDS
from server.policy.calendar import kiosk_days, local_today, release_day
from server.policy.calendar_year import (
    Month,
    implausible,
    school_days,
    school_year_start,
    year_grid,
)
from server.policy.ics import read_ics
from server.services.context import LEADERSHIP, ServiceContext


@dataclass(frozen=True)
class ImportedTerm:
    """A term as the import left it, with how many school days it has."""

    name: str
    starts: date
    ends: date
    school_days: int


@dataclass(frozen=True)
class IcsImport:
    """What an .ics import changed, for a result page in words."""

    terms: list[ImportedTerm]
    days: int  # calendar days set (INSET, closures, early closings)
    by_kind: dict[str, int]
    early_closings: list[tuple[date, time | None, time | None]]
    skipped: list[str]
    flags: list[str]  # what looks wrong, in the file or in the calendar it made


@dataclass(frozen=True)
class SchoolYear:
    """The calendar page: the year's months, its terms, and what looks wrong."""

    start_year: int
    months: list[Month]
    terms: list[ImportedTerm]
    flags: list[str]


class CalendarServices:
    """Calendar changes (leadership/admin); each republishes the kiosks' days at once."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def add_term(self, actor: str, name: str, starts: date, ends: date,
                 site: str | None = None) -> int:
        """Add (or move) a term; school days are the weekdays inside terms."""
        if ends < starts:
            raise NotAllowed("a term cannot end before it starts")
        with self.ctx.action(actor, "calendar.term", roles=LEADERSHIP) as act:
            st = self.ctx.site(act.session, site)
            row = act.session.scalar(select(Term).where(Term.site_id == st.id,
                                                        Term.starts == starts))
            if row is None:
                row = Term(site_id=st.id, name=name, starts=starts, ends=ends)
                act.session.add(row)
            row.name, row.ends = name, ends
            act.session.flush()
            act.audit("term", row.id, detail={"name": name, "starts": starts, "ends": ends})
            act.touch(st.id)
            return row.id

    def set_day(self, actor: str, day: date, kind: str, *, opens: time | None = None,
                closes: time | None = None, note: str = "", site: str | None = None) -> None:
        """Mark a day as INSET, holiday, early closing (with its window) or school day."""
        if kind not in DAY_KINDS:
            raise NotAllowed(f"kind must be one of {DAY_KINDS}")
        if opens and closes and closes <= opens:
            raise NotAllowed("the release window must close after it opens")
        with self.ctx.action(actor, "calendar.day", roles=LEADERSHIP) as act:
            st = self.ctx.site(act.session, site)
            self._upsert_day(act.session, st.id, day, kind, opens, closes, note, None)
            act.audit("calendar_day", day.isoformat(), reason=note,
                      detail={"kind": kind, "opens": opens, "closes": closes})
            act.touch(st.id)

    def clear_day(self, actor: str, day: date, reason: str, site: str | None = None) -> None:
        """Make a day normal again."""
        with self.ctx.action(actor, "calendar.clear_day", roles=LEADERSHIP) as act:
            st = self.ctx.site(act.session, site)
            act.session.execute(delete(CalendarDay).where(CalendarDay.site_id == st.id,
                                                          CalendarDay.day == day))
            act.audit("calendar_day", day.isoformat(), reason=reason)
            act.touch(st.id)

    def import_ics(self, actor: str, data: bytes, site: str | None = None) -> IcsImport:
        """Import a school's .ics of term dates (re-import updates, never duplicates)."""
        days = 0
        by_kind: dict[str, int] = {}
        early: list[tuple[date, time | None, time | None]] = []
        with self.ctx.action(actor, "calendar.import_ics", roles=LEADERSHIP) as act:
            s = act.session
            st = self.ctx.site(s, site)
            read = read_ics(data, st.timezone)
            for term in read.terms:
                row = s.scalar(select(Term).where(Term.site_id == st.id,
                                                  Term.source_uid == term.uid)) \
                    or s.scalar(select(Term).where(Term.site_id == st.id,
                                                   Term.starts == term.first))
                if row is None:
                    row = Term(site_id=st.id, name=term.name, starts=term.first,
                               ends=term.last)
                    s.add(row)
                row.name, row.starts, row.ends, row.source_uid = (term.name, term.first,
                                                                  term.last, term.uid)
                s.flush()
            for item in read.days:
                day = item.first
                while day <= item.last:
                    self._upsert_day(s, st.id, day, item.kind, item.opens, item.closes,
                                     item.name[:200], item.uid)
                    days += 1
                    by_kind[item.kind] = by_kind.get(item.kind, 0) + 1
                    if item.kind == "early_closing":
                        early.append((day, item.opens, item.closes))
                    day += timedelta(days=1)
            terms = [ImportedTerm(t.name, t.first, t.last,
                                  school_days(s, st, t.first, t.last)) for t in read.terms]
            flags = read.flags + implausible(s, st)
            act.audit("site", st.code, detail={"terms": len(terms), "days": days,
                                               "skipped": read.skipped, "flags": flags})
            act.touch(st.id)
        return IcsImport(sorted(terms, key=lambda t: t.starts), days, by_kind,
                         sorted(early), read.skipped, flags)

    def school_year(self, start_year: int | None = None, site: str | None = None
                    ) -> SchoolYear:
        """The school year (default: the current one) as the calendar page shows it."""
        with self.ctx.store.read() as s:
            st = self.ctx.site(s, site)
            year = start_year or school_year_start(local_today(st, self.ctx.clock.now()))
            first, last = date(year, 9, 1), date(year + 1, 8, 31)
            terms = [ImportedTerm(t.name, t.starts, t.ends,
                                  school_days(s, st, t.starts, t.ends))
                     for t in s.scalars(select(Term).where(
                         Term.site_id == st.id, Term.ends >= first, Term.starts <= last)
                         .order_by(Term.starts))]
            return SchoolYear(year, year_grid(s, st, year), terms, implausible(s, st))

    def release_window(self, day: date | None = None, site: str | None = None) -> ReleaseDay:
        """A day's entry (default today at the site): school day or not, release window."""
        with self.ctx.store.read() as s:
            st = self.ctx.site(s, site)
            if day is None:
                return kiosk_days(s, st, self.ctx.clock.now())[0]
            return release_day(s, st, day)

    @staticmethod
    def _upsert_day(s: object, site_id: int, day: date, kind: str, opens: time | None,
                    closes: time | None, note: str, uid: str | None) -> None:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        row = s.scalar(select(CalendarDay).where(CalendarDay.site_id == site_id,
                                                 CalendarDay.day == day))
        if row is None:
            row = CalendarDay(site_id=site_id, day=day, kind=kind)
            s.add(row)
        row.kind, row.release_opens, row.release_closes = kind, opens, closes
        row.note, row.source_uid = note, uid
        s.flush()
