"""Every web request runs inside the signed-in staff member's schools.

:class:`SchoolScope` is plain ASGI middleware inside the session middleware: before any route
runs it reads who the session belongs to and sets :func:`server.tenancy.current` for the
request. It must be middleware (or an async dependency), not a sync dependency: FastAPI runs
sync dependencies in a worker thread whose context is thrown away, while the context set
here is copied into the worker thread that runs a sync route.

A request without a live session gets :data:`server.tenancy.NOBODY` (no school's rows), so a
page that forgot its sign-in check still shows nothing. The HTTP Basic API sets its own scope
after checking the password (:func:`use_staff_scope`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from server import tenancy
from server.services import Services

SESSION_KEY = "school"  # the session remembers the chosen school's code under this key


def scope_of(services: Services, staff_id: int, wanted: str | None) -> tenancy.Scope:
    """The scope of one staff member (a database read; call it off the event loop)."""
    with tenancy.scoped(None), services.store.read() as s:
        return tenancy.scope_for_staff(s, staff_id, wanted)


def session_scope(services: Services, session: dict[str, Any]) -> tenancy.Scope:
    """The scope of the browser session ``session`` (NOBODY when it has ended)."""
    view = services.signin.session(session.get("sid"))
    if view is None:
        return tenancy.NOBODY
    return scope_of(services, view.staff_id, session.get(SESSION_KEY))


class SchoolScope:
    """ASGI middleware: run each HTTP request inside its staff member's schools."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Resolve the request's schools, then run the rest of the app inside them."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope.get("session") or {}
        if session.get("sid"):
            found = await asyncio.to_thread(session_scope, self.services, session)
        else:
            found = tenancy.NOBODY
        scope.setdefault("state", {})["school_scope"] = found
        with tenancy.scoped(found):
            await self.app(scope, receive, send)


async def use_staff_scope(services: Services, staff_id: int) -> tenancy.Scope:
    """For the HTTP Basic API: the request runs in this staff member's schools from here on
    (call from an async dependency, so the route's worker thread inherits it)."""
    found = await asyncio.to_thread(scope_of, services, staff_id, None)
    tenancy.use(found)
    return found
