"""Server-side web sessions and the shared record of failed credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class WebSession(Base):
    """A signed-in browser. The cookie carries only a random token; this row is the session,
    so signing out, changing a password or disabling the account ends it at once."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_why: Mapped[str | None] = mapped_column(String(32), default=None)


class CredentialGuard(Base):
    """Failed attempts against one key ("user:<name>" or "ip:<address>") on any credential
    path, shared by every server process through the database."""

    __tablename__ = "credential_guards"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
