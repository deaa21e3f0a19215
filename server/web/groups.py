"""Groups in the web admin: year groups and named groups (an after-school club), their
members, and their own collection windows on chosen days."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.services.groups import DAY_NAMES
from server.web.auth import check_csrf, role_at_least

Leadership = role_at_least("leadership")


def add_groups(app: FastAPI, page: Any) -> None:
    """Mount /admin/groups and its forms on ``app``."""
    services = app.state.services

    def failed(request: Request, exc: Exception) -> HTMLResponse:
        return page(request, "message.html", title="That could not be done", text=str(exc),
                    back="/admin/groups", status_code=409)

    @app.get("/admin/groups", response_class=HTMLResponse, include_in_schema=False)
    def groups_page(request: Request, who: dict = Leadership) -> HTMLResponse:
        return page(request, "groups.html", groups=services.groups.groups(),
                    days=list(enumerate(DAY_NAMES[:5])))

    @app.post("/admin/groups", include_in_schema=False)
    def create(request: Request, who: dict = Leadership, name: str = Form(...),
               year_group: str = Form(""), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.groups.create_group(who["user"], name.strip(), year_group.strip() or None)
        except ServerError as exc:
            return failed(request, exc)
        return RedirectResponse("/admin/groups", status_code=303)

    @app.post("/admin/groups/members", include_in_schema=False)
    def members(request: Request, who: dict = Leadership, name: str = Form(...),
                refs: str = Form(""), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            missing = services.groups.set_members(
                who["user"], name, [r for r in re.split(r"[\s,;]+", refs) if r])
        except ServerError as exc:
            return failed(request, exc)
        if missing:
            return page(request, "message.html", title="Members saved, but not all",
                        text=f"Not on roll, so not added: {', '.join(missing)}",
                        back="/admin/groups")
        return RedirectResponse("/admin/groups", status_code=303)

    @app.post("/admin/groups/window", include_in_schema=False)
    async def window(request: Request, who: dict = Leadership) -> Response:
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        try:
            days = {int(str(d)) for d in form.getlist("day")}
            services.groups.set_window(who["user"], str(form.get("name", "")), days,
                                       time.fromisoformat(str(form.get("opens", ""))),
                                       time.fromisoformat(str(form.get("closes", ""))))
        except (ServerError, ValueError) as exc:
            return failed(request, exc)
        return RedirectResponse("/admin/groups", status_code=303)
