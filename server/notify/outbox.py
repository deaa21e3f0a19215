"""The notification outbox: queue in the caller's transaction, claim, mark, retry, resend.

The outbox table is the whole state: a sender that restarts reads it and carries on. Each
step is one short transaction so several server processes can share the work: a row is
claimed by a conditional UPDATE (only one process wins), and the claim is committed BEFORE
the message leaves. A crash after the claim leaves the row ``sending``; once the claim is
older than the timeout it becomes ``in_doubt`` and is never re-sent by itself: at most once
(docs/adr/0008-notification-outbox-at-most-once.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from server import audit
from server.errors import NotAllowed, NotFound
from server.models import Notification
from server.models.notifications import (
    FAILED,
    IN_DOUBT,
    NO_CONTACT,
    PENDING,
    SENDING,
    SENT,
)
from server.notify.recipients import LETTER, Recipient
from server.notify.render import Rendered


@dataclass(frozen=True)
class About:
    """What a message is about, for the office page and the audit log (no personal detail)."""

    kind: str
    audience: str
    site_id: int | None = None
    entity: str | None = None
    entity_id: str | None = None
    pupil_id: int | None = None
    pupil_ref: str | None = None


def enqueue(session: Session, about: About, recipient: Recipient, message: Rendered, *,
            dedupe_key: str, now: datetime, actor: str = audit.SYSTEM) -> Notification | None:
    """Queue one message inside the caller's transaction; None if ``dedupe_key`` is queued
    already (the same event never queues twice).

    The audit entry names the kind, audience, channel and row, never the address or body.
    A ``letter`` recipient is not sent by anyone: it is recorded as ``no_contact`` for the
    office, who print the collection letter or phone.
    """
    if session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)):
        return None
    row = Notification(
        site_id=about.site_id, kind=about.kind, audience=about.audience,
        channel=recipient.channel, recipient=recipient.address,
        recipient_name=recipient.name, subject=message.subject, body_text=message.text,
        body_html=message.html, entity=about.entity, entity_id=about.entity_id,
        pupil_id=about.pupil_id, dedupe_key=dedupe_key, created_at=now, next_attempt_at=now,
        status=NO_CONTACT if recipient.channel == LETTER else PENDING,
        last_error="no contact on file" if recipient.channel == LETTER else None)
    session.add(row)
    session.flush()
    audit.append(session, now, [audit.Entry(
        actor=actor, action="notification.queued", entity="notification",
        entity_id=str(row.id), pupil_ref=about.pupil_ref,
        detail={"kind": about.kind, "audience": about.audience, "channel": row.channel,
                "status": row.status, "about": f"{about.entity}:{about.entity_id}"})])
    return row


def due(session: Session, now: datetime, limit: int = 20) -> list[int]:
    """Ids of pending messages whose next attempt is due, oldest first."""
    return list(session.scalars(select(Notification.id).where(
        Notification.status == PENDING,
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now))
        .order_by(Notification.id).limit(limit)))


def claim(session: Session, notification_id: int, who: str, now: datetime) -> bool:
    """Take the message for sending; True only for the one claimant that wins."""
    result = session.execute(update(Notification).where(
        Notification.id == notification_id, Notification.status == PENDING).values(
        status=SENDING, claimed_at=now, claimed_by=who, attempts=Notification.attempts + 1))
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_sent(session: Session, notification_id: int, who: str, now: datetime) -> None:
    """The message left: record it (and its audit line) exactly once."""
    result = session.execute(update(Notification).where(
        Notification.id == notification_id, Notification.status == SENDING,
        Notification.claimed_by == who).values(status=SENT, sent_at=now, last_error=None))
    if result.rowcount == 1:  # type: ignore[attr-defined]
        audit.append(session, now, [audit.Entry(
            actor=audit.SYSTEM, action="notification.sent", entity="notification",
            entity_id=str(notification_id))])


def mark_not_sent(session: Session, notification_id: int, who: str, now: datetime,
                  error: str, first_s: float, max_s: float, max_attempts: int) -> str:
    """The message certainly did not leave: try again after a doubling wait, or give up
    (``failed``, shown to the office) after ``max_attempts``. Returns the new status."""
    row = session.get(Notification, notification_id)
    if row is None or row.status != SENDING or row.claimed_by != who:
        return row.status if row else FAILED
    row.last_error, row.claimed_at, row.claimed_by = error[:500], None, None
    if row.attempts >= max_attempts:
        row.status, row.next_attempt_at = FAILED, None
        audit.append(session, now, [audit.Entry(
            actor=audit.SYSTEM, action="notification.failed", entity="notification",
            entity_id=str(notification_id), reason=f"gave up after {row.attempts} attempts")])
    else:
        row.status = PENDING
        row.next_attempt_at = now + timedelta(
            seconds=min(max_s, first_s * 2 ** (row.attempts - 1)))
    return row.status


def expire_claims(session: Session, now: datetime, timeout_s: float) -> int:
    """Claims older than ``timeout_s`` were left by a sender that died mid-send: the message
    may or may not have left, so it becomes ``in_doubt`` for a person to decide."""
    stale = list(session.scalars(select(Notification).where(
        Notification.status == SENDING,
        Notification.claimed_at < now - timedelta(seconds=timeout_s))))
    for row in stale:
        row.status = IN_DOUBT
        row.last_error = ("the sender stopped while sending: it may or may not have arrived; "
                          "check with the recipient before resending")
        audit.append(session, now, [audit.Entry(
            actor=audit.SYSTEM, action="notification.in_doubt", entity="notification",
            entity_id=str(row.id))])
    return len(stale)


def resend(session: Session, notification_id: int, actor: str, now: datetime
           ) -> Notification:
    """Queue a fresh copy of a sent, failed or in-doubt message (an office decision)."""
    old = session.get(Notification, notification_id)
    if old is None:
        raise NotFound(f"no notification {notification_id}")
    if old.status in (PENDING, SENDING, NO_CONTACT):
        raise NotAllowed(f"notification {notification_id} is {old.status.replace('_', ' ')}: "
                         "only a sent, failed or in-doubt message can be sent again")
    copies = len(session.scalars(select(Notification.id).where(
        Notification.resend_of == old.id)).all())
    about = About(old.kind, old.audience, old.site_id, old.entity, old.entity_id, old.pupil_id)
    row = enqueue(session, about, Recipient(old.channel, old.recipient, old.recipient_name),
                  Rendered(old.subject, old.body_text, old.body_html or ""),
                  dedupe_key=f"{old.dedupe_key}#resend{copies + 1}", now=now, actor=actor)
    assert row is not None  # a resend's key is new by construction
    row.resend_of = old.id
    return row
