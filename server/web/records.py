"""Office and leadership pages for records: cards and the emergency open of a site.
(Exceptions are in exceptions_pages.py, the reports in reports.py.)"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.web.auth import Leadership, Office, check_csrf


def add_records(app: FastAPI, page: Any) -> None:
    """Mount the pages on ``app``; ``page`` renders a template."""
    _add_cards(app, page)
    _add_emergency(app, page)


def _failed(page: Any, request: Request, exc: ServerError, back: str) -> HTMLResponse:
    """The page a refused form is answered with."""
    return page(request, "message.html", title="That could not be done", text=str(exc),
                back=back, status_code=409)


def _add_cards(app: FastAPI, page: Any) -> None:
    """A pupil's card enrolled, replaced or marked lost."""
    services = app.state.services

    @app.post("/console/pupil/{ref}/cards", include_in_schema=False)
    def cards(request: Request, ref: str, who: Office, uid: str = Form(""),
              action: str = Form("enrol"), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            if action == "replace":
                services.cards.replace_lost_card(who["user"], ref, uid, "card lost")
            elif action == "lost":
                services.cards.mark_card_lost(who["user"], uid, "card lost")
            else:
                services.cards.enrol_card(who["user"], ref, uid, "enrolled in the office")
        except (ServerError, ValueError) as exc:
            return _failed(page, request, exc, f"/console/pupil/{ref}")  # type: ignore[arg-type]
        return RedirectResponse(f"/console/pupil/{ref}?done=card_{action}", status_code=303)


def _add_emergency(app: FastAPI, page: Any) -> None:
    """The emergency open of every locker on a site (typed confirmation first)."""
    services = app.state.services

    @app.get("/emergency", response_class=HTMLResponse, include_in_schema=False)
    def emergency_form(request: Request, who: Leadership) -> HTMLResponse:
        return page(request, "emergency.html", done=None)

    @app.post("/emergency", response_class=HTMLResponse, include_in_schema=False)
    def emergency(request: Request, who: Leadership, reason: str = Form(""),
                  confirm: str = Form(""), drill: bool = Form(False),
                  csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        if confirm.strip().upper() != "OPEN ALL":  # the second confirmation
            return page(request, "emergency.html", done=None,
                        error="Type OPEN ALL to confirm. Nothing was opened.", status_code=422)
        try:
            ids = services.releases.emergency_open(who["user"], reason.strip() or "fire alarm",
                                                   drill=drill)
        except ServerError as exc:
            return _failed(page, request, exc, "/emergency")
        return page(request, "emergency.html", done=len(ids))
