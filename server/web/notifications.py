"""The office's page of messages: what was sent, to whom, when, what failed (with Resend),
and the printable collection letter for a parent or carer without e-mail."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.web.auth import Office, check_csrf

# What the office reads for each status.
STATUS = {"pending": "waiting to send", "sending": "sending", "sent": "sent",
          "failed": "failed: gave up", "in_doubt": "in doubt: check before resending",
          "no_contact": "no contact on file"}
PROBLEMS = frozenset({"failed", "in_doubt", "no_contact"})


def add_notifications(app: FastAPI, page: Any) -> None:
    """Mount the pages on ``app``; ``page`` renders a template."""
    services = app.state.services

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
