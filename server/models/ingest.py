"""Events that arrived before an earlier one of their kiosk: kept here until it comes.

A kiosk's events are applied in its own order (ADR 0009). With several server processes the
broker spreads one kiosk's events over them, so one process often receives an event while
another is still committing its predecessor. Such an event is parked here, durably (and so
acknowledged to the kiosk), and whichever process commits the predecessor applies it in the
same transaction (ADR 0010).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class PendingEvent(Base):
    """One event received but not yet applied: its kiosk has not sent all before it."""

    __tablename__ = "pending_events"
    __table_args__ = (UniqueConstraint("kiosk_id", "epoch", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    epoch: Mapped[str] = mapped_column(String(16), default="", server_default="")
    seq: Mapped[int]
    received_at: Mapped[datetime]
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # the exact bytes the kiosk sent
