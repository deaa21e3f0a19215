"""Sign-in identities from the trust's OpenID provider (Microsoft Entra ID, Google), linked to
staff accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class StaffIdentity(Base):
    """One account at the trust's provider, linked to one staff account. Linked by issuer and
    subject (the provider's permanent id), never by e-mail alone, so a renamed or re-addressed
    account stays linked and a recycled address does not inherit someone else's account."""

    __tablename__ = "staff_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), default=None)  # as last seen
    linked_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None] = mapped_column(default=None)
