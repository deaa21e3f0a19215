"""The audit trail page: filtered by pupil (typed by name, then chosen), staff member,
action and dates; 50 entries a page with next and previous; and a CSV of EVERY matching
entry, however many (a school answering a complaint needs the whole record)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from server.services import Services
from server.services.queries import PupilSummary
from server.web.auth import Office
from server.web.report_rows import audit_rows
from server.web.words import ACTION_WORDS

PER_PAGE = 50
FILTERS = ("pupil", "actor", "action", "from", "to")


@dataclass(frozen=True)
class AuditFilter:
    """What the office asked for, resolved: the pupil chosen (or the choices), UTC bounds."""

    pupil_ref: str | None
    choices: list[PupilSummary]
    no_pupil: bool  # a name was typed and matches nobody
    pupil_label: str | None  # the chosen pupil, "Amira Khan (8B)"
    actor: str | None
    action: str | None
    since: datetime | None
    until: datetime | None

    def search(self) -> dict[str, Any]:
        """The keyword arguments of the audit search."""
        return {"pupil_ref": self.pupil_ref, "actor": self.actor, "action": self.action,
                "since": self.since, "until": self.until}


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def read_filter(services: Services, request: Request) -> AuditFilter:
    """The page's query as a filter; dates are the school's local days."""
    q = request.query_params
    ref, choices = services.queries.choose_pupil(q.get("pupil", ""))
    zone = ZoneInfo(services.reports.timezone())
    start, end = _day(q.get("from")), _day(q.get("to"))
    return AuditFilter(
        ref, choices if ref is None else [], bool(q.get("pupil", "").strip()) and not choices,
        choices[0].label if ref is not None and len(choices) == 1 else None,
        q.get("actor") or None, q.get("action") or None,
        datetime.combine(start, time(0), zone) if start else None,
        datetime.combine(end + timedelta(days=1), time(0), zone) if end else None)


def _link(request: Request, **changes: Any) -> str:
    params = {k: request.query_params.get(k, "") for k in FILTERS}
    params.update({k: str(v) for k, v in changes.items()})
    return "?" + urlencode({k: v for k, v in params.items() if v})


def add_audit(app: FastAPI, page: Any, not_for_you: Callable[[Request, str], HTMLResponse],
              may_read: Callable[[str, str], bool]) -> None:
    """Mount /reports/audit on ``app`` (before the general /reports/{name})."""
    services: Services = app.state.services

    @app.get("/reports/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit(request: Request, who: Office) -> Response:
        from server.web.reports import csv_response

        if not may_read(who["role"], "audit"):
            return not_for_you(request, "audit")
        wanted = read_filter(services, request)
        zone = services.reports.timezone()
        # Nothing to show while a typed name is still to be chosen, or matches nobody.
        waiting = bool(wanted.choices) or wanted.no_pupil
        if request.query_params.get("format") == "csv":
            entries = [] if waiting else services.reports.audit_search(
                **wanted.search(), limit=None)
            return csv_response(audit_rows(entries, zone), zone, "audit",
                                columns=["when", "who", "action", "pupil", "reason",
                                         "details"])
        total = 0 if waiting else services.reports.audit_count(**wanted.search())
        pages = max(1, -(-total // PER_PAGE))
        raw = request.query_params.get("page", "1")
        number = min(max(1, int(raw) if raw.isdigit() else 1), pages)
        entries = [] if waiting else services.reports.audit_search(
            **wanted.search(), limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
        return page(request, "audit.html", rows=audit_rows(entries, zone), wanted=wanted,
                    total=total, number=number, pages=pages,
                    first=(number - 1) * PER_PAGE + 1, actors=services.reports.audit_actors(),
                    actions=sorted(ACTION_WORDS.items(), key=lambda kv: kv[1]),
                    previous=_link(request, page=number - 1) if number > 1 else None,
                    next=_link(request, page=number + 1) if number < pages else None,
                    choose=lambda ref: _link(request, pupil=ref, page=""),
                    csv=_link(request, page="", format="csv"))
