"""Leadership's daily digest after close: the day's counts, what was not collected, open
alarms and kiosks offline. Sent on school days only (the school calendar decides), once a
day, after the school's digest time. Names stay on the console: the e-mail has figures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lockers.clock import Clock
from server.models import Alarm, Confiscation, Kiosk, Notification, Site
from server.notify.outbox import About
from server.notify.recipients import settings_for
from server.notify.to_staff import tell_staff
from server.policy.calendar import local_now, release_day
from server.services.context import ServiceContext
from server.services.reports import Reports, TodayCounts
from server.store import Store

log = logging.getLogger("lockers.server.notify")


@dataclass(frozen=True)
class OpenAlarm:
    """An alarm nobody has cleared, in words (no pupil in it)."""

    kiosk: str
    what: str
    slot: int | None


@dataclass(frozen=True)
class Machines:
    """The kiosks' side of the day: alarms still open, kiosks offline."""

    kiosks: int
    offline: list[str]
    alarms: list[OpenAlarm]


def machines(s: Session, site: Site) -> Machines:
    """Open alarms and offline kiosks at ``site`` now."""
    kiosks = s.scalars(select(Kiosk).where(Kiosk.site_id == site.id)).all()
    names = {k.id: k.name or k.code for k in kiosks}
    alarms = [OpenAlarm(names[a.kiosk_id], a.kind.replace("_", " "), a.slot)
              for a in s.scalars(select(Alarm).where(
                  Alarm.kiosk_id.in_(list(names)), Alarm.cleared_at.is_(None))
                  .order_by(Alarm.raised_at))]
    return Machines(len(kiosks), sorted(names[k.id] for k in kiosks if not k.online), alarms)


def digest_due(s: Session, site: Site, now: datetime) -> date | None:
    """The school day whose digest should go now, or None (switched off, before the
    school's digest time, not a school day, or queued already)."""
    settings = settings_for(s, site.id)
    local = local_now(site, now)
    if not settings.leadership_digest or local.time() < settings.digest_at:
        return None
    day = local.date()
    if not release_day(s, site, day).school_day:
        return None  # weekends, holidays, INSET: nobody needs a digest of nothing
    queued = s.scalar(select(Notification.id).where(
        Notification.dedupe_key.startswith(f"daily_digest:{site.id}:{day}:")))
    return None if queued else day


class DailyDigest:
    """Queues the day's digest for leadership when it is due (the watch calls it)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.reports = Reports(ServiceContext(store, clock))

    def __call__(self, site_id: int, now: datetime) -> None:
        """Queue today's digest at ``site_id`` if it is due."""
        with self.store.read() as s:
            site = s.get(Site, site_id)
            if site is None:
                return
            day, code = digest_due(s, site, now), site.code
        if day is None:
            return
        counts = self.reports.today(site=code, day=day)  # the dashboard's own figures
        with self.store.write() as s:
            site = s.get(Site, site_id)
            assert site is not None
            if self.queue(s, site, now, day, counts):
                log.info("event=daily_digest_queued site=%s day=%s", code, day)

    @staticmethod
    def queue(s: Session, site: Site, now: datetime, day: date, counts: TodayCounts
              ) -> list[Notification]:
        """Render and queue the digest (the dedupe key makes a second call a no-op)."""
        confiscated = s.scalar(select(func.count()).select_from(Confiscation).where(
            Confiscation.site_id == site.id, Confiscation.day == day)) or 0
        about = About("daily_digest", "leadership", site.id, "site", site.code)
        return tell_staff(s, site, about, key=f"daily_digest:{site.id}:{day}", now=now,
                          day=day.strftime("%A %-d %B %Y"), counts=counts,
                          confiscated=confiscated, machines=machines(s, site))
