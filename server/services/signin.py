"""Signing in: one guard for every credential path (the web's sign-in form and the HTTP Basic
API), and server-side sessions that can be ended.

The guard counts attempts per user name and per address in the database, so every server
process sees the same counts. An attempt is counted *before* the password is checked, inside
a write transaction (SQLite's BEGIN IMMEDIATE, a row lock on PostgreSQL): twenty requests
sent at once for one account get at most ``USER_LIMIT`` password checks, not twenty. A
refused or failed attempt is logged and written to the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import audit
from server.errors import Forbidden, NotAllowed
from server.models import CredentialGuard, Staff, WebSession
from server.services.context import ServiceContext

log = logging.getLogger("lockers.server.signin")

USER_LIMIT = 5  # wrong passwords for one user name before it is locked
ADDRESS_LIMIT = 30  # wrong passwords from one address (spraying many names)
WINDOW = timedelta(minutes=15)  # failures older than this are forgotten
LOCKOUT = timedelta(minutes=15)
SESSION = timedelta(hours=8)


class Locked(NotAllowed):
    """Too many wrong attempts: nothing is checked until ``retry_after_s`` has passed."""

    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, -(-retry_after_s // 60))
        super().__init__(f"too many wrong attempts: try again in {minutes} minute(s), or ask "
                         "an admin")
        self.retry_after_s = retry_after_s


class PasswordsOff(Forbidden):
    """Local passwords are switched off for this account's role: it signs in with the trust's
    account (server.toml ``[oidc] local_passwords = "admins_only"``)."""


@dataclass(frozen=True)
class SessionView:
    """Who a live session belongs to (read from the database on every request)."""

    staff_id: int
    username: str
    display_name: str
    role: str


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def revoke_sessions(session: Session, staff_id: int, now: datetime, why: str) -> int:
    """End every open session of one account (inside the caller's transaction)."""
    done = session.execute(update(WebSession).where(
        WebSession.staff_id == staff_id, WebSession.revoked_at.is_(None)).values(
        revoked_at=now, revoked_why=why))
    return int(getattr(done, "rowcount", 0) or 0)


class SignInServices:
    """The credential guard and web sessions."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        # Which roles may use a local password (all, unless [oidc] switches them off).
        self.password_allowed: Callable[[str], bool] = lambda _role: True

    # --- the guard ----------------------------------------------------------------------

    def verify(self, username: str, password: str, address: str, path: str) -> Any:
        """The account if the password is right; None if wrong; :class:`Locked` if this
        name or address has had too many wrong attempts. ``path`` names the credential path
        ("web", "api") in the log and audit."""
        name = username.strip().lower()[:64]
        keys = [f"user:{name}", f"ip:{address[:100]}"]
        now = self.ctx.clock.now()
        with self.ctx.store.write() as s:
            wait = self._count_attempt(s, keys, now)
            if wait is not None:
                self._record(s, now, "auth.locked", name, path, address)
        if wait is not None:
            log.warning("event=signin_locked user=%s ip=%s path=%s retry_after_s=%s", name,
                        address, path, wait)
            raise Locked(wait)
        from server.services.admin import AdminServices

        who = AdminServices(self.ctx).authenticate(username, password)
        with self.ctx.store.write() as s:
            if who is None:
                self._record(s, now, "auth.failed", name, path, address)
            else:  # a right password: this attempt was no failure
                s.execute(update(CredentialGuard).where(CredentialGuard.key == keys[0]).values(
                    failures=0, locked_until=None))
                s.execute(update(CredentialGuard).where(
                    CredentialGuard.key == keys[1], CredentialGuard.failures > 0).values(
                    failures=CredentialGuard.failures - 1))
        if who is None:
            log.warning("event=signin_failed user=%s ip=%s path=%s", name, address, path)
        elif not self.password_allowed(who.role):
            self._passwords_off(name, path, address, now)
        return who

    def _passwords_off(self, name: str, path: str, address: str, now: datetime) -> None:
        """Refuse a right password whose role must use the trust's account (told only to
        someone who knew the password, so it reveals nothing to a guesser)."""
        with self.ctx.store.write() as s:
            self._record(s, now, "auth.local_password_off", name, path, address)
        log.warning("event=signin_local_password_off user=%s ip=%s path=%s", name, address,
                    path)
        raise PasswordsOff("local passwords are switched off for your role: use the "
                           "\"Sign in with\" button for your school account")

    def _count_attempt(self, s: Session, keys: list[str], now: datetime) -> int | None:
        """Count one attempt against every key, or none if any key is locked (then return the
        seconds to wait): a refused attempt checks no password, so it costs nothing more."""
        rows = [(self._guard(s, key, now), limit)
                for key, limit in zip(keys, (USER_LIMIT, ADDRESS_LIMIT), strict=True)]
        wait = None
        for row, limit in rows:
            if row.locked_until is not None and row.locked_until <= now:
                row.failures, row.window_start, row.locked_until = 0, now, None  # served
            elif row.locked_until is None and now - row.window_start > WINDOW:
                row.failures, row.window_start = 0, now  # old failures are forgotten
            if row.locked_until is None and row.failures >= limit:
                row.locked_until = now + LOCKOUT
            if row.locked_until is not None:
                wait = max(wait or 0, int((row.locked_until - now).total_seconds()) + 1)
        if wait is None:
            for row, _ in rows:
                row.failures += 1
        return wait

    def _guard(self, s: Session, key: str, now: datetime) -> CredentialGuard:
        row = s.scalar(select(CredentialGuard).where(CredentialGuard.key == key)
                       .with_for_update())
        if row is not None:
            return row
        try:
            with s.begin_nested():  # two processes may create it at once (PostgreSQL)
                s.add(CredentialGuard(key=key, failures=0, window_start=now))
        except IntegrityError:
            pass
        return s.scalars(select(CredentialGuard).where(CredentialGuard.key == key)
                         .with_for_update()).one()

    def _record(self, s: Session, now: datetime, action: str, name: str, path: str,
                address: str) -> None:
        audit.append(s, now, [audit.Entry(
            actor=audit.SYSTEM, action=action, entity="staff", entity_id=name,
            reason=f"{path} sign-in", detail={"path": path, "address": address})])

    # --- sessions -----------------------------------------------------------------------

    def start_session(self, staff_id: int) -> str:
        """A new session for a signed-in account; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self.ctx.clock.now()
        with self.ctx.store.write() as s:
            s.add(WebSession(id=_token_id(token), staff_id=staff_id, created_at=now,
                             expires_at=now + SESSION))
        return token

    def session(self, token: str | None) -> SessionView | None:
        """Who the session belongs to, or None if it has ended, expired, or its account is
        disabled."""
        if not token:
            return None
        now = self.ctx.clock.now()
        with self.ctx.store.read() as s:
            row = s.execute(select(WebSession, Staff).join(
                Staff, Staff.id == WebSession.staff_id).where(
                WebSession.id == _token_id(token))).first()
        if row is None:
            return None
        ws, staff = row
        if ws.revoked_at is not None or ws.expires_at <= now or not staff.active:
            return None
        return SessionView(staff.id, staff.username, staff.display_name, staff.role)

    def end_session(self, token: str | None, why: str = "signed_out") -> None:
        """End one session (sign-out): its cookie is worthless from now on."""
        if not token:
            return
        with self.ctx.store.write() as s:
            s.execute(update(WebSession).where(
                WebSession.id == _token_id(token), WebSession.revoked_at.is_(None)).values(
                revoked_at=self.ctx.clock.now(), revoked_why=why))
