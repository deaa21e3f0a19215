"""Telling people: the notification outbox and each school's "who hears what" settings."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base

# Outbox states. ``sending`` is a claim committed before the send; a claim found stale after a
# crash becomes ``in_doubt`` (never sent again by itself: see docs/adr/0003).
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
IN_DOUBT = "in_doubt"
NO_CONTACT = "no_contact"  # nobody on file to tell: the office prints a letter or phones


class Notification(Base):
    """One message to one recipient on one channel, rendered when queued.

    Written in the same transaction as the move that causes it; ``dedupe_key`` is unique so
    the same event never queues twice. The recipient's address lives only here, on the server.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), default=None)
    kind: Mapped[str] = mapped_column(String(40))  # held_for_parent | handed_to_dsl | ...
    audience: Mapped[str] = mapped_column(String(16))  # parent | dsl | leadership | office
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | chat | letter
    recipient: Mapped[str] = mapped_column(String(320))  # address, number or channel name
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    entity: Mapped[str | None] = mapped_column(String(32), default=None)  # e.g. confiscation
    entity_id: Mapped[str | None] = mapped_column(String(64), default=None)
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupils.id"), default=None)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    resend_of: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"), default=None)


class NotifySettings(Base):
    """Who hears what at one site; every field has a default that a new school can live with.

    Staff addresses are the school's role mailboxes (dsl@, office@), not people's own; a
    ``*_chat`` field names a channel from ``[notify.channels]`` in server.toml.
    """

    __tablename__ = "notify_settings"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    parent_when_held: Mapped[bool] = mapped_column(default=True)
    dsl_when_handed_over: Mapped[bool] = mapped_column(default=True)
    leadership_when_police: Mapped[bool] = mapped_column(default=True)
    office_when_held_days: Mapped[int] = mapped_column(default=3)  # 0: never
    office_when_overnight: Mapped[bool] = mapped_column(default=True)
    leadership_digest: Mapped[bool] = mapped_column(default=True)
    leadership_termly: Mapped[bool] = mapped_column(default=True)  # summary at each term end
    digest_at: Mapped[time] = mapped_column(default=time(17, 0))  # local time, after close
    dsl_email: Mapped[str] = mapped_column(String(320), default="")
    dsl_chat: Mapped[str] = mapped_column(String(63), default="")
    leadership_email: Mapped[str] = mapped_column(String(320), default="")
    leadership_chat: Mapped[str] = mapped_column(String(63), default="")
    office_email: Mapped[str] = mapped_column(String(320), default="")
    office_chat: Mapped[str] = mapped_column(String(63), default="")
    # The school's chosen words for parents.
    held_wording: Mapped[str] = mapped_column(String(500), default=(
        "was held today under the school's mobile phone policy and may only be collected "
        "by a parent or carer"))
    collection_place: Mapped[str] = mapped_column(String(200), default="the school office")
    collection_hours: Mapped[str] = mapped_column(String(200), default=(
        "between 8:00 and 16:30 on any school day"))
    signed: Mapped[str] = mapped_column(String(200), default="The school office")
