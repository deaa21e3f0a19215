"""The school switcher and the trust overview page.

The switcher is for staff who may see several schools: the chosen school is remembered in
the session and every page is about it (server.web.scoping turns it into the request's
scope; a school the account may not see is never chosen). With one school nothing shows.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server import tenancy
from server.web.auth import Leadership, Office, check_csrf, csrf_token
from server.web.pages import templates
from server.web.scoping import SESSION_KEY

log = logging.getLogger("lockers.server.web")


def school_scope() -> tenancy.Scope | None:
    """The running request's schools, for base.html's switcher."""
    return tenancy.current()


def _back_to(request: Request) -> str:
    """The page the switcher was used on (same site only), else home."""
    parts = urlsplit(request.headers.get("referer", ""))
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def add_schools(app: FastAPI) -> None:
    """Mount the switcher (POST /school) and the trust overview (GET /trust)."""
    services = app.state.services
    templates.env.globals["school_scope"] = school_scope

    @app.post("/school", include_in_schema=False)
    def choose_school(request: Request, who: Office, school: str = Form(...),
                      csrf: str = Form("")) -> Response:
        """Make ``school`` the school every page is about (for this session)."""
        check_csrf(request, csrf)
        scope = tenancy.current()
        if scope is None or school not in {x.code for x in scope.allowed}:
            raise HTTPException(404, "no such school for your account")
        request.session[SESSION_KEY] = school
        log.info("event=school_chosen user=%s school=%s", who["user"], school)
        return RedirectResponse(_back_to(request), status_code=303)

    @app.get("/trust", response_class=HTMLResponse, include_in_schema=False)
    def trust_overview(request: Request, who: Leadership) -> HTMLResponse:
        """Every school of the trust side by side (trust roles only)."""
        scope = tenancy.current()
        if who["role"] not in tenancy.TRUST_ROLES or scope is None or not scope.several:
            raise HTTPException(403, "the trust overview is for trust staff of several schools")
        return templates.TemplateResponse(request, "trust.html", {
            "csrf": csrf_token(request), "me": request.session.get("name"),
            "role": request.session.get("role"), "schools": services.trust.schools()})


__all__ = ["add_schools", "school_scope"]
