"""What flows over the wire and needs a record: events, alarms, commands and their acks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class CommandStatus(StrEnum):
    """Where a command is: sent and waiting, or what the kiosk said (or did not say)."""

    SENT = "sent"
    SUCCESS = "success"
    REFUSED = "refused"
    FAILED = "failed"
    TIMEOUT = "timeout"


class Event(Base):
    """A kiosk event, applied exactly once (unique on kiosk + store epoch + sequence)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("kiosk_id", "epoch", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    # The boot of the kiosk's store the sequence belongs to; "" for kiosks that send none.
    epoch: Mapped[str] = mapped_column(String(16), default="", server_default="")
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime]
    pupil_ref: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    slot: Mapped[int | None] = mapped_column(default=None)
    # The raw payload; blanked by the retention purge (the columns above stay for reports).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Alarm(Base):
    """Something a person has to look at: door alarms, reader faults, offline, sequence gaps."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    slot: Mapped[int | None] = mapped_column(default=None)
    detail: Mapped[str | None] = mapped_column(String(500), default=None)
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    gap_from: Mapped[int | None] = mapped_column(default=None)  # sequence_gap alarms
    gap_to: Mapped[int | None] = mapped_column(default=None)
    # A person has seen it and is dealing with it (the alarm stays open until cleared).
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), default=None)
    acknowledged_note: Mapped[str | None] = mapped_column(String(500), default=None)


class Command(Base):
    """A command sent to a kiosk, and what its acknowledgement said."""

    __tablename__ = "commands"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    purpose: Mapped[str | None] = mapped_column(String(24), default=None)
    slot: Mapped[int | None] = mapped_column(default=None)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=CommandStatus.SENT)
    outcome: Mapped[str | None] = mapped_column(String(24), default=None)
    detail: Mapped[str | None] = mapped_column(String(500), default=None)
    acked_at: Mapped[datetime | None] = mapped_column(default=None)
    # The custody record a remote unlock opens for, and whose device the kiosk must find.
    custody_id: Mapped[str | None] = mapped_column(String(80), default=None)
    expected_pupil_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    ack: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
