"""Admin actions: sites and their settings, kiosks and slots, staff accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import select

from lockers.cardhash import card_hash
from lockers.wire.topics import check_id
from server import audit, tenancy
from server.errors import Forbidden, NotAllowed, NotFound
from server.models import Kiosk, Site, Slot, Staff
from server.passwords import check_password, check_pin_rule, hash_password, hash_pin
from server.services.context import ADMIN, ServiceContext
from server.services.signin import revoke_sessions
from server.tenancy import TRUST_ROLES

# dsl: the designated safeguarding lead; trust: trust leadership, every school (tenancy)
ROLES = ("office", "dsl", "leadership", "trust", "admin")
SETTINGS = {"name": str, "timezone": str, "assignment_mode": str,
            "breaches_before_parent_collection": int, "retention_days": int,
            "release_opens": time, "release_closes": time, "late_after": (time, type(None)),
            "door_open_alarm_s": int, "eligibility_required": bool}


@dataclass(frozen=True)
class StaffView:
    """A staff account without its secrets."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool


class AdminServices:
    """Set-up and settings, for admins."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def create_site(self, actor: str, code: str, name: str, timezone: str = "Europe/London",
                    **settings: Any) -> int:
        """Add a school site with a fresh card-hash key."""
        check_id("site", code)
        with self.ctx.action(actor, "site.create", roles=ADMIN) as act:
            if act.staff.site_id is not None:
                raise Forbidden("only a trust admin (an admin of no one school) adds schools")
            site = Site(code=code, name=name, timezone=timezone,
                        card_hash_key=secrets.token_hex(32))
            _apply_settings(site, settings)
            act.session.add(site)
            act.session.flush()
            act.audit("site", code, detail={"name": name, "timezone": timezone, **settings})
            act.touch(site.id)
            return site.id

    def update_settings(self, actor: str, reason: str, site: str | None = None,
                        **changes: Any) -> None:
        """Change school settings (assignment mode, breaches before parent collection,
        retention days, release window, late_after, ...)."""
        with self.ctx.action(actor, "site.settings", roles=ADMIN) as act:
            st = self.ctx.site(act.session, site)
            before = {k: getattr(st, k) for k in changes}
            _apply_settings(st, changes)
            act.audit("site", st.code, reason=reason,
                      detail={"before": before, "after": changes})
            act.touch(st.id)

    def add_kiosk(self, actor: str, code: str, name: str = "", slots: int = 0,
                  bank: str = "A", site: str | None = None, place: str = "") -> int:
        """Register a kiosk with ``slots`` slots numbered from 1."""
        check_id("kiosk", code)
        with self.ctx.action(actor, "kiosk.create", roles=ADMIN) as act:
            st = self.ctx.site(act.session, site)
            if act.session.scalar(select(Kiosk).where(Kiosk.site_id == st.id,
                                                      Kiosk.code == code)):
                raise NotAllowed(f"{st.name} already has a kiosk {code!r}: choose another id")
            kiosk = Kiosk(site_id=st.id, code=code, name=name or code, place=place)
            act.session.add(kiosk)
            act.session.flush()
            for n in range(1, slots + 1):
                act.session.add(Slot(kiosk_id=kiosk.id, number=n, bank=bank))
            act.audit("kiosk", f"{st.code}/{code}", detail={"slots": slots, "bank": bank,
                                                             "name": kiosk.name,
                                                             "place": place})
            act.touch(st.id)
            return kiosk.id

    def name_kiosk(self, actor: str, kiosk: str, name: str, place: str,
                   site: str | None = None) -> None:
        """Give a kiosk a name and say where it stands ("Main entrance", "Sports hall
        door"), so staff know which one an alarm or a count is about."""
        name, place = name.strip(), place.strip()
        if not name:
            raise NotAllowed("give the kiosk a name staff will recognise, e.g. Main entrance")
        with self.ctx.action(actor, "kiosk.name", roles=ADMIN) as act:
            st = self.ctx.site(act.session, site)
            k = self.ctx.kiosk(act.session, st, kiosk)
            before = {"name": k.name, "place": k.place}
            k.name, k.place = name[:200], place[:200]
            act.audit("kiosk", f"{st.code}/{k.code}",
                      detail={"before": before, "after": {"name": k.name, "place": k.place}})

    def assign_slot(self, actor: str, kiosk: str, slot: int, pupil_ref: str | None,
                    site: str | None = None) -> None:
        """Fix a slot to a pupil (fixed assignment mode), or free it with ``None``."""
        with self.ctx.action(actor, "slot.assign", roles=ADMIN | {"office"}) as act:
            st = self.ctx.site(act.session, site)
            k = self.ctx.kiosk(act.session, st, kiosk)
            row = act.session.scalar(select(Slot).where(Slot.kiosk_id == k.id,
                                                        Slot.number == slot))
            if row is None:
                raise NotFound(f"kiosk {kiosk} has no slot {slot}")
            pupil = self.ctx.pupil(act.session, pupil_ref, st.code) if pupil_ref else None
            row.assigned_pupil_id = pupil.id if pupil else None
            act.audit("slot", f"{st.code}/{kiosk}/{slot}", pupil_ref=pupil_ref)
            act.touch(st.id)

    def create_staff(self, actor: str | None, username: str, display_name: str, role: str,
                     password: str, site: str | None = None) -> StaffView:
        """Add a staff account (``actor`` None only for the first admin made by ``init``)."""
        if role not in ROLES:
            raise NotAllowed(f"role must be one of {ROLES}")
        if actor is None:
            return self._first_admin(username, display_name, password)
        with self.ctx.action(actor, "staff.create", roles=ADMIN) as act:
            site_id = self.ctx.site(act.session, site).id if site else act.staff.site_id
            scope = tenancy.current()
            if site_id is None and role not in TRUST_ROLES and scope and scope.chosen:
                # Made on the web by a trust admin: a school role joins the school the page
                # is about (an account of no school sees nothing once there are several).
                site_id = scope.chosen.id
            if act.staff.site_id is not None and (site_id != act.staff.site_id
                                                  or role == "trust"):
                # A school's admin makes accounts for that school only, never trust-wide ones.
                raise Forbidden("a school's admin may add staff to their own school only")
            if act.session.scalar(select(Staff).where(Staff.username == username)):
                raise NotAllowed(f"username {username!r} is taken")
            row = Staff(username=username, display_name=display_name, role=role,
                        password_hash=hash_password(password, username, display_name),
                        site_id=site_id,
                        created_at=self.ctx.clock.now())
            act.session.add(row)
            act.session.flush()
            act.audit("staff", username, detail={"role": role, "display_name": display_name})
            return StaffView(row.id, username, display_name, role, True)

    def set_staff_school(self, actor: str, username: str, site: str | None) -> None:
        """Make ``username`` a member of school ``site`` only, or (``None``) of no one
        school: a trust role then sees every school, a school role none (server.tenancy)."""
        with self.ctx.action(actor, "staff.school", roles=ADMIN) as act:
            if act.staff.site_id is not None:
                raise Forbidden("only a trust admin (an admin of no one school) moves staff "
                                "between schools")
            row = self.ctx.staff_member(act.session, username)
            row.site_id = self.ctx.site(act.session, site).id if site else None
            act.audit("staff", username, detail={"school": site})
            # What the account may see changes now, not when its sessions expire.
            revoke_sessions(act.session, row.id, self.ctx.clock.now(), "school_changed")
            act.touch(None)

    def set_staff_card(self, actor: str, username: str, uid: str, pin: str,
                       site: str | None = None) -> None:
        """Give a staff member a kiosk staff card and PIN (at least six digits)."""
        check_pin_rule(pin)
        with self.ctx.action(actor, "staff.card", roles=ADMIN) as act:
            st = self.ctx.site(act.session, site)
            row = self.ctx.staff_member(act.session, username)
            row.card_hash, row.pin_hash = card_hash(st.card_hash_key, uid), hash_pin(pin)
            act.audit("staff", username, detail={"card_hash": row.card_hash})
            act.touch(None)

    def clear_staff_card(self, actor: str, username: str) -> None:
        """Take a staff member's kiosk card and PIN away (a lost card, or they left):
        the kiosks stop accepting the card with the next replica."""
        with self.ctx.action(actor, "staff.card", roles=ADMIN) as act:
            row = act.session.scalar(select(Staff).where(Staff.username == username))
            if row is None:
                raise NotFound(f"no staff account {username!r}")
            row.card_hash, row.pin_hash = None, None
            act.audit("staff", username, detail={"card_hash": None})
            act.touch(None)

    def set_active(self, actor: str, username: str, active: bool, reason: str) -> None:
        """Enable or disable a staff account (disabled staff cards leave the kiosks too)."""
        if not active and actor == username:  # the last admin could lock everyone out
            raise NotAllowed("you cannot deactivate your own account: ask another admin")
        with self.ctx.action(actor, "staff.active", roles=ADMIN) as act:
            row = self.ctx.staff_member(act.session, username)
            row.active = active
            act.audit("staff", username, reason=reason, detail={"active": active})
            if not active:  # a disabled account's open sessions end now, not in 8 hours
                revoke_sessions(act.session, row.id, self.ctx.clock.now(), "disabled")
            act.touch(None)

    def change_password(self, actor: str, username: str, current: str | None,
                        new: str) -> None:
        """Set a new password: one's own (``current`` must be right) or, for an admin,
        anyone's. Every open session of the account ends (sign in again)."""
        with self.ctx.action(actor, "staff.password", roles=frozenset(ROLES)) as act:
            row = self.ctx.staff_member(act.session, username)
            if actor == username:
                if current is None or not check_password(row.password_hash, current):
                    raise NotAllowed("the current password is wrong")
            elif act.staff.role != "admin":
                raise Forbidden("only an admin may set another person's password")
            row.password_hash = hash_password(new, row.username, row.display_name)
            revoked = revoke_sessions(act.session, row.id, self.ctx.clock.now(),
                                      "password_changed")
            act.audit("staff", username, detail={"sessions_ended": revoked})

    def authenticate(self, username: str, password: str) -> StaffView | None:
        """The staff account if ``password`` is right and the account active, else None."""
        with self.ctx.store.read() as s:
            row = s.scalar(select(Staff).where(Staff.username == username))
            # Always one argon2 check (a dummy one for an unknown name), so the time taken
            # does not tell whether the account exists.
            ok = check_password(row.password_hash if row else None, password)
            if row is None or not row.active or not ok:
                return None
            return StaffView(row.id, row.username, row.display_name, row.role, row.active)

    def _first_admin(self, username: str, display_name: str, password: str) -> StaffView:
        with self.ctx.store.write() as s:
            if s.scalar(select(Staff).limit(1)) is not None:
                raise NotAllowed("staff accounts exist already; sign in as an admin instead")
            row = Staff(username=username, display_name=display_name, role="admin",
                        password_hash=hash_password(password, username, display_name),
                        created_at=self.ctx.clock.now())
            s.add(row)
            s.flush()
            audit.append(s, self.ctx.clock.now(), [audit.Entry(
                actor=audit.SYSTEM, action="staff.create", entity="staff", entity_id=username,
                reason="first admin (lockers init)", detail={"role": "admin"})])
            return StaffView(row.id, username, display_name, "admin", True)


def _apply_settings(site: Site, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        kind = SETTINGS.get(key)
        if kind is None:
            raise NotAllowed(f"unknown setting {key!r}; known: {sorted(SETTINGS)}")
        if not isinstance(value, kind):
            raise NotAllowed(f"setting {key} has the wrong type ({type(value).__name__})")
        if key == "assignment_mode" and value not in ("fixed", "dynamic"):
            raise NotAllowed("assignment_mode is 'fixed' or 'dynamic'")
        if key == "breaches_before_parent_collection" and value < 1:
            raise NotAllowed("breaches_before_parent_collection must be at least 1")
        setattr(site, key, value)
