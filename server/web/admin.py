"""Admin pages: sites and school settings, kiosks (with provisioning), staff accounts and
the calendar."""

from __future__ import annotations

from datetime import time
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.services.web_admin import WebAdmin
from server.web.auth import check_csrf, role_at_least

Admin = role_at_least("admin")


def _time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None


def add_admin(app: FastAPI, page: Any) -> None:
    """Mount the admin pages on ``app``; ``page`` renders a template."""
    from server.web.calendar import add_calendar
    from server.web.groups import add_groups
    from server.web.roster import add_roster

    admin = WebAdmin(app.state.services.ctx)
    add_roster(app, page)
    add_calendar(app, page)
    add_groups(app, page)
    _add_home_and_settings(app, page, admin)
    _add_kiosks(app, page, admin)
    _add_staff(app, page)


def _failed(page: Any, request: Request, exc: Exception) -> HTMLResponse:
    """The page a failed admin form is answered with."""
    return page(request, "message.html", title="That could not be done", text=str(exc),
                back="/admin", status_code=409)


def _add_home_and_settings(app: FastAPI, page: Any, admin: WebAdmin) -> None:
    """The admin home (sites and staff) and a site's school settings."""
    services = app.state.services

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin_home(request: Request, who: dict = Admin) -> HTMLResponse:
        return page(request, "admin.html", sites=admin.sites(), staff=admin.staff())

    @app.post("/admin/settings", include_in_schema=False)
    def settings(request: Request, who: dict = Admin, site: str = Form(...),
                 assignment_mode: str = Form("dynamic"), breaches: int = Form(3),
                 retention_days: int = Form(400), release_opens: str = Form(""),
                 release_closes: str = Form(""), late_after: str = Form(""),
                 reason: str = Form("settings changed"), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        changes: dict[str, Any] = {"assignment_mode": assignment_mode,
                                   "breaches_before_parent_collection": breaches,
                                   "retention_days": retention_days}
        for key, value in (("release_opens", release_opens),
                           ("release_closes", release_closes)):
            if _time(value):
                changes[key] = _time(value)
        if _time(late_after):
            changes["late_after"] = _time(late_after)
        try:
            services.admin.update_settings(who["user"], reason, site=site, **changes)
        except ServerError as exc:
            return _failed(page, request, exc)
        return RedirectResponse("/admin", status_code=303)


def _add_kiosks(app: FastAPI, page: Any, admin: WebAdmin) -> None:
    """A kiosk added to a site, and provisioned (its broker account and settings file)."""
    services = app.state.services

    @app.post("/admin/kiosks", include_in_schema=False)
    def add_kiosk(request: Request, who: dict = Admin, site: str = Form(...),
                  code: str = Form(...), slots: int = Form(16),
                  csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.admin.add_kiosk(who["user"], code.strip().lower(), slots=slots, site=site)
        except (ServerError, ValueError) as exc:
            return _failed(page, request, exc)
        return RedirectResponse("/admin", status_code=303)

    @app.post("/admin/kiosks/{site}/{code}/provision", response_class=HTMLResponse,
              include_in_schema=False)
    def provision(request: Request, site: str, code: str, who: dict = Admin,
                  csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        mqtt = getattr(getattr(app.state, "runtime", None), "config", None)
        host = mqtt.mqtt.host if mqtt else "lockers-server"
        port = mqtt.mqtt.port if mqtt else 8883
        tls = mqtt.mqtt.tls_ca if mqtt else None
        try:
            done = admin.provision_kiosk(who["user"], site, code, host, port, tls)
        except ServerError as exc:
            return _failed(page, request, exc)
        return page(request, "provisioned.html", p=done)


def _add_staff(app: FastAPI, page: Any) -> None:
    """A staff account created."""
    services = app.state.services

    @app.post("/admin/staff", include_in_schema=False)
    def add_staff(request: Request, who: dict = Admin, username: str = Form(...),
                  name: str = Form(...), role: str = Form("office"),
                  password: str = Form(...), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.admin.create_staff(who["user"], username.strip(), name.strip(), role,
                                        password)
        except ServerError as exc:
            return _failed(page, request, exc)
        return RedirectResponse("/admin", status_code=303)
