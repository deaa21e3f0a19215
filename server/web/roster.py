"""The roster upload in the web admin: choose a file, see what would change, apply it, and
read what happened.

The preview carries the uploaded file back to the browser (base64 in a hidden field) rather
than keeping it on the server, so applying works whichever server process answers, and what
is applied is exactly the file that was previewed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from server.errors import ServerError
from server.roster import import_roster, preview_roster
from server.roster_layouts import ALL_FIELDS, LAYOUTS
from server.web.auth import check_csrf, role_at_least

Admin = role_at_least("admin")
MAX_UPLOAD = 20 * 1024 * 1024  # a 3,000-pupil export with contacts is about 1 MB


def parse_mapping(text: str) -> dict[str, str]:
    """``field=Column`` lines (blank lines ignored) as a mapping."""
    mapping = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        key, sep, col = raw.partition("=")
        if not sep or key.strip() not in ALL_FIELDS or not col.strip():
            raise ServerError(f"mapping line {raw.strip()!r}: write field=Column, with field "
                              f"one of {', '.join(ALL_FIELDS[:7])}, contact1_name, ...")
        mapping[key.strip()] = col.strip()
    return mapping


def add_roster(app: FastAPI, page: Any) -> None:
    """Mount /admin/roster, its preview and its result on ``app``."""
    services = app.state.services

    def failed(request: Request, exc: Exception) -> HTMLResponse:
        return page(request, "message.html", title="That file could not be imported",
                    text=str(exc), back="/admin/roster", status_code=409)

    @app.get("/admin/roster", response_class=HTMLResponse, include_in_schema=False)
    def roster_form(request: Request, who: dict = Admin) -> HTMLResponse:
        return page(request, "roster.html", layouts=LAYOUTS)

    @app.post("/admin/roster/preview", response_class=HTMLResponse, include_in_schema=False)
    def roster_preview(request: Request, who: dict = Admin,
                       roster: UploadFile = File(...), mapping: str = Form(""),
                       full_export: str = Form(""), csrf: str = Form("")) -> Response:
        # A plain def: a worker thread reads and plans the file, never the event loop.
        check_csrf(request, csrf)
        data = roster.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return failed(request, ServerError("the file is over 20 MB: is it the pupil "
                                               "list?"))
        try:
            plan = preview_roster(services, data, mapping=parse_mapping(mapping) or None,
                                  full_export=bool(full_export))
        except ServerError as exc:
            return failed(request, exc)
        return page(request, "roster-preview.html", plan=plan, filename=roster.filename,
                    data=base64.b64encode(data).decode("ascii"), mapping_text=mapping,
                    full_export=bool(full_export))

    @app.post("/admin/roster/apply", response_class=HTMLResponse, include_in_schema=False)
    def roster_apply(request: Request, who: dict = Admin, data: str = Form(...),
                     mapping: str = Form(""), full_export: str = Form(""),
                     save_mapping: str = Form(""), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            raw = base64.b64decode(data, validate=True)
            report = import_roster(services, who["user"], raw,
                                   mapping=parse_mapping(mapping) or None,
                                   full_export=bool(full_export),
                                   save_mapping=bool(save_mapping), progress=False)
        except binascii.Error:
            return failed(request, ServerError("the upload was damaged: choose the file again"))
        except ServerError as exc:
            return failed(request, exc)
        return page(request, "roster-result.html", plan=report.plan,
                    saved=bool(save_mapping))
