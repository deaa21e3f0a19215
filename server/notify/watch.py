"""What the sender looks for on each pass: devices held too long or left overnight (for the
office), and the leadership's daily digest after close. Each message's dedupe key names its
day or record, so a pass repeated (or run by several processes) queues it once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Alarm, Confiscation, Deposit, Kiosk, Pupil, Site
from server.models.records import HELD
from server.notify.outbox import About, enqueue
from server.notify.recipients import LETTER, Recipient, settings_for, staff_recipients
from server.notify.render import render
from server.notify.triggers import office_told_of_held_device
from server.policy.calendar import local_now, local_today
from server.store import Store


class Watch:
    """Called by the sender each pass with the time; queues what has become due."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, now: datetime) -> None:
        """Look at every site once."""
        with self.store.write() as s:
            for site in s.scalars(select(Site)).all():
                self.held_devices(s, site, now)
                self.digest(s, site, now)

    @staticmethod
    def _send(s: Session, site: Site, audience: str, kind: str, key: str, now: datetime,
              about: About, **context: object) -> None:
        message = render(kind, school=site.name, **context)
        people = staff_recipients(settings_for(s, site.id), audience) or [
            Recipient(LETTER, "", audience)]
        for person in people:
            enqueue(s, about, person, message, now=now,
                    dedupe_key=f"{key}:{person.channel}:{person.address}")

    def held_devices(self, s: Session, site: Site, now: datetime) -> None:
        """The office hears of a device left overnight, and of one held N days or more."""
        settings = settings_for(s, site.id)
        today = local_today(site, now)
        for conf, pupil in s.execute(select(Confiscation, Pupil).join(Pupil).where(
                Confiscation.site_id == site.id, Confiscation.state == HELD)).all():
            days = (today - conf.day).days
            kinds = ["left_overnight"] if settings.office_when_overnight and days >= 1 else []
            if settings.office_when_held_days and days >= settings.office_when_held_days:
                kinds.append("held_too_long")
            for kind in kinds:
                office_told_of_held_device(s, now, kind=kind, record="confiscation",
                                           record_id=conf.id, pupil=pupil, site=site,
                                           since=conf.day)

    def digest(self, s: Session, site: Site, now: datetime) -> None:
        """Leadership's digest once a day, after the school's digest time."""
        settings = settings_for(s, site.id)
        local = local_now(site, now)
        if not settings.leadership_digest or local.time() < settings.digest_at \
                or local.weekday() >= 5:
            return
        day = local.date()
        kiosks = s.scalars(select(Kiosk).where(Kiosk.site_id == site.id)).all()
        counts = {
            "handed_in": s.scalar(select(func.count()).select_from(Deposit).where(
                Deposit.site_id == site.id, Deposit.day == day)) or 0,
            "uncollected": s.scalar(select(func.count()).select_from(Deposit).where(
                Deposit.site_id == site.id, Deposit.day == day,
                Deposit.collected_at.is_(None))) or 0,
            "confiscated": s.scalar(select(func.count()).select_from(Confiscation).where(
                Confiscation.site_id == site.id, Confiscation.day == day)) or 0,
            "held": s.scalar(select(func.count()).select_from(Confiscation).where(
                Confiscation.site_id == site.id, Confiscation.state == HELD)) or 0,
            "open_alarms": s.scalar(select(func.count()).select_from(Alarm).where(
                Alarm.kiosk_id.in_([k.id for k in kiosks]), Alarm.cleared_at.is_(None))) or 0,
        }
        offline = [k.name or k.code for k in kiosks if not k.online]
        self._send(s, site, "leadership", "daily_digest", f"daily_digest:{site.id}:{day}", now,
                   About("daily_digest", "leadership", site.id, "site", site.code),
                   day=day.strftime("%A %-d %B %Y"), counts=counts, offline=offline,
                   kiosks=len(kiosks))
