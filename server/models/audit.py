"""The hash-chained audit log (DOMAIN rule 10).

Each row's ``row_hash`` is ``sha256(prev_hash + canonical JSON of the row)``; the row's
personal part (``detail`` and ``pupil_ref``) enters that JSON only through ``detail_hash``.
The retention purge blanks the personal part, sets ``purged`` and keeps ``detail_hash``, so
old rows stay verifiable after their personal data is gone.
``audit_head`` holds the last row's id and hash so deleting the newest rows is detected too.

There is one chain per school (``chain`` = the site's code, for what its kiosks did) beside
the installation's own chain (``chain`` = "", for staff and system actions), each with its
own head row, so two server processes committing different schools' events never queue on
one head (#17). Row ids are unique across chains and rise within each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class AuditEntry(Base):
    """One thing that happened, who did it, when and why."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_chain_id", "chain", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # rises per chain
    chain: Mapped[str] = mapped_column(String(32), default="", server_default="")
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))  # "staff:jsmith", "kiosk:north/k1", "system"
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "confiscation.create"
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    pupil_ref: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    detail_hash: Mapped[str] = mapped_column(String(64))  # sha256 of {detail, pupil_ref}
    purged: Mapped[bool] = mapped_column(default=False)  # personal part blanked by retention
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The row naming one chain's last entry (locked while appending to that chain).
    Row 1 is the installation's chain ("")."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    chain: Mapped[str] = mapped_column(String(32), default="", server_default="",
                                       unique=True)
    last_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
