"""Reports and dashboard counters (read-only): today's compliance, breaches over a term,
the morning queue, and audit search. Each returns plain rows the web can show or write as CSV.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, cast, func, or_, select
from sqlalchemy.orm import Session

from server import tenancy
from server.custody.states import HELD
from server.models import (
    AuditEntry,
    Confiscation,
    CustodyRecord,
    Deposit,
    Event,
    Kiosk,
    Pupil,
    PupilException,
    Site,
    Staff,
)
from server.policy.calendar import local_today, term_containing
from server.policy.registers import day_registers
from server.services.context import ServiceContext
from server.services.pupil_names import labels_for


@dataclass(frozen=True)
class TodayCounts:
    """The dashboard's counters for one site and day."""

    day: date
    on_roll: int
    arrived: int  # tapped a card at a kiosk today
    handed_in: int
    late: int
    exempt: int
    held: int
    not_handed_in: int  # expected to hand in today and did not: the only concern
    collected: int
    uncollected: int  # handed in today and still in a locker
    no_phone: int = 0  # does not bring a phone at all
    absent: int = 0
    off_site: int = 0


# The compliance statuses, in the words of the report. Only NOT_HANDED_IN is a concern.
STATUS_WORDS = {"handed_in": "handed in", "late": "handed in late", "exempt": "exempt",
                "no_phone": "no phone", "absent": "absent", "off_site": "off site",
                "not_handed_in": "not handed in"}


