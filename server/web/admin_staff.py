"""Admin pages for staff accounts: create one, deactivate and reactivate it, reset its
password, and give or take away its kiosk staff card and PIN. Every save answers with a
message on the page it returns to."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response

from lockers.cardhash import CardUidError
from server.errors import ServerError
from server.services.admin import ROLES
from server.services.web_admin import WebAdmin
from server.web.auth import check_csrf, role_at_least
from server.web.flash import refused, saved

Admin = role_at_least("admin")
ROLE_WORDS = {"office": "office", "dsl": "designated safeguarding lead",
              "leadership": "leadership", "admin": "admin"}


def add_staff(app: FastAPI, page: Any, admin: WebAdmin) -> None:
    """Mount the staff pages."""
    _add_create_and_view(app, page, admin)
    _add_account_changes(app)
    _add_kiosk_card(app)


def _add_create_and_view(app: FastAPI, page: Any, admin: WebAdmin) -> None:
    services = app.state.services

    @app.post("/admin/staff", include_in_schema=False)
    def add_staff_member(request: Request, who: dict = Admin, username: str = Form(...),
                         name: str = Form(...), role: str = Form("office"),
                         password: str = Form(...), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        username, name = username.strip(), name.strip()
        try:
            services.admin.create_staff(who["user"], username, name, role, password)
        except ServerError as exc:
            return refused(request, str(exc), "/admin#staff")
        return saved(request, f"Saved: {name} can now sign in as {username} "
                              f"({ROLE_WORDS.get(role, role)}).", f"/admin/staff/{username}")

    @app.get("/admin/staff/{username}", response_class=HTMLResponse, include_in_schema=False)
    def staff_member(request: Request, username: str, who: dict = Admin) -> Response:
        member = admin.staff_member(username)
        if member is None:
            return page(request, "message.html", title="No such staff account",
                        text=f"There is no staff account {username!r}.", back="/admin#staff",
                        status_code=404)
        return page(request, "staff.html", st=member, role_words=ROLE_WORDS, roles=ROLES,
                    myself=who["user"] == username)


def _add_account_changes(app: FastAPI) -> None:
    services = app.state.services

    @app.post("/admin/staff/{username}/active", include_in_schema=False)
    def set_active(request: Request, username: str, who: dict = Admin,
                   active: str = Form(...), reason: str = Form(""),
                   csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        back = f"/admin/staff/{username}"
        on = active == "yes"
        try:
            services.admin.set_active(who["user"], username, on,
                                      reason.strip() or ("reactivated" if on else "deactivated"))
        except ServerError as exc:
            return refused(request, str(exc), back)
        return saved(request, f"Saved: {username} can sign in again." if on else
                     f"Saved: {username} is deactivated and signed out everywhere; their "
                     "kiosk card no longer works.", back)

    @app.post("/admin/staff/{username}/password", include_in_schema=False)
    def reset_password(request: Request, username: str, who: dict = Admin,
                       new: str = Form(...), again: str = Form(...),
                       csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        back = f"/admin/staff/{username}"
        if new != again:
            return refused(request, "the two passwords are not the same", back)
        try:
            services.admin.change_password(who["user"], username, None, new)
        except ServerError as exc:
            return refused(request, str(exc), back)
        return saved(request, f"Saved: {username}'s password is reset and they are signed "
                              "out everywhere. Give them the new one in person.", back)


def _add_kiosk_card(app: FastAPI) -> None:
    services = app.state.services

    @app.post("/admin/staff/{username}/card", include_in_schema=False)
    def set_card(request: Request, username: str, who: dict = Admin, uid: str = Form(...),
                 pin: str = Form(...), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        back = f"/admin/staff/{username}"
        try:
            services.admin.set_staff_card(who["user"], username, uid, pin.strip())
        except CardUidError:
            return refused(request, "that card number is not one a reader gives: type the "
                                    "hex digits printed on the card or shown by the reader, "
                                    "e.g. 04:A1:B2:C3", back)
        except ServerError as exc:
            return refused(request, str(exc), back)
        return saved(request, f"Saved: {username}'s staff card and PIN work at every kiosk "
                              "within a second.", back)

    @app.post("/admin/staff/{username}/card/clear", include_in_schema=False)
    def clear_card(request: Request, username: str, who: dict = Admin,
                   csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        back = f"/admin/staff/{username}"
        try:
            services.admin.clear_staff_card(who["user"], username)
        except ServerError as exc:
            return refused(request, str(exc), back)
        return saved(request, f"Saved: {username} has no kiosk staff card now.", back)
