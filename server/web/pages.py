"""The browser pages: sign-in, leadership's live dashboard, and the office's pupil search."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from server.errors import NotAllowed, NotFound
from server.services.custody import STATE_WORDS
from server.services.signin import Locked, PasswordsOff
from server.web.auth import (
    NeedsSignIn,
    Office,
    check_csrf,
    client_address,
    csrf_token,
    current,
    landing,
    sign_in,
    sign_out,
)
from server.web.live import Broadcaster
from server.web.words import cell_words, when_words

HERE = Path(__file__).resolve().parent
# Renders a template with the signed-in staff member's context: (request, template, ...).
Page = Callable[..., HTMLResponse]
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["when"] = when_words
templates.env.filters["cell"] = cell_words

# Each slot state: a letter and a word as well as a colour, so no one needs to tell colours
# apart (the legend repeats them).
STATES = {
    "free": ("F", "free"), "opening_for_deposit": ("↓", "opening for hand-in"),
    "open_for_deposit": ("D", "open for hand-in"), "occupied": ("P", "phone in"),
    "held": ("H", "held"), "opening_for_release": ("↑", "opening for collection"),
    "open_for_release": ("C", "open for collection"), "fault": ("!", "fault"),
}

# The message after each save on the pupil page, in words.
DONE_WORDS = {
    "confiscated": "Saved: the confiscation is recorded.",
    "handed_in": "Saved: the hand-in at the office is recorded.",
    "early_release": "Saved: early release approved. The pupil's card opens their locker "
                     "now.",
    "checked": "Saved: the locker check is recorded.",
    "card_enrol": "Saved: the card is enrolled.",
    "card_replace": "Saved: the lost card is replaced; the old one no longer opens anything.",
    "card_lost": "Saved: the card is marked lost.",
    "absent": "Saved: marked absent today.", "off_site": "Saved: marked off site.",
    "no_phone": "Saved: does not bring a phone.", "brings_phone": "Saved: brings a phone.",
}


def add_pages(app: FastAPI, broadcaster: Broadcaster) -> None:
    """Mount the pages on ``app`` (whose ``state.services`` is set)."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(NeedsSignIn)
    async def _sign_in_first(request: Request, _exc: NeedsSignIn) -> Response:
        if request.url.path.startswith(("/events", "/api/")):
            return Response("sign in first", status_code=401)
        return RedirectResponse("/signin", status_code=303)

    def page(request: Request, template: str, status_code: int = 200, **ctx: Any
             ) -> HTMLResponse:
        return templates.TemplateResponse(request, template, {
            "csrf": csrf_token(request), "me": request.session.get("name"),
            "role": request.session.get("role"), "states": STATES, **ctx},
            status_code=status_code)

    from server.web.admin import add_admin
    from server.web.dashboard import add_dashboard
    from server.web.exceptions_pages import add_exceptions
    from server.web.notifications import add_notifications
    from server.web.office import add_office
    from server.web.records import add_records
    from server.web.registers import add_registers
    from server.web.reports import add_reports

    add_office(app, page)
    add_registers(app, page)
    add_records(app, page)
    add_exceptions(app, page)
    add_reports(app, page)
    add_admin(app, page)
    add_notifications(app, page)
    _add_api_docs(app)
    _add_signin(app, page)
    _add_account(app, page)
    _add_home(app)
    add_dashboard(app, page, broadcaster)
    _add_console(app, page)


def _add_api_docs(app: FastAPI) -> None:
    """The API's description and its browsable docs, for signed-in staff only."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request, who: Office) -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request, who: Office) -> HTMLResponse:
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/openapi.json", title="Phone lockers API")


def _add_signin(app: FastAPI, page: Page) -> None:
    """Signing in (argon2 off the event loop, locked out after repeated failures) and out."""
    services = app.state.services

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_form(request: Request) -> HTMLResponse:
        return page(request, "signin.html", error=None)

    @app.post("/signin", response_class=HTMLResponse, include_in_schema=False)
    async def signin(request: Request, username: str = Form(...), password: str = Form(...),
                     csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:  # argon2 and the database off the event loop
            who = await asyncio.to_thread(services.signin.verify, username, password,
                                          client_address(request), "web")
        except Locked as exc:
            return page(request, "signin.html", error=str(exc).capitalize() + ".",
                        status_code=429)
        except PasswordsOff as exc:
            return page(request, "signin.html", error=str(exc)[:1].upper() + str(exc)[1:] + ".",
                        status_code=403)
        if who is None:
            return page(request, "signin.html", error="Wrong user name or password.")
        await asyncio.to_thread(sign_in, request, who)
        return RedirectResponse(landing(who.role),
                                status_code=303)

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request, csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        sign_out(request)
        return RedirectResponse("/signin", status_code=303)


def _add_account(app: FastAPI, page: Page) -> None:
    """A staff member changing their own password."""
    services = app.state.services

    @app.get("/account/password", response_class=HTMLResponse, include_in_schema=False)
    def password_form(request: Request, who: Office) -> HTMLResponse:
        return page(request, "password.html", error=None)

    @app.post("/account/password", response_class=HTMLResponse, include_in_schema=False)
    def change_password(request: Request, who: Office, current: str = Form(...),
                        new: str = Form(...), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.admin.change_password(who["user"], who["user"], current, new)
        except NotAllowed as exc:
            return page(request, "password.html", error=str(exc).capitalize() + ".",
                        status_code=400)
        request.session.clear()  # every session of this account has ended, this one too
        return RedirectResponse("/signin", status_code=303)


def _add_home(app: FastAPI) -> None:
    """The home redirect: leadership to the dashboard (server.web.dashboard), the office to
    the console."""

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        who = current(request)
        return RedirectResponse(landing(who["role"]), status_code=303)


def _add_console(app: FastAPI, page: Page) -> None:
    """The office console: pupil search and one pupil's page."""
    services = app.state.services

    @app.get("/console", response_class=HTMLResponse, include_in_schema=False)
    def console(request: Request, who: Office, q: str = "") -> HTMLResponse:
        found = services.queries.find_pupils(q) if q.strip() else []
        # Each result answers the question itself: where is this pupil's phone now.
        where = {p.reference: services.queries.where_is_phone(p.reference) for p in found}
        return page(request, "console.html", q=q, found=found, where=where)

    @app.get("/console/pupil/{ref}", response_class=HTMLResponse, include_in_schema=False)
    def pupil(request: Request, ref: str, who: Office) -> HTMLResponse:
        try:
            where = services.queries.where_is_phone(ref)
        except NotFound:
            return page(request, "message.html", title="No such pupil",
                        text=f"No pupil has the reference {ref}: search by name instead.",
                        back="/console", status_code=404)
        found = services.queries.find_pupils(ref)
        lines = services.timelines.of_pupil(ref)
        records = services.custody.current(ref)
        open_ids = {c.custody_id for c in records}
        return page(request, "pupil.html", where=where, records=records,
                    timelines={tl.custody_id: tl for tl in lines},
                    timelines_closed=[tl for tl in lines if tl.custody_id not in open_ids],
                    pupil=next((p for p in found if p.reference == ref), None),
                    done=DONE_WORDS.get(request.query_params.get("done", "")),
                    state_words=STATE_WORDS)
