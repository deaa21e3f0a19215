"""Groups of pupils and their own collection windows: a year group, or a named group such as
an after-school club, whose members collect at their own time on chosen days."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class PupilGroup(Base):
    """A group: a whole year group (``year_group`` set: its members are the pupils on roll in
    that year) or a named group with listed members."""

    __tablename__ = "pupil_groups"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(100))
    year_group: Mapped[str | None] = mapped_column(String(16), default=None)


class GroupMember(Base):
    """A pupil in a named group."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "pupil_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("pupil_groups.id"), index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"))


class GroupWindow(Base):
    """A group's collection window on chosen weekdays (``weekdays`` like "0,2": Monday is 0),
    optionally only between two dates. On those school days it replaces the school's window
    for the group's members."""

    __tablename__ = "group_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("pupil_groups.id"), index=True)
    weekdays: Mapped[str] = mapped_column(String(13))
    opens: Mapped[time]
    closes: Mapped[time]
    starts: Mapped[date | None] = mapped_column(default=None)
    ends: Mapped[date | None] = mapped_column(default=None)
