"""The termly compliance summary for leadership: once a term has ended (by the term dates in
the school calendar), what the term looked like. Queued once per term: its dedupe key names
the term, so a repeated pass, a restart or a second server process cannot send it twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import (
    Confiscation,
    CustodyMove,
    CustodyRecord,
    Deposit,
    Notification,
    Pupil,
    PupilException,
    Site,
    Term,
)
from server.notify.outbox import About
from server.notify.recipients import settings_for
from server.notify.to_staff import tell_staff
from server.policy.calendar import local_now
from server.policy.calendar_year import school_days
from server.store import Store

log = logging.getLogger("lockers.server.notify")

# A summary not sent within this long after the term ended (the server was off all holiday,
# or the term dates were typed in late) is not sent: the reports page has it, and a summary
# of a term long gone arriving out of the blue would confuse more than help.
LATE_LIMIT = timedelta(days=21)
HANDOVERS = ("parent_collection", "handed_to_dsl", "handed_to_police")


@dataclass(frozen=True)
class TermFigures:
    """What leadership reviews each term (003: compliance and breaches over a term)."""

    term: str
    starts: date
    ends: date
    school_days: int
    on_roll: int
    handed_in: int  # pupil-days with a deposit
    confiscations: int
    second_devices: int
    held_for_parents: int
    parent_collections: int
    handed_to_dsl: int
    handed_to_police: int
    pupils_with_breaches: int
    pupils_with_repeated_breaches: int
    repeated: int  # the school's number of breaches that means parent collection
    exceptions: dict[str, int]  # category: pupils with an exception during the term
    new_exceptions: int

    @property
    def handed_in_share(self) -> str:
        """Handed-in pupil-days as a share of pupil-days on roll, in words ("87%")."""
        possible = self.on_roll * self.school_days
        return f"{round(100 * self.handed_in / possible)}%" if possible else "no school days"


def ended_term(s: Session, site: Site, now: datetime) -> Term | None:
    """The term whose summary should go now, if any: the last one that has ended (at the
    school's digest time on its last day), not long ago, and not summarised yet."""
    settings = settings_for(s, site.id)
    if not settings.leadership_termly:
        return None
    local = local_now(site, now)
    last_full_day = local.date() - timedelta(days=0 if local.time() >= settings.digest_at
                                             else 1)
    term = s.scalars(select(Term).where(Term.site_id == site.id, Term.ends <= last_full_day)
                     .order_by(Term.ends.desc())).first()
    if term is None or local.date() - term.ends > LATE_LIMIT:
        return None
    queued = s.scalar(select(Notification.id).where(
        Notification.dedupe_key.startswith(f"termly_summary:{site.id}:{term.starts}:")))
    return None if queued else term


def _count(s: Session, query: object) -> int:
    return int(s.scalar(query) or 0)  # type: ignore[call-overload]


def _moves(s: Session, site: Site, starts: date, ends: date) -> Counter[str]:
    tz = ZoneInfo(site.timezone)
    first = datetime.combine(starts, time(0), tz)
    after = datetime.combine(ends + timedelta(days=1), time(0), tz)
    return Counter({move: n for move, n in s.execute(select(CustodyMove.move, func.count()).join(
        CustodyRecord, CustodyRecord.id == CustodyMove.record_id).where(
        CustodyRecord.site_id == site.id, CustodyMove.move.in_(HANDOVERS),
        CustodyMove.at >= first, CustodyMove.at < after).group_by(CustodyMove.move))})


def _breaches(s: Session, site: Site, starts: date, ends: date) -> Counter[int]:
    return Counter({pupil: n for pupil, n in s.execute(select(
        Confiscation.pupil_id, func.count()).where(
        Confiscation.site_id == site.id, Confiscation.day >= starts,
        Confiscation.day <= ends).group_by(Confiscation.pupil_id))})


def _exceptions(s: Session, site: Site, starts: date, ends: date) -> tuple[dict[str, int], int]:
    rows = s.execute(select(PupilException.pupil_id, PupilException.category,
                            PupilException.agreement_date).join(
        Pupil, Pupil.id == PupilException.pupil_id).where(
        Pupil.site_id == site.id, PupilException.starts <= ends,
        PupilException.ends.is_(None) | (PupilException.ends >= starts))).all()
    pupils: dict[str, set[int]] = {}
    for pupil_id, category, _agreed in rows:
        pupils.setdefault(category, set()).add(pupil_id)
    new = sum(1 for _p, _c, agreed in rows if starts <= agreed <= ends)
    return {c: len(p) for c, p in sorted(pupils.items())}, new


def term_figures(s: Session, site: Site, term: Term) -> TermFigures:
    """The term's figures at ``site`` (read-only)."""
    a, b = term.starts, term.ends
    in_term = (Deposit.site_id == site.id, Deposit.day >= a, Deposit.day <= b)
    conf = (Confiscation.site_id == site.id, Confiscation.day >= a, Confiscation.day <= b)
    moves = _moves(s, site, a, b)
    breaches = _breaches(s, site, a, b)
    # "Repeated" is the school's own number of breaches that means parent collection.
    repeated = max(2, site.breaches_before_parent_collection)
    exceptions, new_exceptions = _exceptions(s, site, a, b)
    return TermFigures(
        term=term.name, starts=a, ends=b, school_days=school_days(s, site, a, b),
        on_roll=_count(s, select(func.count()).select_from(Pupil).where(
            Pupil.site_id == site.id, Pupil.archived.is_(False),
            Pupil.leaving_date.is_(None) | (Pupil.leaving_date >= b))),
        handed_in=_count(s, select(func.count()).select_from(
            select(Deposit.pupil_id, Deposit.day).where(*in_term).distinct().subquery())),
        confiscations=_count(s, select(func.count()).select_from(Confiscation).where(*conf)),
        second_devices=_count(s, select(func.count()).select_from(Confiscation).where(
            *conf, Confiscation.second_device.is_(True))),
        held_for_parents=_count(s, select(func.count()).select_from(Confiscation).where(
            *conf, Confiscation.release_mode == "parent_only")),
        parent_collections=moves["parent_collection"],
        handed_to_dsl=moves["handed_to_dsl"], handed_to_police=moves["handed_to_police"],
        pupils_with_breaches=len(breaches),
        pupils_with_repeated_breaches=sum(1 for n in breaches.values() if n >= repeated),
        repeated=repeated,
        exceptions=exceptions, new_exceptions=new_exceptions)


class TermlySummary:
    """Queues the summary of a term just ended for leadership (the watch calls it)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, site_id: int, now: datetime) -> None:
        """Queue the summary at ``site_id`` if a term has just ended and it is not queued."""
        with self.store.write() as s:
            site = s.get(Site, site_id)
            term = ended_term(s, site, now) if site is not None else None
            if site is None or term is None:
                return
            figures = term_figures(s, site, term)
            about = About("termly_summary", "leadership", site.id, "term", str(term.id))
            if tell_staff(s, site, about, key=f"termly_summary:{site.id}:{term.starts}",
                          now=now, f=figures, period=f"{term.starts:%-d %B} to "
                          f"{term.ends:%-d %B %Y}"):
                log.info("event=termly_summary_queued site=%s term=%r ends=%s", site.code,
                         term.name, term.ends)
