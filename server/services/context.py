"""What every office action shares: the store, the clock, the role check, audit and publish.

An action runs as::

    with ctx.action(actor, "confiscation.create", roles=OFFICE) as act:
        ... change records through act.session ...
        act.audit(entity="confiscation", entity_id=..., reason=..., detail=...)
        act.touch(site_id)            # the kiosks' replica must change
        act.command(cmd, site_code)   # publish after commit

Everything the block did is committed together with its audit entries; only after the
commit are replicas republished and commands sent, so a kiosk never hears of a change the
database could still roll back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.clock import Clock
from lockers.wire import messages as m
from server import audit, tenancy
from server.commands import CommandCenter
from server.errors import Forbidden, NotFound
from server.models import Kiosk, Pupil, Site, Staff
from server.replica import ReplicaPublisher
from server.store import Store

OFFICE = frozenset({"office", "dsl", "leadership", "trust", "admin"})
LEADERSHIP = frozenset({"leadership", "trust", "admin"})
ADMIN = frozenset({"admin"})


@dataclass
class Action:
    """One office action in progress (see the module doc)."""

    session: Session
    staff: Staff
    name: str
    clock: Clock
    entries: list[audit.Entry] = field(default_factory=list)
    sites: set[int] = field(default_factory=set)
    commands: list[tuple[m.Command, str]] = field(default_factory=list)

    def audit(self, entity: str, entity_id: object = None, *, reason: str | None = None,
              pupil_ref: str | None = None, detail: dict[str, Any] | None = None,
              action: str | None = None) -> None:
        """Record who/when/why for this action (committed with it)."""
        self.entries.append(audit.Entry(
            actor=audit.staff_actor(self.staff.username), action=action or self.name, entity=entity,
            entity_id=None if entity_id is None else str(entity_id), pupil_ref=pupil_ref,
            reason=reason, detail=detail))

    def touch(self, site_id: int | None) -> None:
        """The replica of ``site_id`` (None: all sites) must be republished after commit."""
        self.sites.add(site_id)  # type: ignore[arg-type]

    def command(self, command: m.Command, site_code: str) -> None:
        """Publish ``command`` after commit."""
        self.commands.append((command, site_code))


class ServiceContext:
    """The shared plumbing of the service layer."""

    def __init__(self, store: Store, clock: Clock, replica: ReplicaPublisher | None = None,
                 commands: CommandCenter | None = None) -> None:
        self.store, self.clock, self.replica = store, clock, replica
        self.commands = commands or CommandCenter(store, clock, None)
        tenancy.install()  # reads inside a web request see only its schools

    @contextmanager
    def action(self, actor: str, name: str, roles: frozenset[str] = OFFICE
               ) -> Iterator[Action]:
        """Run an office action as staff member ``actor`` (a username)."""
        with self.store.write() as s:
            staff = s.scalar(select(Staff).where(Staff.username == actor))
            if staff is None or not staff.active:
                raise Forbidden(f"staff account {actor!r} does not exist or is disabled")
            if staff.role not in roles:
                raise Forbidden(f"{name} needs one of the roles {sorted(roles)}; "
                                 f"{actor} is {staff.role}")
            act = Action(s, staff, name, self.clock)
            yield act
            audit.append(s, self.clock.now(), act.entries, chain=_chain_of(s, act))
        if self.replica is not None:
            for site_id in act.sites:
                self.replica.changed(site_id)
        for command, site_code in act.commands:
            self.commands.dispatch(command, site_code)

    # --- lookups every action needs -----------------------------------------------------

    @staticmethod
    def pupil(s: Session, reference: str, site: str | None = None) -> Pupil:
        """A pupil by reference (UPN / MIS id), optionally within one site. Inside a web
        request only the request's school is searched (:mod:`server.tenancy`)."""
        q = select(Pupil).where(Pupil.reference == reference)
        if site is not None:
            q = q.join(Site).where(Site.code == site)
        found = s.scalars(q).all()
        if not found:
            raise NotFound(f"no pupil with reference {reference!r}")
        if len(found) > 1:
            raise NotFound(f"pupil reference {reference!r} exists at several sites: name one")
        return found[0]

    @staticmethod
    def staff_member(s: Session, username: str) -> Staff:
        """A staff account by username; inside a web request only the request's schools'
        accounts and the trust's own (no school) exist, so one school's admin cannot
        change another school's staff."""
        q = select(Staff).where(Staff.username == username)
        scope = tenancy.current()
        if scope is not None:
            q = q.where(Staff.site_id.in_(scope.visible) | Staff.site_id.is_(None))
        row = s.scalar(q)
        if row is None:
            raise NotFound(f"no staff account {username!r}")
        return row

    @staticmethod
    def site(s: Session, code: str | None = None) -> Site:
        """A site by code; ``None`` means the school chosen in this web request, or, with one
        site only, that one. A school outside the request's scope does not exist for it."""
        if code is None:
            sites = s.scalars(select(Site)).all()
            if len(sites) != 1:
                raise NotFound(_no_single_site(len(sites)))
            return sites[0]
        site = s.scalar(select(Site).where(Site.code == code))
        if site is None:
            raise NotFound(f"no site {code!r}")
        return site

    @staticmethod
    def kiosk(s: Session, site: Site, code: str) -> Kiosk:
        """A kiosk of ``site`` by code."""
        kiosk = s.scalar(select(Kiosk).where(Kiosk.site_id == site.id, Kiosk.code == code))
        if kiosk is None:
            raise NotFound(f"no kiosk {code!r} at site {site.code}")
        return kiosk


def _no_single_site(count: int) -> str:
    """Why no one school could be chosen, in words an IT person can act on."""
    scope = tenancy.current()
    if scope is not None and not scope.allowed:
        return ("your account belongs to no school: an admin must link it to one "
                "(lockers staff-school USERNAME SITE)")
    if count == 0:
        return "no school is set up yet: an admin must add one (lockers add-school CODE NAME)"
    return "several schools exist: name the school (--site CODE)"


def _chain_of(s: Session, act: Action) -> str:
    """The audit chain an office action belongs to: the school whose records it changed (one
    school: its chain, so the school's audit shows it and no other school's does, even one
    with a pupil of the same reference), or the installation's ("") for anything else."""
    sites = act.sites - {None}
    if len(sites) == 1 and None not in act.sites:
        return s.scalar(select(Site.code).where(Site.id == next(iter(sites)))) or ""
    scope = tenancy.current()
    if not sites and scope is not None and scope.chosen is not None and \
            any(e.pupil_ref for e in act.entries):
        return scope.chosen.code  # about a pupil of the school the pages are about
    return ""
