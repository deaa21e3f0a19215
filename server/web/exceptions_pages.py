"""Medical and other exceptions in the office console (DOMAIN rule 6): every current one
listed with review-due flagged, one recorded (the pupil typed by name, then chosen; a refused
form comes back with everything still filled in and what to correct), and one revoked after
a confirmation that asks why (the service writes the audit entry)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.errors import ServerError
from server.services import Services
from server.web.auth import Office, check_csrf


class FormProblem(ServerError):
    """Something in the exception form to correct before it can be recorded."""


def _day(form: dict[str, str], field: str, words: str) -> date | None:
    value = form.get(field, "").strip()
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise FormProblem(f"The {words} is not a date: use the date picker.") from None


def _needed_day(form: dict[str, str], field: str, words: str) -> date:
    value = _day(form, field, words)
    if value is None:
        raise FormProblem(f"Give the {words}.")
    return value


def _saved(services: Services, request: Request) -> str | None:
    """The message after a save ("?recorded=7" or "?revoked=7")."""
    for key in ("recorded", "revoked"):
        ident = request.query_params.get(key, "")
        if ident.isdigit():
            try:
                e = services.exceptions.get(int(ident))
            except ServerError:
                return None  # a link kept from long ago: nothing to confirm
            return f"Saved: the exception for {e.pupil_label} was {key}."
    return None


def _sentence(text: str) -> str:
    """A service's refusal as a sentence on the page."""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def add_exceptions(app: FastAPI, page: Any) -> None:
    """Mount the exceptions pages on ``app``; ``page`` renders a template."""
    services: Services = app.state.services

    def listing(request: Request, form: dict[str, str] | None = None, error: str | None = None,
                choices: list[Any] | None = None, status_code: int = 200) -> HTMLResponse:
        rows = sorted(services.exceptions.exceptions(current_only=True),
                      key=lambda e: (not e.review_due, e.pupil_label))
        return page(request, "exceptions.html", rows=rows, form=form or {}, error=error,
                    choices=choices or [], done=_saved(services, request),
                    status_code=status_code)

    @app.get("/console/exceptions", response_class=HTMLResponse, include_in_schema=False)
    def exceptions(request: Request, who: Office) -> HTMLResponse:
        return listing(request)

    @app.post("/console/exceptions", response_class=HTMLResponse, include_in_schema=False)
    def grant(request: Request, who: Office, pupil: str = Form(""), pupil_ref: str = Form(""),
              category: str = Form("medical"), reason: str = Form(""),
              approved_by: str = Form(""), agreement_date: str = Form(""),
              starts: str = Form(""), ends: str = Form(""), review_date: str = Form(""),
              allows: str = Form("keep_on_person"), access_times: str = Form(""),
              csrf: str = Form("")) -> Response:
        # A plain def: the database work runs in a worker thread, never the event loop.
        check_csrf(request, csrf)
        form = {"pupil": pupil, "pupil_ref": pupil_ref, "category": category,
                "reason": reason, "approved_by": approved_by,
                "agreement_date": agreement_date, "starts": starts, "ends": ends,
                "review_date": review_date, "allows": allows, "access_times": access_times}
        ref, choices = services.queries.choose_pupil(form["pupil_ref"] or form["pupil"])
        if ref is None:
            error = (f"Several pupils match “{form['pupil']}”: choose one below."
                     if choices else f"No pupil matches “{form['pupil']}”: check the "
                                     "spelling, or use the pupil's reference.")
            return listing(request, form, error, choices, status_code=422)
        # Once chosen, the pupil stays chosen if the form comes back for a date to correct.
        form["pupil"], form["pupil_label"] = ref, choices[0].label if len(choices) == 1 else ""
        try:
            made = services.exceptions.grant_exception(
                who["user"], ref, category=form["category"] or "medical",
                reason=form["reason"].strip(), approved_by=form["approved_by"].strip(),
                agreement_date=_needed_day(form, "agreement_date",
                                           "date of the written agreement"),
                starts=_needed_day(form, "starts", "start date"),
                ends=_day(form, "ends", "end date"),
                review_date=_day(form, "review_date", "review date"),
                allows=form["allows"] or "keep_on_person",
                access_times=form["access_times"].strip() or None)
        except ServerError as exc:
            return listing(request, form, _sentence(str(exc)), status_code=422)
        return RedirectResponse(f"/console/exceptions?recorded={made.id}", status_code=303)

    @app.get("/console/exceptions/{ident}/revoke", response_class=HTMLResponse,
             include_in_schema=False)
    def revoke_form(request: Request, ident: int, who: Office) -> HTMLResponse:
        try:
            e = services.exceptions.get(ident)
        except ServerError as exc:
            return page(request, "message.html", title="No such exception",
                        text=_sentence(str(exc)), back="/console/exceptions", status_code=404)
        return page(request, "revoke.html", e=e, error=None)

    @app.post("/console/exceptions/{ident}/revoke", response_class=HTMLResponse,
              include_in_schema=False)
    def revoke(request: Request, ident: int, who: Office, reason: str = Form(""),
               csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.exceptions.revoke_exception(who["user"], ident, reason.strip())
        except ServerError as exc:
            return page(request, "revoke.html", e=services.exceptions.get(ident),
                        error=_sentence(str(exc)), status_code=422)
        return RedirectResponse(f"/console/exceptions?revoked={ident}", status_code=303)
