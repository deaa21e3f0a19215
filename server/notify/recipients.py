"""Who a message goes to: a pupil's parents/carers, and the school's role mailboxes and chats.

``recipients_for_pupil`` is the one place that decides which parents/carers hear about a
pupil. Until the roster brings contacts in it finds nobody, and the parent's message is
recorded as "no contact on file" for the office to follow up (a printed letter or a call).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from server.models import NotifySettings, Pupil

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
    """The parents/carers to tell about ``pupil``, already filtered by do-not-contact and
    opt-outs.

    TODO(contacts): point this at the roster's contacts table: for each contact of ``pupil``
    that is not marked do-not-contact and has not opted out of phone-policy messages, return
    ``Recipient(EMAIL, email, name, relationship)`` if they have an e-mail address, else
    ``Recipient(SMS, phone, name, relationship)`` if they have a mobile number. Today there
    is no contacts table, so nobody is on file.
    """
    del session, pupil  # read once the contacts table exists
    return []


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
