"""Who a message goes to: a pupil's parents/carers, and the school's role mailboxes and chats.

``recipients_for_pupil`` is the one place that decides which parents/carers hear about a
pupil, from the contacts the roster import brings in. With none usable on file the parent's
message is recorded as "no contact on file" for the office to follow up (a printed letter or
a call).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import NotifySettings, Pupil, PupilContact

EMAIL, SMS, CHAT, LETTER = "email", "sms", "chat", "letter"


@dataclass(frozen=True)
class Recipient:
    """One person or mailbox on one channel.

    ``address``: an e-mail address (email), a phone number (sms) or a ``[notify.channels]``
    name (chat). ``name`` is how the message greets them ("Mrs Khan"), ``relationship`` what
    they are to the pupil ("mother", "carer"), empty for staff.
    """

    channel: str
    address: str
    name: str = ""
    relationship: str = ""


def recipients_for_pupil(session: Session, pupil: Pupil) -> list[Recipient]:
    """The parents/carers to tell about ``pupil``, from the roster's contacts in the MIS's
    priority order: never a contact marked do-not-contact; e-mail unless they opted out of
    it, else a text to their phone unless they opted out of that."""
    contacts = session.scalars(select(PupilContact).where(
        PupilContact.pupil_id == pupil.id, PupilContact.do_not_contact.is_(False))
        .order_by(PupilContact.priority, PupilContact.id))
    out: list[Recipient] = []
    for c in contacts:
        if c.email and not c.opt_out_email:
            out.append(Recipient(EMAIL, c.email.strip(), c.name, c.relationship))
        elif c.phone and not c.opt_out_sms:
            out.append(Recipient(SMS, c.phone.strip(), c.name, c.relationship))
    return out


def settings_for(session: Session, site_id: int) -> NotifySettings:
    """The site's who-hears-what settings (the defaults when the school never changed them)."""
    found = session.get(NotifySettings, site_id)
    if found is not None:
        return found
    # Unsaved defaults: reading settings must not write a row inside someone else's action.
    defaults = NotifySettings(site_id=site_id)
    for column in NotifySettings.__table__.columns:
        if getattr(defaults, column.key) is None and column.default is not None:
            setattr(defaults, column.key, column.default.arg)  # type: ignore[attr-defined]
    return defaults


def staff_recipients(settings: NotifySettings, audience: str) -> list[Recipient]:
    """The role mailbox and chat channel the school set for ``audience`` (dsl, leadership,
    office); empty when the school set neither."""
    email = getattr(settings, f"{audience}_email", "") or ""
    chat = getattr(settings, f"{audience}_chat", "") or ""
    out = [Recipient(EMAIL, email.strip(), name=audience)] if email.strip() else []
    if chat.strip():
        out.append(Recipient(CHAT, chat.strip(), name=audience))
    return out
