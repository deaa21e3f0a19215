"""What happens to pupils' devices: deposits, confiscations, exceptions, agreements, releases."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class Deposit(Base):
    """A pupil's devices handed in to a slot (DOMAIN rule 1), and when they were collected."""

    __tablename__ = "deposits"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"), index=True)
    pupil_ref: Mapped[str] = mapped_column(String(64))
    slot: Mapped[int]
    day: Mapped[date] = mapped_column(index=True)
    deposited_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(default=False)
    collected_at: Mapped[datetime | None] = mapped_column(default=None)
    collected_via: Mapped[str | None] = mapped_column(String(32), default=None)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), default=None)
    custody_id: Mapped[str | None] = mapped_column(String(80), default=None, index=True)


# Confiscation states. DSL and police are final: the device has left the lockers' control.
HELD = "held"
RELEASED_TO_PUPIL = "released_to_pupil"
COLLECTED_BY_PARENT = "collected_by_parent"
HANDED_TO_DSL = "handed_to_dsl"
HANDED_TO_POLICE = "handed_to_police"
FINAL_STATES = frozenset({RELEASED_TO_PUPIL, COLLECTED_BY_PARENT, HANDED_TO_DSL, HANDED_TO_POLICE})


class Confiscation(Base):
    """A device confiscated by staff (DOMAIN rules 4, 5, 8); one row is one breach."""

    __tablename__ = "confiscations"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    second_device: Mapped[bool] = mapped_column(default=False)  # rule 8
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    confiscated_at: Mapped[datetime]
    day: Mapped[date]
    release_mode: Mapped[str] = mapped_column(String(24))  # pupil_end_of_day | parent_only
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"), default=None)
    slot: Mapped[int | None] = mapped_column(default=None)
    state: Mapped[str] = mapped_column(String(24), default=HELD)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    handover_note: Mapped[str | None] = mapped_column(String(500), default=None)
    collector_name: Mapped[str | None] = mapped_column(String(200), default=None)
    collector_relationship: Mapped[str | None] = mapped_column(String(100), default=None)
    identity_check: Mapped[str | None] = mapped_column(String(200), default=None)
    command_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # The device's custody record: where it is comes from there, never from kiosk_id/slot
    # (kept only for confiscations recorded before custody existed).
    custody_id: Mapped[str | None] = mapped_column(String(80), default=None)


class PupilException(Base):
    """A medical or other exception (DOMAIN rule 6): the pupil may keep or access a device."""

    __tablename__ = "exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    category: Mapped[str] = mapped_column(String(16))  # medical | other
    reason: Mapped[str] = mapped_column(String(500))
    approved_by: Mapped[str] = mapped_column(String(200))  # headteacher / SLT member
    agreement_date: Mapped[date]  # written agreement
    starts: Mapped[date]
    ends: Mapped[date | None] = mapped_column(default=None)
    review_date: Mapped[date | None] = mapped_column(default=None)
    allows: Mapped[str] = mapped_column(String(24))  # keep_on_person | access_at_times
    access_times: Mapped[str | None] = mapped_column(String(200), default=None)  # "10:30-10:45"
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]


class EligibilityAgreement(Base):
    """A signed parent agreement that lets a pupil bring a phone at all (DOMAIN rule 7)."""

    __tablename__ = "eligibility_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    signed_on: Mapped[date]
    signed_by: Mapped[str] = mapped_column(String(200))
    expires: Mapped[date | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]


class EarlyRelease(Base):
    """An office override letting a pupil collect before the window (DOMAIN rule 3)."""

    __tablename__ = "early_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the id the kiosk sees
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    day: Mapped[date]
    reason: Mapped[str] = mapped_column(String(500))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    approved_at: Mapped[datetime]
    not_before: Mapped[time | None] = mapped_column(default=None)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
