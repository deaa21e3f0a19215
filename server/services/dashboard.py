"""What leadership's dashboard shows beyond the day's counters: phones in lockers now, phones
left at close, each kiosk's name and place, and the morning's hand-in times for the chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from server.custody import states as cs
from server.models import CustodyRecord, Deposit, Kiosk, Site
from server.policy.calendar import kiosk_days, local_now
from server.services.context import ServiceContext


@dataclass(frozen=True)
class LockerFigures:
    """Phones in the lockers now and, once the release window has closed, left at close."""

    in_lockers_now: int  # every device in a kiosk slot, held ones included
    held_in_lockers: int  # of which confiscated (they stay until the office releases them)
    closes_at: time | None  # today's release window closes (local), None on a closed day
    left_at_close: int | None  # not collected after the window closed; None before it has
    arrivals: list[datetime] = field(default_factory=list)  # today's hand-ins, local time


def as_utc(at: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands naive UTC back)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class DashboardReads:
    """Reads for the live dashboard."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def lockers(self, site: str | None = None) -> LockerFigures:
        """Today's locker figures at the site (the default site if none is named)."""
        with self.ctx.store.read() as s:
            st = self.ctx.site(s, site)
            now = local_now(st, self.ctx.clock.now())
            by_state = dict(s.execute(select(CustodyRecord.state, func.count()).where(
                CustodyRecord.site_id == st.id,
                CustodyRecord.state.in_((cs.IN_SLOT, cs.HELD_IN_SLOT)))
                .group_by(CustodyRecord.state)).all())
            today = kiosk_days(s, st, self.ctx.clock.now())[0]
            closes = today.release_closes if today.school_day else None
            arrivals = [as_utc(at).astimezone(now.tzinfo) for at in s.scalars(
                select(Deposit.deposited_at).where(Deposit.site_id == st.id,
                                                   Deposit.day == now.date())
                .order_by(Deposit.deposited_at))]
        in_slot, held = by_state.get(cs.IN_SLOT, 0), by_state.get(cs.HELD_IN_SLOT, 0)
        closed = closes is not None and now.time() >= closes
        return LockerFigures(in_slot + held, held, closes, in_slot if closed else None,
                             arrivals)

    def timezone(self, site: str | None = None) -> ZoneInfo:
        """The site's time zone: every time on the dashboard is the school's local time."""
        with self.ctx.store.read() as s:
            return ZoneInfo(self.ctx.site(s, site).timezone)

    def kiosk_names(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Each kiosk's (site code, kiosk code) -> (name, place), for every page that shows
        a kiosk."""
        with self.ctx.store.read() as s:
            return {(site, code): (name or code, place) for site, code, name, place in
                    s.execute(select(Site.code, Kiosk.code, Kiosk.name, Kiosk.place)
                              .join(Site))}
