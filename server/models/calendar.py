"""The school calendar: terms, and the days that differ from a normal school day."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base

# Kinds of calendar day. A weekday inside a term is a normal school day unless a row says so.
INSET = "inset"
HOLIDAY = "holiday"
EARLY_CLOSING = "early_closing"
SCHOOL_DAY = "school_day"  # e.g. a Saturday open day that is a school day
DAY_KINDS = (INSET, HOLIDAY, EARLY_CLOSING, SCHOOL_DAY)


class Term(Base):
    """A term (or half term) span: school days are the weekdays inside one."""

    __tablename__ = "terms"
    __table_args__ = (UniqueConstraint("site_id", "starts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(100))
    starts: Mapped[date]
    ends: Mapped[date]
    source_uid: Mapped[str | None] = mapped_column(String(255), default=None)  # .ics UID


class CalendarDay(Base):
    """A day that is not a normal school day: INSET, holiday, or early closing."""

    __tablename__ = "calendar_days"
    __table_args__ = (UniqueConstraint("site_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))
    release_opens: Mapped[time | None] = mapped_column(default=None)  # early closing / school day
    release_closes: Mapped[time | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(String(200), default="")
    source_uid: Mapped[str | None] = mapped_column(String(255), default=None)
