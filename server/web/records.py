"""Office and leadership pages for records: medical and other exceptions, cards, the
emergency open of a site, and the reports (each as a page, a printable page and CSV)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.services import Services
from server.services.reports import STATUS_WORDS
from server.spreadsheet import MEDIA_TYPE, to_csv
from server.web.auth import Leadership, Office, check_csrf

REPORTS = {
    "compliance": "Today's compliance",
    "uncollected": "Not collected at close",
    "breaches": "Breaches per pupil this term",
    "exceptions": "Exceptions (due for review first)",
    "audit": "Audit trail",
}


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def add_records(app: FastAPI, page: Any) -> None:
    """Mount the pages on ``app``; ``page`` renders a template."""
    _add_exceptions(app, page)
    _add_cards(app, page)
    _add_emergency(app, page)
    _add_reports(app, page)


def _failed(page: Any, request: Request, exc: ServerError, back: str) -> HTMLResponse:
    """The page a refused form is answered with."""
    return page(request, "message.html", title="That could not be done", text=str(exc),
                back=back, status_code=409)


def _add_exceptions(app: FastAPI, page: Any) -> None:
    """Medical and other exceptions: listed (due for review first) and granted."""
    services = app.state.services

    @app.get("/console/exceptions", response_class=HTMLResponse, include_in_schema=False)
    def exceptions(request: Request, who: Office) -> HTMLResponse:
        rows = sorted(services.exceptions.exceptions(due_within_days=14),
                      key=lambda e: (not e.review_due, e.pupil_ref))
        return page(request, "exceptions.html", rows=rows, today=date.today())

    @app.post("/console/exceptions", include_in_schema=False)
    def grant(request: Request, who: Office, pupil_ref: str = Form(""),
              category: str = Form("medical"), reason: str = Form(""),
              approved_by: str = Form(""), agreement_date: str = Form(""),
              starts: str = Form(""), ends: str = Form(""), review_date: str = Form(""),
              allows: str = Form("keep_on_person"), access_times: str = Form(""),
              csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        agreed, start = _day(agreement_date), _day(starts)
        if agreed is None or start is None:
            return page(request, "message.html", title="Dates needed",
                        text="Give the date of the written agreement and the start date.",
                        back="/console/exceptions", status_code=422)
        try:
            services.exceptions.grant_exception(
                who["user"], pupil_ref.strip(), category=category, reason=reason.strip(),
                approved_by=approved_by, agreement_date=agreed, starts=start,
                ends=_day(ends), review_date=_day(review_date), allows=allows,
                access_times=access_times.strip() or None)
        except ServerError as exc:
            return _failed(page, request, exc, "/console/exceptions")
        return RedirectResponse("/console/exceptions", status_code=303)


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



def _add_reports(app: FastAPI, page: Any) -> None:
    """The reports: each as a page, a printable page and CSV."""
    services = app.state.services

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports(request: Request, who: Leadership) -> HTMLResponse:
        chart = services.reports.hand_ins_per_minute()
        return page(request, "reports.html", reports=REPORTS, chart=chart,
                    peak=max((n for _m, n in chart), default=0))

    @app.get("/reports/{name}", response_class=HTMLResponse, include_in_schema=False)
    def report(request: Request, name: str, who: Leadership) -> Response:
        if name not in REPORTS:
            return HTMLResponse("No such report", status_code=404)
        rows = _report_rows(services, name, request)
        if request.query_params.get("format") == "csv":
            return Response(to_csv(rows, services.reports.timezone(),
                                   words={"status": STATUS_WORDS}),
                            media_type=MEDIA_TYPE, headers={
                "Content-Disposition": f'attachment; filename="{name}.csv"'})
        return page(request, "report.html", name=name, title=REPORTS[name], rows=rows,
                    query=request.url.query)


def _report_rows(services: Services, name: str, request: Request) -> list[dict[str, Any]]:
    """The rows of report ``name`` for the page's query (a day, or the audit's filters)."""
    q = request.query_params
    if name == "compliance":
        return services.reports.compliance(day=_day(q.get("day", "")))
    if name == "uncollected":
        return services.reports.uncollected(day=_day(q.get("day", "")))
    if name == "breaches":
        return services.reports.breaches(day_in_term=_day(q.get("day", "")))
    if name == "exceptions":
        return [vars(e) for e in services.exceptions.exceptions(due_within_days=14)]
    return services.reports.audit_search(pupil_ref=q.get("pupil") or None,
                                         actor=q.get("actor") or None,
                                         action=q.get("action") or None)
