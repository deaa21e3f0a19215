"""The office's page of messages: what was sent, to whom, when, what failed (with Resend),
the printable collection letter for a parent or carer without e-mail, and the school's
who-hears-what settings (leadership and admin)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.notify.settings import GROUPS, SETTINGS, SWITCH
from server.web.auth import Leadership, Office, check_csrf

# What the office reads for each status.
STATUS = {"pending": "waiting to send", "sending": "sending", "sent": "sent",
          "failed": "failed: gave up", "in_doubt": "in doubt: check before resending",
          "no_contact": "no contact on file"}
PROBLEMS = frozenset({"failed", "in_doubt", "no_contact"})


def add_notifications(app: FastAPI, page: Any) -> None:
    """Mount the pages on ``app``; ``page`` renders a template."""
    services = app.state.services
    _add_settings(app, page)

    @app.get("/console/notifications", response_class=HTMLResponse, include_in_schema=False)
    def notifications(request: Request, who: Office) -> HTMLResponse:
        rows = services.notifications.recent(who["user"])
        return page(request, "notifications.html", rows=rows, status=STATUS,
                    problems=PROBLEMS, done=request.query_params.get("done"))

    @app.post("/console/notifications/{notification_id}/resend", include_in_schema=False)
    def resend(request: Request, notification_id: int, who: Office,
               csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            new_id = services.notifications.resend(who["user"], notification_id)
        except ServerError as exc:
            return page(request, "message.html", title="That could not be sent again",
                        text=str(exc), back="/console/notifications", status_code=409)
        return RedirectResponse(f"/console/notifications?done={new_id}", status_code=303)

    @app.get("/console/notifications/{notification_id}/letter", response_class=HTMLResponse,
             include_in_schema=False)
    def letter(request: Request, notification_id: int, who: Office) -> Response:
        try:
            found = services.notifications.letter(notification_id, who["user"])
        except ServerError as exc:
            return page(request, "message.html", title="No letter", text=str(exc),
                        back="/console/notifications", status_code=404)
        # A blank line ends a paragraph; a single line break (the signature) is kept.
        paragraphs = [p.split("\n") for p in found.body.strip().split("\n\n")]
        return page(request, "letter.html", letter=found, paragraphs=paragraphs)


def _typed(form: Any) -> dict[str, Any]:
    """What the settings form sent: an unticked box is not sent at all, so it means off."""
    return {key: (key in form) if s.kind == SWITCH else str(form.get(key, ""))
            for key, s in SETTINGS.items()}


def _add_settings(app: FastAPI, page: Any) -> None:
    """Who hears what: the form, and saving it with a clear answer."""
    services = app.state.services

    def form_page(request: Request, values: dict[str, Any], error: str | None = None,
                  saved: list[str] | None = None, status_code: int = 200) -> HTMLResponse:
        return page(request, "notify-settings.html", groups=GROUPS, values=values,
                    labels={k: s.label for k, s in SETTINGS.items()}, error=error,
                    saved=saved, status_code=status_code)

    @app.get("/console/notifications/settings", response_class=HTMLResponse,
             include_in_schema=False)
    def settings_form(request: Request, who: Leadership) -> HTMLResponse:
        values = services.notifications.settings(actor=who["user"])
        saved = request.query_params.get("saved")
        return form_page(request, values, saved=saved.split(",") if saved is not None
                         else None)

    @app.post("/console/notifications/settings", include_in_schema=False)
    async def save_settings(request: Request, who: Leadership) -> Response:
        form = await request.form()
        check_csrf(request, str(form.get("csrf", "")))
        typed = _typed(form)
        try:
            changed = services.notifications.change_settings(who["user"], **typed)
        except ServerError as exc:  # the form again, as typed, with what to correct
            return form_page(request, typed, error=str(exc), status_code=422)
        return RedirectResponse("/console/notifications/settings?saved="
                                + ",".join(changed), status_code=303)
