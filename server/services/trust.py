"""The trust overview: every school a trust role may see, side by side.

One grouped query per figure for all schools at once (not one page's worth of queries per
school), so 50 schools answer as quickly as a few: bench/trust_overview.py measures it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import tenancy
from server.custody.states import HELD, IN_A_SLOT
from server.models import Confiscation, CustodyRecord, Deposit, Kiosk, Pupil, Site, Term
from server.policy.calendar import local_today
from server.services.context import ServiceContext


@dataclass(frozen=True)
class SchoolFigures:
    """One school's row of the trust overview."""

    code: str
    name: str
    day: date
    in_lockers: int  # devices in a kiosk slot now (held ones too)
    handed_in_today: int  # pupils who handed in today
    on_roll: int
    held: int  # confiscated devices still held
    breaches_this_term: int  # confiscations since the term began
    kiosks: int
    kiosks_offline: int

    @property
    def handed_in_percent(self) -> int:
        """Handed in today as a whole percentage of the roll (0 with no roll)."""
        return round(100 * self.handed_in_today / self.on_roll) if self.on_roll else 0


def _by_site(rows: Iterable[tuple[int, int]]) -> dict[int, int]:
    return {site_id: int(n or 0) for site_id, n in rows}


class TrustOverview:
    """Figures for every school the signed-in person belongs to."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def schools(self) -> list[SchoolFigures]:
        """One row per school in the request's trust scope (every school outside a
        request), ordered by name."""
        now = self.ctx.clock.now()
        with tenancy.whole_trust(), self.ctx.store.read() as s:
            sites = s.scalars(select(Site).order_by(Site.name, Site.code)).all()
            today = {st.id: local_today(st, now) for st in sites}
            count = func.count()
            in_lockers = _by_site(s.execute(
                select(CustodyRecord.site_id, count).where(CustodyRecord.state.in_(IN_A_SLOT))
                .group_by(CustodyRecord.site_id)))
            held = _by_site(s.execute(
                select(CustodyRecord.site_id, count).where(CustodyRecord.state.in_(HELD))
                .group_by(CustodyRecord.site_id)))
            on_roll = _by_site(s.execute(
                select(Pupil.site_id, count).where(Pupil.archived.is_(False))
                .group_by(Pupil.site_id)))
            days = set(today.values())
            handed = {(sid, d): int(n) for sid, d, n in s.execute(
                select(Deposit.site_id, Deposit.day, func.count(func.distinct(Deposit.pupil_id)))
                .where(Deposit.day.in_(days)).group_by(Deposit.site_id, Deposit.day))}
            kiosks = _by_site(s.execute(select(Kiosk.site_id, count)
                                           .group_by(Kiosk.site_id)))
            offline = _by_site(s.execute(select(Kiosk.site_id, count).where(
                Kiosk.online.is_(False)).group_by(Kiosk.site_id)))
            breaches = self._breaches(s, sites, today)
            return [SchoolFigures(
                st.code, st.name, today[st.id], in_lockers.get(st.id, 0),
                handed.get((st.id, today[st.id]), 0), on_roll.get(st.id, 0),
                held.get(st.id, 0), breaches.get(st.id, 0), kiosks.get(st.id, 0),
                offline.get(st.id, 0)) for st in sites]

    @staticmethod
    def _breaches(s: Session, sites: list[Site], today: dict[int, date]) -> dict[int, int]:
        """Confiscations since each school's term began (as Reports.breaches: the term
        containing today, or the school year where no term is set)."""
        starts: dict[int, date] = {}
        for site_id, first, last in s.execute(select(Term.site_id, Term.starts, Term.ends)
                                              ):
            if site_id in today and first <= today[site_id] <= last:
                starts[site_id] = first
        for st in sites:
            d = today[st.id]
            starts.setdefault(st.id, date(d.year if d.month >= 9 else d.year - 1, 9, 1))
        out: dict[int, int] = {}
        if not starts:
            return out
        for site_id, day, n in s.execute(
                select(Confiscation.site_id, Confiscation.day, func.count())
                .where(Confiscation.day >= min(starts.values()))
                .group_by(Confiscation.site_id, Confiscation.day)):
            if starts[site_id] <= day <= today[site_id]:
                out[site_id] = out.get(site_id, 0) + int(n)
        return out
