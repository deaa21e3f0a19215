"""Schools as tenants: which schools a signed-in staff member may see, and the one place
that keeps every database read inside them.

A web request runs inside a :class:`Scope` (set by :mod:`server.web.scoping` for the
request, before any route runs). While a scope is set, every ORM ``SELECT`` (and bulk
``UPDATE``/``DELETE``) on any session gets ``WHERE <row belongs to a visible school>`` added
for every school-owned table (:data:`SCHOOL_OWNED` says how each belongs). A route or service that
forgets to name the school therefore cannot read another school's rows: they do not exist
for it. Code outside a request (ingest, the CLI, the publisher, retention) runs without a
scope and sees the whole installation, as before.

Membership (DESIGN "Schools as tenants"): a staff member whose ``site_id`` is set belongs to
that school only; a trust role (``trust``, or ``admin`` without a school) sees every school
of the installation. A school role without a school sees the only school of a one-school
installation, and nothing once there are several (an admin must link the account).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, event, false, func, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from server import models as mdl

# Roles that see every school of the installation when their account names no school.
TRUST_ROLES = frozenset({"trust", "admin"})


@dataclass(frozen=True)
class School:
    """A school as the switcher shows it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Scope:
    """What one request may see: the schools the staff member belongs to (``allowed``) and
    the one the pages are about (``chosen``); ``visible`` is what queries are limited to."""

    allowed: tuple[School, ...]
    chosen: School | None
    whole_trust: bool = False  # the trust overview reads every allowed school at once

    @property
    def visible(self) -> frozenset[int]:
        """The site ids reads are limited to."""
        if self.whole_trust or self.chosen is None:
            return frozenset(s.id for s in self.allowed)
        return frozenset({self.chosen.id})

    @property
    def several(self) -> bool:
        """True when the staff member may switch between schools."""
        return len(self.allowed) > 1


NOBODY = Scope((), None)  # a request before sign-in: no school's rows at all
_scope: ContextVar[Scope | None] = ContextVar("lockers_school_scope", default=None)


def current() -> Scope | None:
    """The scope of the running request (None outside a request: the whole installation)."""
    return _scope.get()


def visible_codes() -> frozenset[str] | None:
    """The codes of the schools the running request may see (None outside a request)."""
    scope = current()
    if scope is None:
        return None
    return frozenset(x.code for x in scope.allowed if x.id in scope.visible)


@contextmanager
def scoped(scope: Scope | None) -> Iterator[Scope | None]:
    """Run the block inside ``scope`` (restored afterwards)."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def use(scope: Scope) -> None:
    """Set the scope for the rest of this request's context (an async dependency does this
    after checking HTTP Basic credentials; the request's middleware restores it after)."""
    _scope.set(scope)


@contextmanager
def whole_trust() -> Iterator[Scope | None]:
    """Widen the running scope to every school the staff member belongs to (the trust
    overview); outside a request nothing changes."""
    scope = current()
    with scoped(replace(scope, whole_trust=True) if scope is not None else None) as wide:
        yield wide


# --- who may see which school ---------------------------------------------------------------

def allowed_schools(s: Session, role: str, site_id: int | None) -> tuple[School, ...]:
    """The schools a staff member with ``role`` and ``site_id`` belongs to."""
    sites = [School(st.id, st.code, st.name) for st in
             s.scalars(select(mdl.Site).order_by(mdl.Site.name, mdl.Site.code))]
    if site_id is not None:
        return tuple(x for x in sites if x.id == site_id)
    if role in TRUST_ROLES or len(sites) == 1:
        return tuple(sites)
    return ()


def scope_for_staff(s: Session, staff_id: int, wanted: str | None) -> Scope:
    """The scope of staff member ``staff_id`` who last chose school ``wanted`` (a code);
    a school they may not see is never chosen, whatever the session says."""
    staff = s.get(mdl.Staff, staff_id)
    if staff is None or not staff.active:
        return NOBODY
    allowed = allowed_schools(s, staff.role, staff.site_id)
    chosen = next((x for x in allowed if x.code == wanted), allowed[0] if allowed else None)
    return Scope(allowed, chosen)


