"""What the sender looks for on each pass: devices left overnight or held N school days (for
the office, from the custody records), leadership's daily digest after close on school days,
and the termly compliance summary once a term has ended. Each message's dedupe key names its
record, day or term, so a pass repeated (or run by several processes) queues it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.clock import Clock, SystemClock
from server.custody import states as st
from server.custody.held import overnight
from server.models import CustodyRecord, Kiosk, Notification, NotifySettings, Pupil, Site
from server.notify.digest import DailyDigest
from server.notify.recipients import settings_for
from server.notify.termly import TermlySummary
from server.notify.triggers import office_told_of_held_device
from server.policy.calendar import local_today
from server.policy.calendar_year import school_days
from server.store import Store

log = logging.getLogger("lockers.server.notify")


def school_days_held(s: Session, site: Site, rec: CustodyRecord, today: date) -> int:
    """School days a device has been held after the day it came in, up to today: a phone
    taken on Friday has been held 1 school day on Monday, whatever the weekend."""
    if today <= rec.came_in_day:
        return 0
    return school_days(s, site, rec.came_in_day + timedelta(days=1), today)


def where_kept(s: Session, rec: CustodyRecord) -> str:
    """Where the device is, in the office's words."""
    if rec.kiosk_id is not None and rec.slot is not None:
        kiosk = s.get(Kiosk, rec.kiosk_id)
        return f"{(kiosk.name or kiosk.code) if kiosk else 'kiosk'}, locker {rec.slot}"
    place = (rec.place or "").strip()
    return "the office" if place.lower() in ("", "office") else place


@dataclass(frozen=True)
class Due:
    """An office alert that has become due: which kind, for which custody record."""

    kind: str
    record_id: int
    days: int  # school days held so far


class Watch:
    """Called by the sender each pass with the time; queues what has become due."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        # The digest's figures come from the same reports as the dashboard (one source).
        self.digest = DailyDigest(store, clock or SystemClock())
        self.termly = TermlySummary(store)

    def __call__(self, now: datetime) -> None:
        """Look at every site once."""
        with self.store.read() as s:
            sites = [site.id for site in s.scalars(select(Site))]
        for site_id in sites:
            # Look first, write only when something is due: a pass every few seconds must
            # not take SQLite's write lock from the kiosks' events for nothing.
            with self.store.read() as s:
                site = s.get(Site, site_id)
                due = self.alerts_due(s, site, now) if site is not None else []
            if due:
                with self.store.write() as s:
                    self.tell_office(s, site_id, now, due)
            self.digest(site_id, now)
            self.termly(site_id, now)

    def alerts_due(self, s: Session, site: Site, now: datetime) -> list[Due]:
        """The office's alerts that have become due at ``site`` and were not queued yet: a
        device left in school overnight, a held device still held after the school's N
        school days."""
        settings = settings_for(s, site.id)
        today = local_today(site, now)
        records = s.scalars(select(CustodyRecord).where(
            CustodyRecord.site_id == site.id, CustodyRecord.state.in_(st.OPEN),
            CustodyRecord.pupil_id.is_not(None))).all()
        told = {(kind, ref) for kind, ref in s.execute(select(
            Notification.kind, Notification.entity_id).where(
            Notification.site_id == site.id, Notification.entity == "custody",
            Notification.kind.in_(("left_overnight", "held_too_long"))))}
        # Both answers depend only on the day a device came in: work each out once per day,
        # not once per device.
        by_day: dict[date, tuple[bool, int]] = {}
        due = []
        for rec in records:
            if rec.came_in_day not in by_day:
                by_day[rec.came_in_day] = (overnight(s, site, rec, now) is not None,
                                           school_days_held(s, site, rec, today))
            left, days = by_day[rec.came_in_day]
            due += [Due(kind, rec.id, days) for kind in self._due(settings, rec, left, days)
                    if (kind, rec.custody_id) not in told]
        return due

    @staticmethod
    def tell_office(s: Session, site_id: int, now: datetime, due: list[Due]) -> None:
        """Queue the office's alerts (the dedupe keys make a repeat a no-op)."""
        site = s.get(Site, site_id)
        for item in due:
            rec = s.get(CustodyRecord, item.record_id)
            pupil = s.get(Pupil, rec.pupil_id) if rec and rec.pupil_id else None
            if site is None or rec is None or pupil is None or rec.state not in st.OPEN:
                continue  # handed back since the look: nothing to tell
            if office_told_of_held_device(
                    s, now, kind=item.kind, record="custody", record_id=rec.custody_id,
                    pupil=pupil, site=site, since=rec.came_in_day, days=item.days,
                    held=rec.state in st.HELD, where=where_kept(s, rec)):
                log.info("event=office_alert_queued kind=%s site=%s custody_id=%s days=%s",
                         item.kind, site.code, rec.custody_id, item.days)

    @staticmethod
    def _due(settings: NotifySettings, rec: CustodyRecord, left_overnight: bool, days: int
             ) -> list[str]:
        due = ["left_overnight"] if settings.office_when_overnight and left_overnight else []
        limit = settings.office_when_held_days
        if limit and rec.state in st.HELD and days >= limit:
            due.append("held_too_long")
        return due
