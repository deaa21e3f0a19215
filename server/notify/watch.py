"""What the sender looks for on each pass: devices left overnight or held N school days (for
the office, from the custody records), leadership's daily digest after close on school days,
and the termly compliance summary once a term has ended. Each message's dedupe key names its
record, day or term, so a pass repeated (or run by several processes) queues it once.
"""

from __future__ import annotations

import logging
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
            with self.store.write() as s:
                site = s.get(Site, site_id)
                assert site is not None
                self.held_devices(s, site, now)
            self.digest(site_id, now)
            self.termly(site_id, now)

    def held_devices(self, s: Session, site: Site, now: datetime) -> None:
        """The office hears once of each device left in school overnight, and once of each
        held device still held after the school's N school days."""
        settings = settings_for(s, site.id)
        today = local_today(site, now)
        records = s.execute(select(CustodyRecord, Pupil).join(
            Pupil, Pupil.id == CustodyRecord.pupil_id).where(
            CustodyRecord.site_id == site.id, CustodyRecord.state.in_(st.OPEN))).all()
        # Both answers depend only on the day a device came in: work each out once per day,
        # not once per device (a pass runs every few seconds over every open record).
        by_day: dict[date, tuple[bool, int]] = {}
        told = {(kind, ref) for kind, ref in s.execute(select(
            Notification.kind, Notification.entity_id).where(
            Notification.site_id == site.id, Notification.entity == "custody",
            Notification.kind.in_(("left_overnight", "held_too_long"))))}
        for rec, pupil in records:
            if rec.came_in_day not in by_day:
                by_day[rec.came_in_day] = (overnight(s, site, rec, now) is not None,
                                           school_days_held(s, site, rec, today))
            left, days = by_day[rec.came_in_day]
            for kind in self._due(settings, rec, left, days):
                if (kind, rec.custody_id) in told:
                    continue  # told on an earlier pass: skip rendering it again
                office_told_of_held_device(
                    s, now, kind=kind, record="custody", record_id=rec.custody_id,
                    pupil=pupil, site=site, since=rec.came_in_day, days=days,
                    held=rec.state in st.HELD, where=where_kept(s, rec))

    @staticmethod
    def _due(settings: NotifySettings, rec: CustodyRecord, left_overnight: bool, days: int
             ) -> list[str]:
        due = ["left_overnight"] if settings.office_when_overnight and left_overnight else []
        limit = settings.office_when_held_days
        if limit and rec.state in st.HELD and days >= limit:
            due.append("held_too_long")
        return due
