"""Which pupils have their own collection window today, from their groups.

A group's window applies on its weekdays (and between its dates, if it has them) when the
day is a school day; it replaces the school's window for the group's members. A pupil in
two groups with a window the same day gets the one that closes last, so a club member is
never shut out by being in a year group too.
"""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import GroupMember, GroupWindow, Pupil, PupilGroup, Site
from server.policy.calendar import release_day


def weekdays_of(text: str) -> set[int]:
    """"0,2" -> {0, 2} (Monday is 0)."""
    return {int(d) for d in text.split(",") if d.strip().isdigit()}


def windows_today(s: Session, site: Site, today: date) -> dict[int, tuple[time, time]]:
    """Pupil id -> (opens, closes) for every pupil whose group has a window ``today``."""
    if not release_day(s, site, today).school_day:
        return {}
    rows = s.execute(select(PupilGroup, GroupWindow).join(
        GroupWindow, GroupWindow.group_id == PupilGroup.id).where(
        PupilGroup.site_id == site.id)).all()
    out: dict[int, tuple[time, time]] = {}
    for group, window in rows:
        if today.weekday() not in weekdays_of(window.weekdays):
            continue
        if (window.starts and today < window.starts) or (window.ends and today > window.ends):
            continue
        if group.year_group is not None:
            members = s.scalars(select(Pupil.id).where(Pupil.site_id == site.id,
                                                       Pupil.year_group == group.year_group))
        else:
            members = s.scalars(select(GroupMember.pupil_id).where(
                GroupMember.group_id == group.id))
        for pid in members:
            if pid not in out or window.closes > out[pid][1]:
                out[pid] = (window.opens, window.closes)
    return out
