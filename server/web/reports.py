"""The reports, each as a page, a printable page and a CSV with the same rows in words.

The office reaches its own lists (what is still in the school's charge at close, what was
left overnight); leadership sees every report. A report someone may not see is answered
with a page saying who it is for, never a raw error.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from server.services import Services
from server.services.dashboard import DashboardReads
from server.spreadsheet import MEDIA_TYPE, to_csv
from server.web.audit_page import add_audit
from server.web.auth import ROLES, Office
from server.web.charts import arrivals_chart
from server.web.report_rows import (
    breach_rows,
    compliance_rows,
    custody_rows,
    exception_rows,
)

OFFICE, LEADERSHIP = "office", "leadership"
# Each report: its title, what it answers, and the least role that may read it.
REPORTS: dict[str, tuple[str, str, str]] = {
    "uncollected": ("Still here at close", "Every phone the school still has: in a locker, "
                    "held, or kept at the office. Check it after the release window.", OFFICE),
    "overnight": ("Left overnight", "Phones still in the school's charge after the day they "
                  "came in.", OFFICE),
    "compliance": ("Today's hand-in", "Every pupil on roll: handed in, late, exempt, absent "
                   "or not handed in, and whether the phone has gone home.", LEADERSHIP),
    "breaches": ("Breaches this term", "Confiscations per pupil over the term.", LEADERSHIP),
    "exceptions": ("Exceptions", "Every current medical or other exception, those due for "
                   "review first.", OFFICE),
    "audit": ("Audit trail", "Who did what and when, searchable, with a complete export.",
              LEADERSHIP),
}


def may_read(role: str, name: str) -> bool:
    """Whether staff with ``role`` may read report ``name``."""
    return ROLES.get(role, 0) >= ROLES[REPORTS[name][2]]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def report_rows(services: Services, name: str, request: Request) -> list[dict[str, Any]]:
    """The rows of report ``name`` (not the audit: it has its own page) for the query."""
    day = _day(request.query_params.get("day"))
    if name == "uncollected":
        return custody_rows(services, services.custody.still_in_charge())
    if name == "overnight":
        return custody_rows(services, services.custody.left_overnight())
    if name == "compliance":
        return compliance_rows(services, day)
    if name == "breaches":
        return breach_rows(services, day)
    return exception_rows(services)


def csv_response(rows: list[dict[str, Any]], zone: str, filename: str,
                 columns: list[str] | None = None) -> Response:
    """``rows`` as a CSV download."""
    return Response(to_csv(rows, zone, columns=columns), media_type=MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def add_reports(app: FastAPI, page: Any) -> None:
    """Mount /reports, each report, and the audit page on ``app``."""
    services: Services = app.state.services

    def not_for_you(request: Request, name: str) -> HTMLResponse:
        title, _about, role = REPORTS[name]
        return page(request, "message.html", title=f"{title} is for {role} staff",
                    text="Your account cannot open this report. Ask a member of the "
                         "leadership team if you need it.", back="/reports", status_code=403)

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports(request: Request, who: Office) -> HTMLResponse:
        mine = {k: v for k, v in REPORTS.items() if may_read(who["role"], k)}
        # The same chart as the dashboard's: real axes on the school's own times.
        chart = arrivals_chart(DashboardReads(services.ctx).lockers().arrivals) \
            if may_read(who["role"], "compliance") else None
        return page(request, "reports.html", reports=mine, chart=chart)

    add_audit(app, page, not_for_you, may_read)

    @app.get("/reports/{name}", response_class=HTMLResponse, include_in_schema=False)
    def report(request: Request, name: str, who: Office) -> Response:
        if name not in REPORTS:
            return page(request, "message.html", title="No such report",
                        text="That report does not exist.", back="/reports", status_code=404)
        if not may_read(who["role"], name):
            return not_for_you(request, name)
        rows = report_rows(services, name, request)
        if request.query_params.get("format") == "csv":
            return csv_response(rows, services.reports.timezone(), name)
        title, about, _role = REPORTS[name]
        return page(request, "report.html", name=name, title=title, about=about, rows=rows,
                    query=request.url.query)
