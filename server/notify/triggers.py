"""Who hears what when a device moves: the narrow interface custody moves call.

Each function runs INSIDE the caller's transaction (pass ``act.session``), so the messages
commit together with the move that causes them, or not at all. Today they are called from
server/services/confiscations.py; the custody module calls the same functions from its moves:

    held for parent collection:
        device_held_for_parent(act.session, now, act.staff.username, record="custody",
                               record_id=rec.id, pupil=pupil, site=site, second_device=...)
    handed to the DSL / police:
        device_handed_over(act.session, now, act.staff.username, record="custody",
                           record_id=rec.id, pupil=pupil, site=site, to="dsl" | "police")
    left overnight / held N school days: server/notify/watch.py finds these itself on each
    pass from the open custody records.

``record``/``record_id`` name the record in the outbox and make the dedupe key, so the same
move never queues twice.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from server import audit
from server.models import Notification, Pupil, Site
from server.notify.outbox import About, enqueue
from server.notify.recipients import LETTER, Recipient, recipients_for_pupil, settings_for
from server.notify.render import render
from server.notify.to_staff import tell_staff
from server.policy.calendar import local_now


def _when(site: Site, at: datetime) -> str:
    return local_now(site, at).strftime("%A %-d %B %Y at %H:%M")


def device_held_for_parent(session: Session, now: datetime, actor: str, *, record: str,
                           record_id: object, pupil: Pupil, site: Site,
                           second_device: bool = False) -> list[Notification]:
    """Tell the pupil's parents/carers that a device waits for them: what, why in the
    school's words, where and when to collect. Never what is on the device.

    With nobody on file a ``no_contact`` row is kept for the office (print the letter).
    """
    settings = settings_for(session, site.id)
    if not settings.parent_when_held:
        return []
    about = About("held_for_parent", "parent", site.id, record, str(record_id), pupil.id,
                  pupil.reference)
    people = recipients_for_pupil(session, pupil) or [Recipient(LETTER, "", "")]
    out = []
    for person in people:
        message = render("held_for_parent", school=site.name, first_name=pupil.first_name,
                         greeting=person.name or "parent or carer",
                         what="second device" if second_device else "mobile phone",
                         why=settings.held_wording, where=settings.collection_place,
                         hours=settings.collection_hours, when=_when(site, now),
                         signed=settings.signed)
        key = f"held_for_parent:{record}:{record_id}:{person.channel}:{person.address}"
        row = enqueue(session, about, person, message, dedupe_key=key, now=now,
                      actor=audit.staff_actor(actor))
        if row is not None:
            out.append(row)
    return out


def device_handed_over(session: Session, now: datetime, actor: str, *, record: str,
                       record_id: object, pupil: Pupil, site: Site, to: str
                       ) -> list[Notification]:
    """Tell the DSL at once of a device handed to the DSL, leadership of one handed to the
    police. The message names the pupil and the record, never the staff member's note (that
    stays on the console, behind sign-in)."""
    settings = settings_for(session, site.id)
    audience, wanted = (("dsl", settings.dsl_when_handed_over) if to == "dsl"
                        else ("leadership", settings.leadership_when_police))
    if not wanted:
        return []
    kind = f"handed_to_{to}"
    about = About(kind, audience, site.id, record, str(record_id), pupil.id, pupil.reference)
    return tell_staff(session, site, about, key=f"{kind}:{record}:{record_id}", now=now,
                      actor=audit.staff_actor(actor), first_name=pupil.first_name,
                      reference=pupil.reference, form=pupil.form or "",
                      when=_when(site, now), record=f"{record} {record_id}")


def office_told_of_held_device(session: Session, now: datetime, *, kind: str, record: str,
                               record_id: object, pupil: Pupil, site: Site, since: date,
                               days: int = 0, held: bool = True, where: str = ""
                               ) -> list[Notification]:
    """Tell the office that a device is still in school: ``kind`` is ``left_overnight`` or
    ``held_too_long`` (``days``: school days held). The watch pass calls it; a custody
    "left overnight" move may too (the dedupe key makes the second call a no-op)."""
    about = About(kind, "office", site.id, record, str(record_id), pupil.id, pupil.reference)
    return tell_staff(session, site, about, key=f"{kind}:{record}:{record_id}", now=now,
                      first_name=pupil.first_name, reference=pupil.reference,
                      form=pupil.form or "", since=since.strftime("%A %-d %B"), days=days,
                      held=held, where=where, record=f"{record} {record_id}")
