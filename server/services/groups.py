"""Groups and their collection windows: a year group, or a named group such as an
after-school club, with its own window on chosen days (leadership and admin)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import delete, select

from server.errors import NotAllowed, NotFound
from server.models import GroupMember, GroupWindow, Pupil, PupilGroup
from server.policy.groups import weekdays_of
from server.services.context import LEADERSHIP, ServiceContext

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class GroupView:
    """A group as the groups page lists it."""

    name: str
    year_group: str | None
    members: list[str]  # references (named groups)
    windows: list[str]  # "Mon, Wed 16:45–17:15"


class GroupServices:
    """Creating groups, their members and their windows; each republishes the replica."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def create_group(self, actor: str, name: str, year_group: str | None = None,
                     site: str | None = None) -> int:
        """A named group (members added after), or a whole year group."""
        with self.ctx.action(actor, "group.create", roles=LEADERSHIP) as act:
            st = self.ctx.site(act.session, site)
            if act.session.scalar(select(PupilGroup).where(PupilGroup.site_id == st.id,
                                                           PupilGroup.name == name)):
                raise NotAllowed(f"there is already a group called {name!r}")
            group = PupilGroup(site_id=st.id, name=name[:100], year_group=year_group or None)
            act.session.add(group)
            act.session.flush()
            act.audit("group", name, detail={"year_group": year_group})
            return group.id

    def set_members(self, actor: str, name: str, refs: list[str],
                    site: str | None = None) -> list[str]:
        """Make ``refs`` the members of named group ``name``; returns refs not on roll."""
        with self.ctx.action(actor, "group.members", roles=LEADERSHIP) as act:
            st = self.ctx.site(act.session, site)
            group = self._group(act.session, st.id, name)
            if group.year_group is not None:
                raise NotAllowed("a year group's members are the pupils in that year")
            pupils = {p.reference: p.id for p in act.session.scalars(select(Pupil).where(
                Pupil.site_id == st.id, Pupil.reference.in_(refs), Pupil.archived.is_(False)))}
            act.session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
            for pid in pupils.values():
                act.session.add(GroupMember(group_id=group.id, pupil_id=pid))
            act.audit("group", name, detail={"members": sorted(pupils)})
            act.touch(st.id)
            return [r for r in refs if r not in pupils]

    def set_window(self, actor: str, name: str, weekdays: set[int], opens: time,
                   closes: time, starts: date | None = None, ends: date | None = None,
                   site: str | None = None) -> None:
        """Give group ``name`` its own collection window on ``weekdays`` (Monday is 0)."""
        if closes <= opens:
            raise NotAllowed("the window must close after it opens")
        if not weekdays or not weekdays <= set(range(7)):
            raise NotAllowed("choose at least one day of the week")
        with self.ctx.action(actor, "group.window", roles=LEADERSHIP) as act:
            st = self.ctx.site(act.session, site)
            group = self._group(act.session, st.id, name)
            act.session.add(GroupWindow(group_id=group.id,
                                        weekdays=",".join(map(str, sorted(weekdays))),
                                        opens=opens, closes=closes, starts=starts, ends=ends))
            act.audit("group", name, detail={"weekdays": sorted(weekdays), "opens": opens,
                                             "closes": closes})
            act.touch(st.id)

    def groups(self, site: str | None = None) -> list[GroupView]:
        """Every group of the site with its members and windows."""
        with self.ctx.store.read() as s:
            st = self.ctx.site(s, site)
            out = []
            for g in s.scalars(select(PupilGroup).where(PupilGroup.site_id == st.id)
                               .order_by(PupilGroup.name)):
                members = list(s.scalars(select(Pupil.reference).join(
                    GroupMember, GroupMember.pupil_id == Pupil.id).where(
                    GroupMember.group_id == g.id).order_by(Pupil.reference)))
                windows = [", ".join(DAY_NAMES[d] for d in sorted(weekdays_of(w.weekdays)))
                           + f" {w.opens:%H:%M}–{w.closes:%H:%M}"
                           for w in s.scalars(select(GroupWindow).where(
                               GroupWindow.group_id == g.id))]
                out.append(GroupView(g.name, g.year_group, members, windows))
            return out

    @staticmethod
    def _group(s: object, site_id: int, name: str) -> PupilGroup:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        group = s.scalar(select(PupilGroup).where(PupilGroup.site_id == site_id,
                                                  PupilGroup.name == name))
        if group is None:
            raise NotFound(f"no group called {name!r}")
        return group
