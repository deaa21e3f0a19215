"""Messages to the school's own people (the DSL, leadership, the office): one place that
renders a kind, finds the role's mailbox and chat, and queues one row each.

With neither set, a ``no_contact`` row shows the office that nobody was told, rather than
the message vanishing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.models import Notification, Site
from server.notify.outbox import About, enqueue
from server.notify.recipients import LETTER, Recipient, settings_for, staff_recipients
from server.notify.render import render


def tell_staff(session: Session, site: Site, about: About, *, key: str, now: datetime,
               actor: str | None = None, **context: Any) -> list[Notification]:
    """Queue ``about.kind`` for ``about.audience`` at ``site``, once per ``key`` and recipient,
    inside the caller's transaction; returns the rows queued now (none if all were before)."""
    message = render(about.kind, school=site.name, **context)
    people = staff_recipients(settings_for(session, site.id), about.audience) or [
        Recipient(LETTER, "", about.audience)]
    out = []
    for person in people:
        extra = {"actor": actor} if actor else {}
        row = enqueue(session, about, person, message, now=now,
                      dedupe_key=f"{key}:{person.channel}:{person.address}", **extra)
        if row is not None:
            out.append(row)
    return out