def audit_visible(s: Session) -> ColumnElement[bool] | None:
    """Which audit entries the running scope may read (None: all of them). An entry in a
    school's chain (its kiosks' events, office actions on its records) is that school's. In
    the installation's chain an entry is a school's when its actor is one of the school's
    kiosks or staff, or when it names one of the school's pupils and was made by the trust's
    own staff or the system. Seeing every school of the installation means seeing it all."""
    scope = current()
    if scope is None:
        return None
    ids = scope.visible
    with scoped(None):
        every = s.scalar(select(func.count()).select_from(mdl.Site)) or 0
        codes = list(s.scalars(select(mdl.Site.code).where(mdl.Site.id.in_(ids))))
        staff = list(s.scalars(select(mdl.Staff.username).where(mdl.Staff.site_id.in_(ids))))
        trust = list(s.scalars(select(mdl.Staff.username).where(mdl.Staff.site_id.is_(None))))
        refs = select(mdl.Pupil.reference).where(mdl.Pupil.site_id.in_(ids))
    if ids and len(ids) == every:
        return None
    entry = mdl.AuditEntry
    kiosks = [entry.actor.startswith(f"kiosk:{code}/", autoescape=True) for code in codes]
    # A school's chain is its own; the installation's chain ("") holds what came before
    # school chains, staff accounts and the like: those are a school's by who and whom.
    return or_(entry.chain.in_(codes), and_(entry.chain == "", or_(
        false(), *kiosks, entry.actor.in_([f"staff:{u}" for u in staff]),
        and_(entry.pupil_ref.in_(refs),
             entry.actor.in_([f"staff:{u}" for u in trust] + ["system"])))))


# --- the one place reads are limited --------------------------------------------------------

def _kiosks_of(ids: frozenset[int]) -> Any:
    return select(mdl.Kiosk.id).where(mdl.Kiosk.site_id.in_(ids)).scalar_subquery()


def _pupils_of(ids: frozenset[int]) -> Any:
    return select(mdl.Pupil.id).where(mdl.Pupil.site_id.in_(ids)).scalar_subquery()


@lru_cache(maxsize=256)
def _criteria(ids: frozenset[int]) -> tuple[Any, ...]:
    """A loader-criteria option for every school-owned table, limiting it to ``ids``."""
    out: list[tuple[type, Any]] = [(mdl.Site, mdl.Site.id.in_(ids))]
    for model in SCHOOL_OWNED["site_id"]:
        out.append((model, model.site_id.in_(ids)))  # type: ignore[attr-defined]
    for model in SCHOOL_OWNED["kiosk_id"]:
        out.append((model, model.kiosk_id.in_(_kiosks_of(ids))))  # type: ignore[attr-defined]
    for model in SCHOOL_OWNED["pupil_id"]:
        out.append((model, model.pupil_id.in_(_pupils_of(ids))))  # type: ignore[attr-defined]
    groups = select(mdl.PupilGroup.id).where(mdl.PupilGroup.site_id.in_(ids)).scalar_subquery()
    out.append((mdl.GroupWindow, mdl.GroupWindow.group_id.in_(groups)))
    records = select(mdl.CustodyRecord.id).where(
        mdl.CustodyRecord.site_id.in_(ids)).scalar_subquery()
    out.append((mdl.CustodyMove, mdl.CustodyMove.record_id.in_(records)))
    # Built once per set of schools (building them cost 4 ms a query); they are immutable.
    return tuple(with_loader_criteria(model, clause, include_aliases=True)
                 for model, clause in out)


# How each table belongs to a school. tests/test_tenancy_isolation.py checks that every
# table is here or in NOT_SCHOOL_OWNED, so a new table cannot be forgotten.
SCHOOL_OWNED: dict[str, tuple[type, ...]] = {
    "site_id": (mdl.Pupil, mdl.Card, mdl.Kiosk, mdl.Term, mdl.CalendarDay, mdl.PupilContact,
                mdl.CustodyRecord, mdl.PupilGroup, mdl.RosterMapping, mdl.Notification,
                mdl.NotifySettings, mdl.Deposit, mdl.Confiscation, mdl.PhoneRegister,
                mdl.Absence, mdl.OffSite),
    "kiosk_id": (mdl.Event, mdl.Alarm, mdl.Command, mdl.Slot, mdl.PendingEvent),
    "pupil_id": (mdl.PupilException, mdl.EligibilityAgreement, mdl.EarlyRelease,
                 mdl.GroupMember),
    "other": (mdl.Site, mdl.GroupWindow, mdl.CustodyMove),
}
# Tables that belong to no one school, and why.
NOT_SCHOOL_OWNED: dict[type, str] = {
    mdl.Staff: "sign-in reads it before a scope exists; lists are scoped by the services",
    mdl.WebSession: "a session belongs to a staff member",
    mdl.CredentialGuard: "sign-in throttling counts per name and address",
    mdl.AuditEntry: "one chain for the installation; Reports.audit_search scopes reads",
    mdl.AuditHead: "the chain's head",
    mdl.StaffIdentity: "links a trust identity to a staff account; read at sign-in only",
}


def _limit_to_scope(state: ORMExecuteState) -> None:
    scope = current()
    # Reads, and bulk UPDATE/DELETE statements too: a bulk write names its rows by a WHERE
    # clause, so it gets the same limit (writes of loaded objects start from a scoped read).
    if scope is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(*_criteria(scope.visible))


def install() -> None:
    """Limit every ORM read of every session to the running scope (idempotent)."""
    if not event.contains(Session, "do_orm_execute", _limit_to_scope):
        event.listen(Session, "do_orm_execute", _limit_to_scope)
