"""What each card's tap may do today: the per-card part of a kiosk's replica.

Status rules (DOMAIN rules 3, 4, 6, 7): a pupil whose only devices in this kiosk's slots are
held under confiscation is ``held`` (held is per custody record: a pupil-end-of-day
confiscation stops being held once today's release window opens, and a pupil with a held
second device still collects their normal phone); otherwise a pupil with a current exception
is ``exempt``; otherwise ``normal``. Eligibility, an approved early release and where the
pupil's other devices are (``elsewhere``) travel alongside.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.wire.messages import CardEntry, CardWindow, PupilStatus, StaffEntry
from server.custody.picture import SitePicture
from server.models import (
    Card,
    EarlyRelease,
    EligibilityAgreement,
    Pupil,
    PupilException,
    Site,
    Slot,
    Staff,
)
from server.policy.calendar import local_now
from server.policy.groups import windows_today


def _exempt(session: Session, today: date) -> set[int]:
    rows = session.execute(select(PupilException.pupil_id).where(
        PupilException.revoked_at.is_(None), PupilException.starts <= today,
        (PupilException.ends.is_(None)) | (PupilException.ends >= today)))
    return {r[0] for r in rows}


def _eligible(session: Session, today: date) -> set[int]:
    rows = session.execute(select(EligibilityAgreement.pupil_id).where(
        EligibilityAgreement.revoked_at.is_(None), EligibilityAgreement.signed_on <= today,
        (EligibilityAgreement.expires.is_(None)) | (EligibilityAgreement.expires >= today)))
    return {r[0] for r in rows}


def _early(session: Session, today: date) -> dict[int, str]:
    rows = session.execute(select(EarlyRelease.pupil_id, EarlyRelease.token).where(
        EarlyRelease.day == today, EarlyRelease.used_at.is_(None),
        EarlyRelease.cancelled_at.is_(None)))
    return {pid: token for pid, token in rows}


def card_entries(session: Session, site: Site, kiosk_id: int, now: datetime,
                 picture: SitePicture | None = None) -> list[CardEntry]:
    """Every active card of every pupil on roll at ``site``, as kiosk ``kiosk_id`` sees it."""
    today = local_now(site, now).date()
    picture = picture or SitePicture.of(session, site, now)
    exempt = _exempt(session, today)
    eligible = _eligible(session, today) if site.eligibility_required else None
    early = _early(session, today)
    windows = windows_today(session, site, today)
    fixed: dict[int, int] = {}
    if site.assignment_mode == "fixed":
        fixed = {pid: n for pid, n in session.execute(
            select(Slot.assigned_pupil_id, Slot.number).where(
                Slot.kiosk_id == kiosk_id, Slot.assigned_pupil_id.is_not(None)))}
    rows = session.execute(
        select(Card.card_hash, Pupil.id, Pupil.reference, Pupil.first_name)
        .join(Pupil, Card.pupil_id == Pupil.id)
        .where(Card.site_id == site.id, Card.active.is_(True), Pupil.archived.is_(False),
               # a leaver's card works on their last day, and no longer
               Pupil.leaving_date.is_(None) | (Pupil.leaving_date >= today))
        .order_by(Card.card_hash))
    entries = []
    for card_hash, pid, ref, first in rows:
        slot = fixed.get(pid)
        custody = picture.card(ref, kiosk_id)
        if custody.held_here is not None:
            status = PupilStatus.HELD
            slot = custody.held_here
        elif pid in exempt:
            status = PupilStatus.EXEMPT
        else:
            status = PupilStatus.NORMAL
        entries.append(CardEntry(
            card=card_hash, pupil_ref=ref, first_name=first[:40], status=status, slot=slot,
            eligible=True if eligible is None else pid in eligible,
            early_release=early.get(pid), elsewhere=custody.elsewhere,
            window=CardWindow(day=today, opens=windows[pid][0], closes=windows[pid][1])
            if pid in windows else None))
    return entries


def staff_entries(session: Session, site: Site) -> list[StaffEntry]:
    """Staff cards that may enter staff mode at this site's kiosks."""
    rows = session.scalars(select(Staff).where(
        Staff.active.is_(True), Staff.card_hash.is_not(None), Staff.pin_hash.is_not(None),
        (Staff.site_id.is_(None)) | (Staff.site_id == site.id)).order_by(Staff.card_hash))
    return [StaffEntry(card=s.card_hash, staff_ref=s.username, pin_hash=s.pin_hash)
            # A PIN hashed before scrypt (4 digits, PBKDF2) is not sent: it must be set again.
            for s in rows if s.card_hash and s.pin_hash and s.pin_hash.startswith("scrypt$")]
