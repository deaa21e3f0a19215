"""The office's actions in the browser: confiscate, approve an early release, and hand a held
device to a parent or carer, watching the kiosk's physical answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.web.auth import Office, check_csrf


def add_office(app: FastAPI, page: Any) -> None:
    """Mount the office's forms on ``app``; ``page`` renders a template."""
    services = app.state.services

    def failed(request: Request, exc: ServerError, back: str) -> HTMLResponse:
        return page(request, "message.html", title="That could not be done",
                    text=str(exc), back=back, status_code=409)

    @app.post("/console/pupil/{ref}/confiscate", include_in_schema=False)
    def confiscate(request: Request, ref: str, who: Office, reason: str = Form(""),
                   kiosk: str = Form(""), slot: str = Form(""), serious: bool = Form(False),
                   second_device: bool = Form(False), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.confiscations.confiscate(
                who["user"], ref, reason.strip() or "no reason given", kiosk=kiosk or None,
                slot=int(slot) if slot.isdigit() else None, serious=serious,
                second_device=second_device)
        except ServerError as exc:
            return failed(request, exc, f"/console/pupil/{ref}")
        return RedirectResponse(f"/console/pupil/{ref}?done=confiscated", status_code=303)

    @app.post("/console/pupil/{ref}/early-release", include_in_schema=False)
    def early_release(request: Request, ref: str, who: Office, reason: str = Form(""),
                      csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.releases.approve_early_release(who["user"], ref, reason)
        except ServerError as exc:
            return failed(request, exc, f"/console/pupil/{ref}")
        return RedirectResponse(f"/console/pupil/{ref}?done=early_release", status_code=303)

    @app.get("/console/held", response_class=HTMLResponse, include_in_schema=False)
    def held(request: Request, who: Office) -> HTMLResponse:
        return page(request, "held.html", held=services.confiscations.held_devices())

    @app.post("/console/held/{conf_id}/collect", include_in_schema=False)
    def collect(request: Request, conf_id: int, who: Office, collector: str = Form(""),
                relationship: str = Form(""), identity_check: str = Form(""),
                csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            view = services.confiscations.record_parent_collection(
                who["user"], conf_id, collector, relationship, identity_check)
        except ServerError as exc:
            return failed(request, exc, "/console/held")
        if not view.command_id:
            return page(request, "message.html", title="Collection recorded",
                        text="The device was not in a locker: hand it over from the office.",
                        back="/console/held")
        return RedirectResponse(f"/console/commands/{view.command_id}", status_code=303)

    @app.get("/console/commands/{command_id}", response_class=HTMLResponse,
             include_in_schema=False)
    async def command(request: Request, command_id: str, who: Office) -> HTMLResponse:
        # Wait (off the event loop) for the kiosk to say what physically happened.
        result = await asyncio.to_thread(services.releases.wait, command_id, 12.0)
        words = {"success": "The locker opened.", "refused": "The kiosk refused.",
                 "failed": "The kiosk could not open the locker.",
                 "timeout": "The kiosk has not answered (it may be offline)."}
        return page(request, "command.html", result=result,
                    headline=words.get(result.status, result.status))
