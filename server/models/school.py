"""Sites (a school), their kiosks and the slots in each kiosk's bank."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base


class Site(Base):
    """A school site, with the school settings the policy engine reads."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(63), unique=True)  # topic level, e.g. "north"
    name: Mapped[str] = mapped_column(String(200))
    card_hash_key: Mapped[str] = mapped_column(String(128))  # HMAC key for card hashes
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    assignment_mode: Mapped[str] = mapped_column(String(16), default="dynamic")  # fixed|dynamic
    breaches_before_parent_collection: Mapped[int] = mapped_column(default=3)
    retention_days: Mapped[int] = mapped_column(default=400)
    release_opens: Mapped[time] = mapped_column(default=time(15, 10))
    release_closes: Mapped[time] = mapped_column(default=time(16, 30))
    late_after: Mapped[time | None] = mapped_column(default=None)
    door_open_alarm_s: Mapped[int] = mapped_column(default=60)
    eligibility_required: Mapped[bool] = mapped_column(default=False)

    kiosks: Mapped[list[Kiosk]] = relationship(back_populates="site")


class Kiosk(Base):
    """A kiosk (one Pi with its bank of slots) and what the server last heard from it."""

    __tablename__ = "kiosks"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    code: Mapped[str] = mapped_column(String(63))  # topic level, e.g. "k1"
    name: Mapped[str] = mapped_column(String(200), default="")
    # Where it stands, in the school's words ("Sports hall door"), shown beside its name.
    place: Mapped[str] = mapped_column(String(200), default="", server_default="")
    online: Mapped[bool] = mapped_column(default=False)
    last_seen: Mapped[datetime | None] = mapped_column(default=None)
    software: Mapped[str | None] = mapped_column(String(100), default=None)
    mode: Mapped[str | None] = mapped_column(String(16), default=None)
    reported_policy_version: Mapped[int | None] = mapped_column(default=None)
    policy_version: Mapped[int] = mapped_column(default=0)  # last version published to it
    last_seq: Mapped[int] = mapped_column(default=0)  # highest sequence committed in epoch
    # The kiosk store's current epoch ("" until a kiosk names one): a new one means the kiosk
    # lost its state file and restarted its sequence.
    epoch: Mapped[str] = mapped_column(String(16), default="", server_default="")

    site: Mapped[Site] = relationship(back_populates="kiosks")
    slots: Mapped[list[Slot]] = relationship(back_populates="kiosk", order_by="Slot.number")


class Slot(Base):
    """One lockable slot, mirrored from the kiosk's snapshots and slot-state events."""

    __tablename__ = "slots"
    __table_args__ = (UniqueConstraint("kiosk_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    number: Mapped[int]
    bank: Mapped[str] = mapped_column(String(32), default="A")
    state: Mapped[str] = mapped_column(String(32), default="free")  # wire SlotState value
    pupil_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    door_open: Mapped[bool] = mapped_column(default=False)
    custody_id: Mapped[str | None] = mapped_column(String(80), default=None)  # kiosk's record
    assigned_pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"), default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    kiosk: Mapped[Kiosk] = relationship(back_populates="slots")
