"""Who is not expected at a locker today, and why: no phone at all, absent, or off site.

"Brings a phone" comes from the phone register (the home-school agreement, the office, or the
roster); at a school where only pupils with a signed agreement may bring one (004), a pupil
without a current agreement and without a register answer brings none. Absence and off-site
come from the attendance import or the office.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Absence, EligibilityAgreement, OffSite, PhoneRegister, Pupil, Site


@dataclass
class DayRegisters:
    """Pupil ids in each register for one day (with the reason where there is one)."""

    no_phone: set[int] = field(default_factory=set)
    absent: dict[int, str] = field(default_factory=dict)  # pupil id -> attendance code
    off_site: dict[int, str] = field(default_factory=dict)  # pupil id -> reason


def day_registers(s: Session, site: Site, day: date) -> DayRegisters:
    """The registers of ``site`` on ``day``."""
    out = DayRegisters()
    answers = dict(s.execute(select(PhoneRegister.pupil_id, PhoneRegister.brings_phone)
                             .where(PhoneRegister.site_id == site.id)).all())
    out.no_phone = {pid for pid, brings in answers.items() if not brings}
    if site.eligibility_required:
        agreed = set(s.scalars(select(EligibilityAgreement.pupil_id).where(
            EligibilityAgreement.revoked_at.is_(None), EligibilityAgreement.signed_on <= day,
            EligibilityAgreement.expires.is_(None) | (EligibilityAgreement.expires >= day))))
        pupils = s.scalars(select(Pupil.id).where(Pupil.site_id == site.id))
        out.no_phone |= {pid for pid in pupils if pid not in agreed and pid not in answers}
    out.absent = dict(s.execute(select(Absence.pupil_id, Absence.code).where(
        Absence.site_id == site.id, Absence.day == day)).all())
    out.off_site = dict(s.execute(select(OffSite.pupil_id, OffSite.reason).where(
        OffSite.site_id == site.id, OffSite.starts <= day, OffSite.ends >= day)).all())
    return out