class Reports:
    """Questions leadership asks of the records."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _day(self, s: Any, site: str | None, day: date | None) -> tuple[Site, date]:
        st = self.ctx.site(s, site)
        return st, day or local_today(st, self.ctx.clock.now())

    def today(self, site: str | None = None, day: date | None = None) -> TodayCounts:
        """Counters for the dashboard (default: today at the site)."""
        rows = self.compliance(site, day)
        with self.ctx.store.read() as s:
            st, d = self._day(s, site, day)
            kiosk_ids = select(Kiosk.id).where(Kiosk.site_id == st.id)
            tz = ZoneInfo(st.timezone)
            start = datetime.combine(d, time(0), tz)
            arrived = s.scalar(select(func.count(func.distinct(Event.pupil_ref))).where(
                Event.kiosk_id.in_(kiosk_ids), Event.type == "tap",
                Event.at >= start, Event.at < start + timedelta(days=1))) or 0
            held = s.scalar(select(func.count()).select_from(CustodyRecord).where(
                CustodyRecord.site_id == st.id, CustodyRecord.state.in_(HELD))) or 0
        status = Counter(r["status"] for r in rows)
        return TodayCounts(
            d, len(rows), arrived, status["handed_in"] + status["late"], status["late"],
            status["exempt"], held, status["not_handed_in"],
            sum(1 for r in rows if r["collected_at"]),
            sum(1 for r in rows if r["deposited_at"] and not r["collected_at"]),
            status["no_phone"], status["absent"], status["off_site"])

    def compliance(self, site: str | None = None, day: date | None = None
                   ) -> list[dict[str, Any]]:
        """One row per pupil on roll with a status: handed_in or late (a deposit), else
        exempt, absent, off_site or no_phone (not expected at a locker, with the reason),
        else not_handed_in, the only status that is a concern."""
        with self.ctx.store.read() as s:
            st, d = self._day(s, site, day)
            pupils = s.scalars(select(Pupil).where(
                Pupil.site_id == st.id, Pupil.archived.is_(False),
                Pupil.leaving_date.is_(None) | (Pupil.leaving_date >= d))
                               .order_by(Pupil.form, Pupil.last_name, Pupil.first_name)).all()
            deposits: dict[int, Deposit] = {}
            for dep in s.scalars(select(Deposit).where(Deposit.site_id == st.id,
                                                       Deposit.day == d)
                                 .order_by(Deposit.deposited_at)):
                if dep.pupil_id is not None:
                    deposits.setdefault(dep.pupil_id, dep)
            exempt = {pid for (pid,) in s.execute(select(PupilException.pupil_id).where(
                PupilException.revoked_at.is_(None), PupilException.starts <= d,
                or_(PupilException.ends.is_(None), PupilException.ends >= d)))}
            registers = day_registers(s, st, d)
            kiosks = {k.id: k.name or k.code for k in s.scalars(
                select(Kiosk).where(Kiosk.site_id == st.id))}
            out = []
            for p in pupils:
                dep = deposits.get(p.id)
                why = ""
                if dep is not None:
                    status = "late" if dep.late else "handed_in"
                elif p.id in exempt:
                    status = "exempt"
                elif p.id in registers.absent:
                    status, why = "absent", registers.absent[p.id]
                elif p.id in registers.off_site:
                    status, why = "off_site", registers.off_site[p.id]
                elif p.id in registers.no_phone:
                    status = "no_phone"
                else:
                    status = "not_handed_in"
                out.append({"reference": p.reference, "first_name": p.first_name,
                            "last_name": p.last_name, "form": p.form, "status": status,
                            "why": why, "concern": status == "not_handed_in",
                            "deposited_at": dep.deposited_at if dep else None,
                            "collected_at": dep.collected_at if dep else None,
                            "kiosk": kiosks.get(dep.kiosk_id) if dep else None,
                            "slot": dep.slot if dep else None})
            return out

    def uncollected(self, site: str | None = None, day: date | None = None
                    ) -> list[dict[str, Any]]:
        """Devices handed in that day and not collected (for the office at close)."""
        return [r for r in self.compliance(site, day) if r["deposited_at"]
                and not r["collected_at"]]

    def breaches(self, site: str | None = None, day_in_term: date | None = None
                 ) -> list[dict[str, Any]]:
        """Confiscations per pupil over the term containing ``day_in_term`` (default today)."""
        with self.ctx.store.read() as s:
            st, d = self._day(s, site, day_in_term)
            start, end = term_containing(s, st, d)
            rows = s.execute(
                select(Pupil.reference, Pupil.first_name, Pupil.last_name, Pupil.form,
                       func.count(Confiscation.id),
                       func.sum(cast(Confiscation.second_device, Integer)))
                .join(Confiscation, Confiscation.pupil_id == Pupil.id)
                .where(Confiscation.site_id == st.id, Confiscation.day >= start,
                       Confiscation.day <= end)
                .group_by(Pupil.id).order_by(func.count(Confiscation.id).desc())).all()
            return [{"reference": r, "first_name": f, "last_name": last, "form": form,
                     "breaches": n, "second_devices": int(sd or 0), "term_start": start,
                     "term_end": end} for r, f, last, form, n, sd in rows]

    def hand_ins_per_minute(self, site: str | None = None, day: date | None = None,
                            start: time = time(7, 30), end: time = time(9, 30)
                            ) -> list[tuple[str, int]]:
        """Deposits per local minute between ``start`` and ``end`` (the morning queue)."""
        with self.ctx.store.read() as s:
            st, d = self._day(s, site, day)
            tz = ZoneInfo(st.timezone)
            lo, hi = datetime.combine(d, start, tz), datetime.combine(d, end, tz)
            times = s.scalars(select(Deposit.deposited_at).where(
                Deposit.site_id == st.id, Deposit.deposited_at >= lo,
                Deposit.deposited_at < hi)).all()
        counts = Counter(t.astimezone(tz).strftime("%H:%M") for t in times)
        minutes = int((hi - lo).total_seconds() // 60)
        return [((lo + timedelta(minutes=i)).strftime("%H:%M"),
                 counts.get((lo + timedelta(minutes=i)).strftime("%H:%M"), 0))
                for i in range(minutes)]

    @staticmethod
    def _audit_query(pupil_ref: str | None, actor: str | None, action: str | None,
                     since: datetime | None, until: datetime | None) -> Any:
        q = select(AuditEntry)
        if pupil_ref:
            q = q.where(AuditEntry.pupil_ref == pupil_ref)
        if actor:
            q = q.where(AuditEntry.actor.contains(actor))
        if action:
            q = q.where(AuditEntry.action.startswith(action))
        if since:
            q = q.where(AuditEntry.at >= since)
        if until:
            q = q.where(AuditEntry.at < until)
        return q

    @staticmethod
    def _mine(s: Session, q: Any) -> Any:
        """``q`` limited to the audit entries the request's schools may read: the audit log
        has no school column, so the ORM's school filter cannot do it (server/tenancy.py)."""
        mine = tenancy.audit_visible(s)
        return q if mine is None else q.where(mine)

    def audit_search(self, *, pupil_ref: str | None = None, actor: str | None = None,
                     action: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, limit: int | None = 200, offset: int = 0
                     ) -> list[dict[str, Any]]:
        """Audit entries matching every given filter, newest first; ``limit=None`` gives
        every match (exports must never stop short), ``offset`` pages through them."""
        q = self._audit_query(pupil_ref, actor, action, since, until)
        q = q.order_by(AuditEntry.id.desc()).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.ctx.store.read() as s:
            entries = list(s.scalars(self._mine(s, q)))
            names = labels_for(s, (a.pupil_ref for a in entries))
            actors = self._actor_names(s)
            return [{"id": a.id, "at": a.at, "actor": a.actor,
                     "actor_name": actors.get(a.actor, a.actor), "action": a.action,
                     "entity": a.entity, "entity_id": a.entity_id, "pupil_ref": a.pupil_ref,
                     "pupil_name": names.get(a.pupil_ref or ""), "reason": a.reason,
                     "detail": a.detail} for a in entries]

    def audit_count(self, *, pupil_ref: str | None = None, actor: str | None = None,
                    action: str | None = None, since: datetime | None = None,
                    until: datetime | None = None) -> int:
        """How many audit entries match (for the audit page's "page 2 of 7")."""
        q = self._audit_query(pupil_ref, actor, action, since, until)
        with self.ctx.store.read() as s:
            return s.scalar(select(func.count()).select_from(self._mine(s, q).subquery())) or 0

    def audit_actors(self) -> list[tuple[str, str]]:
        """Every actor the audit log names, with their name (the staff filter's choices)."""
        with self.ctx.store.read() as s:
            names = self._actor_names(s)
            return sorted(((a, names.get(a, a)) for a in
                           s.scalars(self._mine(s, select(AuditEntry.actor).distinct()))),
                          key=lambda pair: pair[1].lower())

    @staticmethod
    def _actor_names(s: Any) -> dict[str, str]:
        """Audit actors in words: "staff:office1" is "Olu Office", a kiosk its name."""
        names = {f"staff:{u}": d for u, d in s.execute(select(Staff.username,
                                                               Staff.display_name))}
        names.update({f"kiosk:{sc}/{kc}": f"Kiosk {kn or kc}" for kc, kn, sc in s.execute(
            select(Kiosk.code, Kiosk.name, Site.code).join(Site))})
        return names

    def timezone(self, site: str | None = None) -> str:
        """The site's time zone, for exports written in local time."""
        with self.ctx.store.read() as s:
            return self.ctx.site(s, site).timezone

