"""The office's actions in the browser: confiscate, hand in at the office, approve an early
release, return a device, hand it to a parent or carer (watching the kiosk's physical answer),
and, for the DSL and leadership only, hand it to the DSL or the police.

Every form acts on one custody record chosen among the pupil's current ones: no form carries
a kiosk or slot of its own (DESIGN.md: custody).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.services.timeline import command_locker
from server.web.auth import Office, Safeguarding, check_csrf


def add_office(app: FastAPI, page: Any) -> None:
    """Mount the office's forms on ``app``; ``page`` renders a template."""
    _add_taking_in(app, page)
    _add_giving_back(app, page)
    _add_handover(app, page)


def _failed(page: Any, request: Request, exc: ServerError, back: str) -> HTMLResponse:
    """The page a refused office form is answered with."""
    return page(request, "message.html", title="That could not be done",
                text=str(exc), back=back, status_code=409)


def _after_door(page: Any, request: Request, command_id: str | None, back: str, text: str
                ) -> Response:
    """Watch the kiosk's answer when a locker opens; else say where the device is."""
    if command_id:
        return RedirectResponse(f"/console/commands/{command_id}", status_code=303)
    return page(request, "message.html", title="Recorded", text=text, back=back)


def _add_taking_in(app: FastAPI, page: Any) -> None:
    """A device confiscated or handed in at the office, and an early release approved."""
    services = app.state.services

    @app.post("/console/pupil/{ref}/confiscate", include_in_schema=False)
    def confiscate(request: Request, ref: str, who: Office, reason: str = Form(""),
                   custody_id: str = Form(""), place: str = Form(""),
                   serious: bool = Form(False), second_device: bool = Form(False),
                   csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.confiscations.confiscate(
                who["user"], ref, reason.strip() or "no reason given",
                custody_id=custody_id or None, place=place or None, serious=serious,
                second_device=second_device)
        except ServerError as exc:
            return _failed(page, request, exc, f"/console/pupil/{ref}")
        return RedirectResponse(f"/console/pupil/{ref}?done=confiscated", status_code=303)

    @app.post("/console/pupil/{ref}/hand-in", include_in_schema=False)
    def hand_in(request: Request, ref: str, who: Office, place: str = Form(""),
                reason: str = Form(""), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.custody.hand_in_at_office(who["user"], ref, place,
                                               reason.strip() or "handed in at the office")
        except ServerError as exc:
            return _failed(page, request, exc, f"/console/pupil/{ref}")
        return RedirectResponse(f"/console/pupil/{ref}?done=handed_in", status_code=303)

    @app.post("/console/pupil/{ref}/early-release", include_in_schema=False)
    def early_release(request: Request, ref: str, who: Office, reason: str = Form(""),
                      csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.releases.approve_early_release(who["user"], ref, reason)
        except ServerError as exc:
            return _failed(page, request, exc, f"/console/pupil/{ref}")
        return RedirectResponse(f"/console/pupil/{ref}?done=early_release", status_code=303)


def _add_giving_back(app: FastAPI, page: Any) -> None:
    """Devices the school holds: listed, returned to the pupil, collected by a parent or
    carer, or checked in their slot."""
    services = app.state.services

    @app.post("/console/custody/{custody_id}/return", include_in_schema=False)
    def give_back(request: Request, custody_id: str, who: Office, reason: str = Form(""),
                  csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            view = services.custody.return_to_pupil(who["user"], custody_id,
                                                    reason.strip() or "returned to the pupil")
        except ServerError as exc:
            return _failed(page, request, exc, "/console/held")
        return _after_door(page, request, view.command_id, f"/console/pupil/{view.pupil_ref}",
                               f"Give the device back to the pupil from {view.where}.")

    @app.get("/console/held", response_class=HTMLResponse, include_in_schema=False)
    def held(request: Request, who: Office) -> HTMLResponse:
        return page(request, "held.html", held=services.custody.held(),
                    overnight=services.custody.left_overnight())

    @app.post("/console/custody/{custody_id}/collect", include_in_schema=False)
    def collect(request: Request, custody_id: str, who: Office, collector: str = Form(""),
                relationship: str = Form(""), identity_check: str = Form(""),
                csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            view = services.custody.parent_collection(who["user"], custody_id, collector,
                                                      relationship, identity_check)
        except ServerError as exc:
            return _failed(page, request, exc, "/console/held")
        return _after_door(page, request, view.command_id, "/console/held",
                               f"The device was not in a locker: hand it over from {view.where}.")

    @app.post("/console/held/{conf_id}/collect", include_in_schema=False)
    def collect_confiscated(request: Request, conf_id: int, who: Office,
                            collector: str = Form(""), relationship: str = Form(""),
                            identity_check: str = Form(""), csrf: str = Form("")) -> Response:
        # The same parent collection named by the confiscation (one confiscation, one custody
        # record): the held page's form for confiscated devices, and the demo script's.
        check_csrf(request, csrf)
        try:
            view = services.confiscations.record_parent_collection(
                who["user"], conf_id, collector, relationship, identity_check)
        except ServerError as exc:
            return _failed(page, request, exc, "/console/held")
        return _after_door(page, request, view.command_id, "/console/held",
                               "The device was not in a locker: hand it over from "
                               f"{view.place or 'the office'}.")

    @app.post("/console/custody/{custody_id}/checked", include_in_schema=False)
    def checked(request: Request, custody_id: str, who: Office, note: str = Form(""),
                csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            view = services.custody.checked(who["user"], custody_id,
                                            note.strip() or "device found in the slot")
        except ServerError as exc:
            return _failed(page, request, exc, "/console/held")
        return RedirectResponse(f"/console/pupil/{view.pupil_ref}?done=checked",
                                status_code=303)


def _add_handover(app: FastAPI, page: Any) -> None:
    """A device handed to the DSL or the police (safeguarding staff only), and the page
    that watches a kiosk open a locker."""
    services = app.state.services

    @app.get("/console/custody/{custody_id}/handover", response_class=HTMLResponse,
             include_in_schema=False)
    def handover_form(request: Request, custody_id: str, who: Safeguarding) -> Response:
        try:
            view = services.custody.get(custody_id)
        except ServerError as exc:
            return _failed(page, request, exc, "/console/held")
        return page(request, "handover.html", c=view)

    @app.post("/console/custody/{custody_id}/handover", include_in_schema=False)
    def handover(request: Request, custody_id: str, who: Safeguarding, to: str = Form(""),
                 note: str = Form(""), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            view = services.custody.hand_over(who["user"], custody_id, to, note)
        except ServerError as exc:
            return _failed(page, request, exc, "/console/held")
        return _after_door(page, request, view.command_id, f"/console/pupil/{view.pupil_ref}",
                               f"Recorded. Hand the device over from {view.where}.")

    @app.get("/console/commands/{command_id}", response_class=HTMLResponse,
             include_in_schema=False)
    async def command(request: Request, command_id: str, who: Office) -> HTMLResponse:
        # Wait (off the event loop) for the kiosk to say what physically happened.
        result = await asyncio.to_thread(services.releases.wait, command_id, 12.0)
        words = {"success": "The locker opened.", "refused": "The kiosk refused.",
                 "failed": "The kiosk could not open the locker.",
                 "timeout": "The kiosk has not answered (it may be offline)."}
        return page(request, "command.html", result=result,
                    headline=words.get(result.status, result.status),
                    locker=command_locker(services.ctx, command_id))
