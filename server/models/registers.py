"""Registers that make the compliance figure honest: who brings a phone at all, who is absent
today, who is off site. A pupil in one of these is not "not handed in"."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base

# Where a "brings a phone" answer came from.
PHONE_SOURCES = ("home_school_agreement", "office", "roster")


class PhoneRegister(Base):
    """Whether a pupil brings a phone to school at all (one answer per pupil, the newest)."""

    __tablename__ = "phone_register"
    __table_args__ = (UniqueConstraint("pupil_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"))
    brings_phone: Mapped[bool]
    source: Mapped[str] = mapped_column(String(32))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]


class Absence(Base):
    """A pupil absent for the day (from the MIS attendance export, or marked by the office)."""

    __tablename__ = "absences"
    __table_args__ = (UniqueConstraint("pupil_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"))
    day: Mapped[date] = mapped_column(index=True)
    code: Mapped[str] = mapped_column(String(8), default="")  # the MIS's attendance code
    source: Mapped[str] = mapped_column(String(32))  # attendance_import | office
    recorded_by: Mapped[str] = mapped_column(String(100))


class OffSite(Base):
    """A pupil away from school on given days: a trip, a work placement, alternative provision."""

    __tablename__ = "off_site"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    starts: Mapped[date]
    ends: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(100))
