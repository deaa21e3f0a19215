"""Browser sign-in: server-side sessions named by a signed cookie (ended by sign-out, a
password change or a disabled account), and a CSRF token on every form. Wrong passwords are
counted and locked out by :mod:`server.services.signin`, shared with the HTTP Basic API."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from server.services.admin import StaffView

log = logging.getLogger("lockers.server.web")
# "trust": trust leadership, who see every school of the installation (server.tenancy).
ROLES = {"office": 1, "dsl": 1, "leadership": 2, "trust": 2, "admin": 3}


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


def client_address(request: Request) -> str:
    """The address a request came from (the guard counts wrong attempts per address)."""
    return request.client.host if request.client else "unknown"


def sign_in(request: Request, who: StaffView) -> None:
    """Start a server-side session for ``who``: the cookie holds only its random token (and
    the name and role to show on pages; what a request may do is read from the database)."""
    token = request.app.state.services.signin.start_session(who.id)
    request.session.clear()
    request.session.update({"sid": token, "name": who.display_name, "role": who.role,
                            "csrf": secrets.token_urlsafe(24)})


def sign_out(request: Request) -> None:
    """End this browser's session on the server, so a copy of the cookie is worthless."""
    request.app.state.services.signin.end_session(request.session.get("sid"))
    request.session.clear()


def current(request: Request) -> dict[str, Any]:
    """The signed-in staff member, or :class:`NeedsSignIn` when the session has ended
    (signed out, password changed, account disabled) or expired."""
    view = request.app.state.services.signin.session(request.session.get("sid"))
    if view is None:
        request.session.clear()
        raise NeedsSignIn()
    return {"user": view.username, "name": view.display_name, "role": view.role,
            "csrf": request.session.get("csrf")}


def landing(role: str) -> str:
    """Where a staff member starts after signing in: the trust's leaders on the trust
    overview, a school's leadership and admin on the dashboard, everyone else (the office
    and the DSL, whom the dashboard refuses) on the office console."""
    if role == "trust":
        return "/trust"
    return "/dashboard" if ROLES.get(role, 0) >= ROLES["leadership"] else "/console"


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
