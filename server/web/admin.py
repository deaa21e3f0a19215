"""Admin pages: sites and school settings, then kiosks (admin_kiosks.py), staff accounts
(admin_staff.py), the calendar, groups and the roster import."""

from __future__ import annotations

from datetime import time
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response

from server.errors import ServerError
from server.services.web_admin import WebAdmin
from server.web.auth import check_csrf, role_at_least
from server.web.flash import refused, saved

Admin = role_at_least("admin")


def _time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None


def add_admin(app: FastAPI, page: Any) -> None:
    """Mount the admin pages on ``app``; ``page`` renders a template."""
    from server.web.admin_kiosks import add_kiosks
    from server.web.admin_staff import add_staff
    from server.web.calendar import add_calendar
    from server.web.groups import add_groups
    from server.web.roster import add_roster

    admin = WebAdmin(app.state.services.ctx)
    add_roster(app, page)
    add_calendar(app, page)
    add_groups(app, page)
    _add_home_and_settings(app, page, admin)
    add_kiosks(app, page, admin)
    add_staff(app, page, admin)


def _add_home_and_settings(app: FastAPI, page: Any, admin: WebAdmin) -> None:
    """The admin home (sites, kiosks and staff) and a site's school settings."""
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
                           ("release_closes", release_closes), ("late_after", late_after)):
            if _time(value):
                changes[key] = _time(value)
        try:
            services.admin.update_settings(who["user"], reason, site=site, **changes)
        except ServerError as exc:
            return refused(request, str(exc), "/admin")
        return saved(request, "Saved: the school settings are changed and the kiosks "
                              "have them within a second.", "/admin")
