"""A pupil's parents and carers as the MIS lists them (read by the notifications work)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class PupilContact(Base):
    """One parent/carer contact of a pupil, in the MIS's priority order (1 = call first).

    ``do_not_contact`` (a court order, a safeguarding note) means the school must never use
    this contact, whatever the opt-outs say; the opt-outs are the contact's own choices."""

    __tablename__ = "pupil_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    priority: Mapped[int] = mapped_column(default=1)
    do_not_contact: Mapped[bool] = mapped_column(default=False)
    opt_out_email: Mapped[bool] = mapped_column(default=False)
    opt_out_sms: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(16), default="roster")  # roster | office
    updated_at: Mapped[datetime]
