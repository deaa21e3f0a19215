"""Custody: one record per device the school takes charge of, and every move it made."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class CustodyRecord(Base):
    """One device from hand-in to hand-back (DESIGN.md: custody). ``state`` moves only along
    server.custody.states.MOVES; ``kiosk_id``/``slot`` say where it is while in a slot, and
    ``place`` where it is kept while in the office. The only source of which door to open."""

    __tablename__ = "custody_records"
    __table_args__ = (UniqueConstraint("site_id", "custody_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "<kiosk>.<epoch>.<seq>" when a kiosk took the device in, "s<number>" for the office.
    custody_id: Mapped[str] = mapped_column(String(80))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"), index=True)
    pupil_ref: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24), index=True)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"), default=None)
    slot: Mapped[int | None] = mapped_column(default=None)
    place: Mapped[str | None] = mapped_column(String(100), default=None)  # "office safe"
    came_in_at: Mapped[datetime]
    came_in_day: Mapped[date]
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    confiscation_id: Mapped[int | None] = mapped_column(ForeignKey("confiscations.id"),
                                                        default=None)
    # Staff must look at the slot (an emergency opening or a staff opening emptied it while
    # this record says the device is there); cleared by a staff check.
    check_needed: Mapped[str | None] = mapped_column(String(200), default=None)


class CustodyMove(Base):
    """One move of a custody record: who, when, why, from where to where."""

    __tablename__ = "custody_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("custody_records.id"), index=True)
    move: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24), default=None)
    to_state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))  # audit actor: "staff:jsmith", "kiosk:n/k1"
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"), default=None)
    slot: Mapped[int | None] = mapped_column(default=None)
    place: Mapped[str | None] = mapped_column(String(100), default=None)
    command_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # Who collected, relationship, identity check; the event that moved it; and so on.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
