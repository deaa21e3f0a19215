"""The school calendar in the web admin: the year as a month grid (school days, closures,
early closings and each day's window), a day corrected by hand, a term's dates corrected, and
an .ics import answered with a page in words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.web.auth import check_csrf, role_at_least

Leadership = role_at_least("leadership")
KINDS = [("inset", "INSET (no pupils)"), ("holiday", "closed"),
         ("early_closing", "early closing"), ("school_day", "school day (extra)")]


# The page a form's failure is answered with (the message, and the way back).
Failed = Callable[[Request, Exception], HTMLResponse]

MAX_ICS_BYTES = 1_000_000  # a school's term dates are a few kB


def _time(value: str) -> time | None:
    return time.fromisoformat(value) if value else None


def add_calendar(app: FastAPI, page: Any) -> None:
    """Mount /admin/calendar and its forms on ``app``."""

    def failed(request: Request, exc: Exception) -> HTMLResponse:
        return page(request, "message.html", title="That could not be done", text=str(exc),
                    back="/admin/calendar", status_code=409)

    _add_year(app, page, failed)
    _add_corrections(app, failed)
    _add_ics_import(app, page, failed)


def _add_year(app: FastAPI, page: Any, failed: Failed) -> None:
    """The school year as a month grid, with one day's window when a day is chosen."""
    services = app.state.services

    @app.get("/admin/calendar", response_class=HTMLResponse, include_in_schema=False)
    def calendar_page(request: Request, who: dict = Leadership, year: int | None = None,
                      day: str | None = None) -> Response:
        try:
            chosen = date.fromisoformat(day) if day else None
            start = year or (chosen.year - (chosen.month < 9) if chosen else None)
            school_year = services.calendar.school_year(start)
            today = services.calendar.release_window(chosen) if chosen else None
        except (ServerError, ValueError) as exc:
            return failed(request, exc)
        return page(request, "calendar.html", y=school_year, chosen=chosen, entry=today,
                    kinds=KINDS)


def _add_corrections(app: FastAPI, failed: Failed) -> None:
    """A day or a term's dates corrected by hand."""
    services = app.state.services

    @app.post("/admin/calendar/day", include_in_schema=False)
    def calendar_day(request: Request, who: dict = Leadership, day: str = Form(...),
                     kind: str = Form(...), opens: str = Form(""), closes: str = Form(""),
                     note: str = Form(""), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            when = date.fromisoformat(day)
            if kind == "normal":
                services.calendar.clear_day(who["user"], when, note or "corrected by hand")
            else:
                services.calendar.set_day(who["user"], when, kind, opens=_time(opens),
                                          closes=_time(closes), note=note)
        except (ServerError, ValueError) as exc:
            return failed(request, exc)
        return RedirectResponse(f"/admin/calendar?day={when.isoformat()}", status_code=303)

    @app.post("/admin/calendar/term", include_in_schema=False)
    def calendar_term(request: Request, who: dict = Leadership, name: str = Form(...),
                      starts: str = Form(...), ends: str = Form(...),
                      csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            first = date.fromisoformat(starts)
            services.calendar.add_term(who["user"], name.strip(), first,
                                       date.fromisoformat(ends))
        except (ServerError, ValueError) as exc:
            return failed(request, exc)
        return RedirectResponse(f"/admin/calendar?day={first.isoformat()}", status_code=303)


def _add_ics_import(app: FastAPI, page: Any, failed: Failed) -> None:
    """An .ics file of term dates imported, answered with a page in words."""
    services = app.state.services

    @app.post("/admin/calendar/ics", response_class=HTMLResponse, include_in_schema=False)
    def calendar_ics(request: Request, who: dict = Leadership,
                     ics: UploadFile = File(...), csrf: str = Form("")) -> Response:
        # A plain def: FastAPI runs it on a worker thread, so parsing a calendar never holds
        # up the event loop (every other page and the live dashboard).
        check_csrf(request, csrf)
        data = ics.file.read(MAX_ICS_BYTES + 1)
        if len(data) > MAX_ICS_BYTES:
            return failed(request, ValueError(
                f"that calendar file is over {MAX_ICS_BYTES // 1000} kB: export only the "
                "term dates"))
        try:
            result = services.calendar.import_ics(who["user"], data)
        except (ServerError, ValueError) as exc:
            return failed(request, exc)
        return page(request, "calendar-import.html", r=result, filename=ics.filename)
