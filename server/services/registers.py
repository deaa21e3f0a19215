"""Recording the registers the compliance report reads: who brings a phone at all, who is
absent today, who is off site. Each is an office action, audited like any other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, select

from server.attendance import OFF_SITE, read_attendance
from server.errors import NotAllowed
from server.models import Absence, OffSite, PhoneRegister, Pupil
from server.models.registers import PHONE_SOURCES
from server.services.context import ServiceContext


@dataclass
class AttendanceImport:
    """What an attendance import recorded, and the lines it could not use."""

    absent: int = 0
    off_site: int = 0
    present: int = 0
    problems: list[str] = field(default_factory=list)


class RegisterServices:
    """The phone register, absences and off-site days (office staff and above)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def record_phone(self, actor: str, pupil_ref: str, brings_phone: bool,
                     source: str = "office", site: str | None = None) -> None:
        """Record whether a pupil brings a phone to school at all."""
        if source not in PHONE_SOURCES:
            raise NotAllowed(f"source must be one of {PHONE_SOURCES}")
        with self.ctx.action(actor, "register.phone") as act:
            pupil = self.ctx.pupil(act.session, pupil_ref, site)
            row = act.session.scalar(select(PhoneRegister).where(
                PhoneRegister.pupil_id == pupil.id))
            if row is None:
                row = PhoneRegister(site_id=pupil.site_id, pupil_id=pupil.id,
                                    brings_phone=brings_phone, source=source,
                                    recorded_by=actor, recorded_at=self.ctx.clock.now())
                act.session.add(row)
            row.brings_phone, row.source, row.recorded_by = brings_phone, source, actor
            row.recorded_at = self.ctx.clock.now()
            act.audit("phone_register", pupil.reference, pupil_ref=pupil.reference,
                      detail={"brings_phone": brings_phone, "source": source})

    def mark_absent(self, actor: str, pupil_ref: str, day: date, code: str = "",
                    site: str | None = None) -> None:
        """The office marks a pupil absent for ``day``."""
        with self.ctx.action(actor, "register.absent") as act:
            pupil = self.ctx.pupil(act.session, pupil_ref, site)
            self._absent(act.session, pupil, day, code, "office", actor)
            act.audit("absence", pupil.reference, pupil_ref=pupil.reference,
                      detail={"day": day, "code": code})

    def mark_off_site(self, actor: str, pupil_ref: str, starts: date, ends: date,
                      reason: str, site: str | None = None) -> None:
        """A pupil is away on school business (a trip, a placement) from ``starts`` to
        ``ends``."""
        if ends < starts:
            raise NotAllowed("the last day off site cannot be before the first")
        with self.ctx.action(actor, "register.off_site") as act:
            pupil = self.ctx.pupil(act.session, pupil_ref, site)
            act.session.add(OffSite(site_id=pupil.site_id, pupil_id=pupil.id, starts=starts,
                                    ends=ends, reason=reason[:200], recorded_by=actor))
            act.audit("off_site", pupil.reference, pupil_ref=pupil.reference, reason=reason,
                      detail={"starts": starts, "ends": ends})

    def import_attendance(self, actor: str, data: bytes, site: str | None = None
                          ) -> AttendanceImport:
        """Import the MIS's attendance export (see :mod:`server.attendance`)."""
        read = read_attendance(data)
        out = AttendanceImport(problems=list(read.problems))
        with self.ctx.action(actor, "register.attendance_import") as act:
            s = act.session
            st = self.ctx.site(s, site)
            pupils = {p.reference: p for p in s.scalars(select(Pupil).where(
                Pupil.site_id == st.id))}
            for line in read.lines:
                pupil = pupils.get(line.reference)
                if pupil is None:
                    out.problems.append(f"line {line.line}: {line.reference} is not on roll "
                                        "here; line skipped (import the roster first)")
                    continue
                s.execute(delete(Absence).where(Absence.pupil_id == pupil.id,
                                                Absence.day == line.day))
                if line.meaning == "absent":
                    self._absent(s, pupil, line.day, line.mark, "attendance_import", actor)
                    out.absent += 1
                elif line.meaning == "off_site":
                    if not s.scalar(select(OffSite.id).where(
                            OffSite.pupil_id == pupil.id, OffSite.starts <= line.day,
                            OffSite.ends >= line.day)):
                        s.add(OffSite(site_id=st.id, pupil_id=pupil.id, starts=line.day,
                                      ends=line.day, reason=OFF_SITE[line.mark],
                                      recorded_by=actor))
                    out.off_site += 1
                else:
                    out.present += 1
            out.problems.sort(key=lambda p: int(p.split(":")[0].removeprefix("line ")))
            act.audit("site", st.code, detail={"absent": out.absent, "off_site": out.off_site,
                                               "present": out.present,
                                               "problems": len(out.problems)})
        return out

    @staticmethod
    def _absent(s: object, pupil: Pupil, day: date, code: str, source: str,
                actor: str) -> None:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        row = s.scalar(select(Absence).where(Absence.pupil_id == pupil.id, Absence.day == day))
        if row is None:
            row = Absence(site_id=pupil.site_id, pupil_id=pupil.id, day=day, code=code,
                          source=source, recorded_by=actor)
            s.add(row)
        row.code, row.source, row.recorded_by = code, source, actor
        s.flush()
