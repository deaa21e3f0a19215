"""Browser sign-in: signed session cookies that expire, a CSRF token on every form, and
failed sign-ins slowed down and logged."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from server.services.admin import StaffView

log = logging.getLogger("lockers.server.web")
ROLES = {"office": 1, "dsl": 1, "leadership": 2, "admin": 3}
SESSION_S = 8 * 3600


class NeedsSignIn(Exception):
    """No (or an expired) session: pages send the browser to the sign-in form."""


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a form whose token is not this session's."""
    if not submitted or not secrets.compare_digest(submitted, request.session.get("csrf", "")):
        raise HTTPException(403, "the form has expired: reload the page and try again")


class Throttle:
    """Failed sign-ins per user name: each one more waits longer (up to 8 s)."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = defaultdict(int)

    async def before(self, username: str) -> None:
        """Wait before checking a password for a user with recent failures."""
        n = self.failures.get(username.lower(), 0)
        if n >= 3:
            await asyncio.sleep(min(2 ** (n - 3), 8))

    def failed(self, username: str, ip: str) -> None:
        """Record and log a failure."""
        self.failures[username.lower()] += 1
        log.warning("event=signin_failed user=%s ip=%s failures=%s", username, ip,
                    self.failures[username.lower()])

    def succeeded(self, username: str) -> None:
        """Forget earlier failures."""
        self.failures.pop(username.lower(), None)


def sign_in(request: Request, who: StaffView) -> None:
    """Start a session for ``who``."""
    request.session.clear()
    request.session.update({"user": who.username, "name": who.display_name,
                            "role": who.role, "since": time.time(),
                            "csrf": secrets.token_urlsafe(24)})


def current(request: Request) -> dict[str, Any]:
    """The signed-in staff member, or :class:`NeedsSignIn`."""
    user = request.session.get("user")
    if not user or time.time() - float(request.session.get("since", 0)) > SESSION_S:
        request.session.clear()
        raise NeedsSignIn()
    return dict(request.session)


def role_at_least(role: str) -> Any:
    """A dependency admitting staff with ``role`` or above (403 otherwise)."""

    def check(request: Request) -> dict[str, Any]:
        who = current(request)
        if ROLES.get(who["role"], 0) < ROLES[role]:
            raise HTTPException(403, f"this page is for {role} staff")
        return who

    return Depends(check)


def role_in(roles: frozenset[str]) -> Any:
    """A dependency admitting only staff whose role is one of ``roles`` (403 otherwise)."""

    def check(request: Request) -> dict[str, Any]:
        who = current(request)
        if who["role"] not in roles:
            raise HTTPException(403, f"this page is for {', '.join(sorted(roles))} staff")
        return who

    return Depends(check)


Office = Annotated[dict[str, Any], role_at_least("office")]
# Handing a device to the DSL or the police: the DSL and leadership, never the office.
Safeguarding = Annotated[dict[str, Any], role_in(frozenset({"dsl", "leadership", "admin"}))]
Leadership = Annotated[dict[str, Any], role_at_least("leadership")]
