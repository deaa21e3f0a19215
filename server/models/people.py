"""Pupils, their cards, and staff accounts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base


class Pupil(Base):
    """A pupil on roll (or archived after leaving: never deleted, the records stay)."""

    __tablename__ = "pupils"
    __table_args__ = (UniqueConstraint("site_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    reference: Mapped[str] = mapped_column(String(64))  # UPN or MIS id
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    year_group: Mapped[str | None] = mapped_column(String(16), default=None)
    form: Mapped[str | None] = mapped_column(String(32), default=None)
    archived: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)
    leaving_date: Mapped[date | None] = mapped_column(default=None)  # from the MIS export

    cards: Mapped[list[Card]] = relationship(back_populates="pupil")


class Card(Base):
    """A pupil's ID card; several over time, lost ones deactivated but kept for the record."""

    __tablename__ = "cards"
    __table_args__ = (UniqueConstraint("site_id", "card_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    uid: Mapped[str] = mapped_column(String(32))  # upper-case hex
    card_hash: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    enrolled_at: Mapped[datetime]
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)
    deactivated_reason: Mapped[str | None] = mapped_column(String(32), default=None)  # lost|...

    pupil: Mapped[Pupil] = relationship(back_populates="cards")


class Staff(Base):
    """A staff account: web sign-in, and optionally a staff card + PIN for kiosk staff mode."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # office | leadership | admin
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id
    active: Mapped[bool] = mapped_column(default=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), default=None)
    card_hash: Mapped[str | None] = mapped_column(String(32), default=None)
    pin_hash: Mapped[str | None] = mapped_column(String(255), default=None)  # pbkdf2_sha256$..
    created_at: Mapped[datetime]
