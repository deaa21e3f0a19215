"""The office's view of what the school told whom: the list, resend, the printable letter,
and the who-hears-what settings of a site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import NotAllowed, NotFound
from server.models import Notification, NotifySettings, Pupil, Site, Staff
from server.notify import outbox
from server.notify.recipients import settings_for
from server.notify.settings import checked
from server.services.context import LEADERSHIP, ServiceContext
from server.services.pupil_names import pupil_label


@dataclass(frozen=True)
class NotificationView:
    """One message as the office sees it (the address is shown: the office may see it)."""

    id: int
    kind: str
    audience: str
    channel: str
    recipient: str
    subject: str
    pupil_ref: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    resend_of: int | None
    pupil: str | None = None  # "Amira Khan (8B)": the office needs a name, not a reference


@dataclass(frozen=True)
class Letter:
    """A collection letter to print for a parent or carer without e-mail."""

    school: str
    subject: str
    body: str
    dated: datetime


class NotificationServices:
    """What was sent, to whom, when, and what failed; resend; letters; settings."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def recent(self, actor: str | None = None, limit: int = 200) -> list[NotificationView]:
        """The newest messages first; a staff member tied to one site sees only its own."""
        with self.ctx.store.read() as s:
            q = select(Notification, Pupil.reference, Pupil.first_name, Pupil.last_name,
                       Pupil.form).outerjoin(
                Pupil, Pupil.id == Notification.pupil_id).order_by(Notification.id.desc())
            site_id = _site_of(s, actor)
            if site_id is not None:
                q = q.where(Notification.site_id == site_id)
            rows = s.execute(q.limit(limit)).all()
            return [NotificationView(n.id, n.kind, n.audience, n.channel,
                                     n.recipient or "(no contact on file)", n.subject, ref,
                                     n.status, n.created_at, n.sent_at, n.attempts,
                                     n.last_error, n.resend_of,
                                     pupil_label(first, last, form) if ref else None)
                    for n, ref, first, last, form in rows]

    def resend(self, actor: str, notification_id: int) -> int:
        """Queue a copy of a sent, failed or in-doubt message; returns the new id."""
        with self.ctx.action(actor, "notification.resend") as act:
            _same_site(act.session, actor, notification_id)
            row = outbox.resend(act.session, notification_id, act.staff.username,
                                self.ctx.clock.now())
            act.audit("notification", row.id, reason=f"resend of {notification_id}")
            return row.id

    def letter(self, notification_id: int, actor: str | None = None) -> Letter:
        """The parent's message as a letter (only parent messages are letters)."""
        with self.ctx.store.read() as s:
            _same_site(s, actor, notification_id)
            row = s.get(Notification, notification_id)
            if row is None:
                raise NotFound(f"no notification {notification_id}")
            if row.audience != "parent":
                raise NotAllowed("only a message to a parent or carer can be printed as a "
                                 "collection letter")
            site = s.get(Site, row.site_id) if row.site_id else None
            return Letter(site.name if site else "", row.subject, row.body_text, row.created_at)

    def settings(self, site: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """A site's who-hears-what settings (``actor``: only their own school's)."""
        with self.ctx.store.read() as s:
            st = _own_site(s, self.ctx.site(s, site) if site else None, actor)
            found = settings_for(s, st.id)
            return {f.key: getattr(found, f.key) for f in NotifySettings.__table__.columns}

    def change_settings(self, actor: str, site: str | None = None, **changes: Any
                        ) -> list[str]:
        """Change who hears what at ``site`` (leadership or admin); each value is checked
        first (server/notify/settings.py). Returns the names of the settings that changed."""
        values = checked(changes)
        with self.ctx.action(actor, "notification.settings", roles=LEADERSHIP) as act:
            st = _own_site(act.session, self.ctx.site(act.session, site) if site else None,
                           actor)
            row = act.session.get(NotifySettings, st.id)
            if row is None:
                row = settings_for(act.session, st.id)
                act.session.add(row)
            changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
            for key in changed:
                setattr(row, key, values[key])
            # Which settings changed, never the values: a mailbox or wording is not audit data.
            act.audit("site", st.code, reason="who hears what changed",
                      detail={"changed": changed})
            return changed


def _site_of(s: Session, actor: str | None) -> int | None:
    """The one site a staff member belongs to (None: every site, or no actor given)."""
    if actor is None:
        return None
    return s.scalar(select(Staff.site_id).where(Staff.username == actor))


def _own_site(s: Session, site: Site | None, actor: str | None) -> Site:
    """The site named, or the actor's own; a staff member tied to one school never reads or
    changes another's settings (it is "not found" to them, as on every other page)."""
    own = _site_of(s, actor)
    if site is None:
        found = s.get(Site, own) if own is not None else ServiceContext.site(s, None)
        assert found is not None
        return found
    if own is not None and site.id != own:
        raise NotFound(f"no site {site.code!r}")
    return site


def _same_site(s: Session, actor: str | None, notification_id: int) -> None:
    site_id = _site_of(s, actor)
    row = s.get(Notification, notification_id)
    if row is None or (site_id is not None and row.site_id != site_id):
        raise NotFound(f"no notification {notification_id}")  # another school's: not shown
