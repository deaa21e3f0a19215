"""Whether a custody record is held right now, and since when it has been left overnight.

Held is per record: a pupil with a held second device still collects their normal phone. A
confiscation released "pupil end of day" stops being held when that day's release window
opens (or on any later day), so the pupil collects it like any other day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.custody import states as st
from server.models import Confiscation, CustodyRecord, Site
from server.policy.calendar import local_now, release_day

PUPIL_END_OF_DAY = "pupil_end_of_day"
PARENT_ONLY = "parent_only"

Back = Literal["at_window", "parent_or_carer", "office"]


class HeldRules:
    """Decides held-ness for one site at one moment (reads the calendar once)."""

    def __init__(self, session: Session, site: Site, now: datetime) -> None:
        self.session, self.site, self.now = session, site, now
        self.local = local_now(site, now)
        self.today = self.local.date()
        window = release_day(session, site, self.today)
        self.window_open_today = (window.school_day and window.release_opens is not None
                                  and self.local.time() >= window.release_opens)
        self._modes: dict[int, str] = {}

    def release_mode(self, rec: CustodyRecord) -> str | None:
        """The confiscation's release mode (None: not confiscated)."""
        if rec.confiscation_id is None:
            return None if rec.state not in st.HELD else PARENT_ONLY
        if rec.confiscation_id not in self._modes:
            self._modes[rec.confiscation_id] = self.session.scalar(select(
                Confiscation.release_mode).where(Confiscation.id == rec.confiscation_id)
            ) or PARENT_ONLY
        return self._modes[rec.confiscation_id]

    def held(self, rec: CustodyRecord) -> bool:
        """Whether the pupil's own tap must not get this device back now."""
        if rec.state not in st.HELD:
            return False
        if self.release_mode(rec) == PUPIL_END_OF_DAY:
            return not (rec.came_in_day < self.today
                        or (rec.came_in_day == self.today and self.window_open_today))
        return True

    def back(self, rec: CustodyRecord) -> Back:
        """How the device comes back, in the kiosk screen's words."""
        if rec.state in st.HELD and self.release_mode(rec) == PARENT_ONLY:
            return "parent_or_carer"
        return "at_window" if rec.state in st.IN_A_SLOT else "office"


def left_overnight_since(session: Session, site: Site, rec: CustodyRecord
                         ) -> datetime | None:
    """When an open record became "left overnight": the close of the release window of the
    day it came in (midnight if that day had none); None while that moment is still ahead."""
    if rec.state not in st.OPEN:
        return None
    window = release_day(session, site, rec.came_in_day)
    closes = window.release_closes if window.release_closes is not None else dtime(23, 59, 59)
    return datetime.combine(rec.came_in_day, closes, tzinfo=ZoneInfo(site.timezone))


def overnight(session: Session, site: Site, rec: CustodyRecord, now: datetime
              ) -> timedelta | None:
    """How long ``rec`` has been held since it came in, if it has been left overnight."""
    since = left_overnight_since(session, site, rec)
    if since is None or now < since:
        return None
    return now - rec.came_in_at
