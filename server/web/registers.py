"""The registers in the office console: a pupil marked absent today, off site (a trip, a
placement) or as bringing no phone at all, and the MIS attendance export uploaded."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.policy.calendar import local_today
from server.services.registers import RegisterServices
from server.web.auth import Office, check_csrf


def add_registers(app: FastAPI, page: Any) -> None:
    """Mount the register forms on ``app``."""
    services = app.state.services

    def today() -> date:
        with services.store.read() as s:
            return local_today(services.ctx.site(s), services.clock.now())

    def failed(request: Request, exc: Exception, back: str) -> HTMLResponse:
        return page(request, "message.html", title="That could not be done", text=str(exc),
                    back=back, status_code=409)

    @app.post("/console/pupil/{ref}/register", include_in_schema=False)
    def register(request: Request, ref: str, who: Office, what: str = Form(...),
                 until: str = Form(""), reason: str = Form(""),
                 csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        back = f"/console/pupil/{ref}"
        try:
            _record(services.registers, who["user"], ref, today(), what, until, reason)
        except (ServerError, ValueError) as exc:
            return failed(request, exc, back)
        return RedirectResponse(f"{back}?done={what}", status_code=303)

    @app.get("/console/attendance", response_class=HTMLResponse, include_in_schema=False)
    def attendance_form(request: Request, who: Office) -> HTMLResponse:
        return page(request, "attendance.html", result=None)

    @app.post("/console/attendance", response_class=HTMLResponse, include_in_schema=False)
    def attendance(request: Request, who: Office, marks: UploadFile = File(...),
                   csrf: str = Form("")) -> Response:
        # A plain def: a worker thread reads and applies the file, never the event loop.
        check_csrf(request, csrf)
        try:
            result = services.registers.import_attendance(who["user"], marks.file.read())
        except ServerError as exc:
            return failed(request, exc, "/console/attendance")
        return page(request, "attendance.html", result=result)


def _record(registers: RegisterServices, user: str, ref: str, day: date, what: str, until: str,
            reason: str) -> None:
    """Put pupil ``ref`` on the register ``what`` names (a form's fields, as sent)."""
    if what == "absent":
        registers.mark_absent(user, ref, day, reason[:8])
    elif what == "off_site":
        registers.mark_off_site(user, ref, day, date.fromisoformat(until) if until else day,
                                reason.strip() or "off site")
    elif what in ("no_phone", "brings_phone"):
        registers.record_phone(user, ref, what == "brings_phone")
    else:
        raise ServerError(f"unknown register {what!r}")
