"""Turning an identity from the trust's OpenID provider into a staff account, by the rules in
server.toml ``[[oidc.rules]]``.

Every sign-in applies the rules afresh: the first rule that matches gives the role and the
school (a removed group, or a moved teacher, takes effect at the next sign-in); no match is a
refusal, audit-logged, and ends the account's open sessions; there is never a default role.
The first sign-in links the identity (issuer + subject, the provider's permanent id) to the
staff account whose user name is the verified address, or creates one with no usable password.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import audit, tenancy
from server.errors import Forbidden
from server.models import Site, Staff, StaffIdentity
from server.oidc_config import MappingRule
from server.services.admin import StaffView
from server.services.context import ServiceContext
from server.services.signin import revoke_sessions

log = logging.getLogger("lockers.server.identities")

# Stored as the password hash of an account made by the provider: argon2 refuses to verify it,
# so such an account can only sign in through the provider.
NO_PASSWORD = "!signs-in-with-the-trust-account"


class IdentityRefused(Forbidden):
    """The provider vouched for this person, but the lockers give them no access."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in (from the verified ID token)."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    groups: frozenset[str]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Identity:
        """From ID token claims. Entra ID has no email_verified claim; its addresses come from
        the tenant's own directory, so a missing claim counts as verified, a false one not."""
        email = claims.get("email") or claims.get("preferred_username")
        groups = claims.get("groups") or []
        return cls(issuer=str(claims["iss"]), subject=str(claims["sub"]),
                   email=str(email).strip().lower() if email else None,
                   email_verified=claims.get("email_verified", True) not in (False, "false"),
                   name=claims.get("name"),
                   groups=frozenset(str(g) for g in groups if isinstance(g, str)))


class IdentityServices:
    """Sign-in by the trust's accounts: rules, linking, and the audit of both."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def sign_in(self, identity: Identity, rules: Sequence[MappingRule], address: str
                ) -> StaffView:
        """The staff account this identity signs in as, created or linked on first sign-in
        and given the role and school of the first matching rule; :class:`IdentityRefused`
        if no rule matches or the account is disabled here."""
        rule = next((r for r in rules if r.matches(identity.email, identity.email_verified,
                                                    identity.groups)), None)
        # Signing in comes before the person has any school: the rules name schools by
        # code and must see the whole installation, not the empty scope of a stranger.
        with tenancy.scoped(None), self.ctx.store.write() as s:
            link = s.scalar(select(StaffIdentity).where(
                StaffIdentity.issuer == identity.issuer,
                StaffIdentity.subject == identity.subject))
            if rule is None:
                self._refuse(s, identity, link, address, "no mapping rule matches")
            else:
                site_id = self._site_id(s, rule)
                staff = self._staff(s, identity, link, rule, site_id)
                if not staff.active:
                    self._refuse(s, identity, link, address, "staff account disabled")
                else:
                    return self._admit(s, identity, staff, rule, site_id, address)
        raise IdentityRefused(self._refusal_text(rule))

    @staticmethod
    def _refusal_text(rule: MappingRule | None) -> str:
        if rule is None:
            return ("your account is not given access to the phone lockers. Ask the trust's IT "
                    "to add you to the right group; nothing was set up for you")
        return "your staff account for the phone lockers is disabled: ask a lockers admin"

    def _refuse(self, s: Session, identity: Identity, link: StaffIdentity | None,
                address: str, why: str) -> None:
        """Audit and log a refusal; a linked account loses its open sessions at once."""
        now = self.ctx.clock.now()
        ended = revoke_sessions(s, link.staff_id, now, "access_removed") if link else 0
        audit.append(s, now, [audit.Entry(
            actor=audit.SYSTEM, action="auth.oidc_refused", entity="identity",
            entity_id=identity.email or identity.subject, reason=why,
            detail={"issuer": identity.issuer, "subject": identity.subject,
                    "groups": sorted(identity.groups), "address": address,
                    "sessions_ended": ended})])
        log.warning("event=oidc_refused email=%s subject=%s why=%r groups=%d ip=%s "
                    "sessions_ended=%d", identity.email, identity.subject, why,
                    len(identity.groups), address, ended)

    @staticmethod
    def _site_id(s: Session, rule: MappingRule) -> int | None:
        if rule.site is None:
            return None
        site = s.scalar(select(Site).where(Site.code == rule.site))
        if site is None:
            log.error("event=oidc_rule_unknown_site site=%s", rule.site)
            raise IdentityRefused(f"the sign-in rule for this account names school "
                                  f"{rule.site!r}, which does not exist: ask the lockers admin "
                                  "to correct [[oidc.rules]] in server.toml")
        return site.id

    def _staff(self, s: Session, identity: Identity, link: StaffIdentity | None,
               rule: MappingRule, site_id: int | None) -> Staff:
        """The linked account, or the verified address's unlinked account, or a new one."""
        now = self.ctx.clock.now()
        if link is not None:
            link.email = identity.email  # a renamed account: the link is the subject
            link.last_sign_in_at = now
            return s.get_one(Staff, link.staff_id)
        username = (identity.email or f"{identity.subject}@{identity.issuer}")[:64]
        staff = s.scalar(select(Staff).where(Staff.username == username))
        if staff is not None and s.scalar(select(StaffIdentity.id).where(
                StaffIdentity.staff_id == staff.id).limit(1)) is not None:
            raise IdentityRefused(f"the staff account {username!r} is already linked to another "
                                  "account at the provider: an admin must remove one of them")
        if staff is None:
            staff = Staff(username=username, display_name=identity.name or username,
                          role=rule.role, password_hash=NO_PASSWORD, site_id=site_id,
                          created_at=now)
            s.add(staff)
            s.flush()
        s.add(StaffIdentity(staff_id=staff.id, issuer=identity.issuer,
                            subject=identity.subject, email=identity.email, linked_at=now,
                            last_sign_in_at=now))
        audit.append(s, now, [audit.Entry(
            actor=audit.SYSTEM, action="staff.identity_linked", entity="staff",
            entity_id=staff.username, reason="first sign-in with the trust account",
            detail={"issuer": identity.issuer, "subject": identity.subject})])
        return staff

    def _admit(self, s: Session, identity: Identity, staff: Staff, rule: MappingRule,
               site_id: int | None, address: str) -> StaffView:
        """Apply the rule's role and school, audit the sign-in, and return the account."""
        before = (staff.role, staff.site_id)
        staff.role, staff.site_id = rule.role, site_id
        if identity.name:
            staff.display_name = identity.name[:200]
        audit.append(s, self.ctx.clock.now(), [audit.Entry(
            actor=audit.staff_actor(staff.username), action="auth.oidc_signed_in",
            entity="staff", entity_id=staff.username, reason="signed in with the trust account",
            detail={"role": rule.role, "site": rule.site, "address": address,
                    "changed_from": None if before == (rule.role, site_id) else list(before)})])
        log.info("event=oidc_signed_in user=%s role=%s site=%s ip=%s", staff.username,
                 rule.role, rule.site, address)
        return StaffView(staff.id, staff.username, staff.display_name, staff.role, staff.active)

    def record_failure(self, detail: str, address: str) -> None:
        """Audit a sign-in whose answer from the provider was refused (forged, expired, for
        another application, or the provider said no)."""
        with self.ctx.store.write() as s:
            audit.append(s, self.ctx.clock.now(), [audit.Entry(
                actor=audit.SYSTEM, action="auth.oidc_failed", entity="identity",
                entity_id=None, reason=detail[:500], detail={"address": address})])
