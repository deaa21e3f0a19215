"""Admin pages for kiosks: add one with its name and place, rename or move it, and provision
it (its broker account as a script to run on the server, and its config file)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response

from server.errors import ServerError
from server.services.provisioning import BrokerEndpoint
from server.services.web_admin import WebAdmin
from server.web.auth import check_csrf, role_at_least
from server.web.flash import refused, saved

Admin = role_at_least("admin")
TLS_PORT, PLAIN_PORT = 8883, 1883  # Mosquitto's usual ports with and without TLS


def add_kiosks(app: FastAPI, page: Any, admin: WebAdmin) -> None:
    """Mount the kiosk admin pages."""
    services = app.state.services

    @app.post("/admin/kiosks", include_in_schema=False)
    def add_kiosk(request: Request, who: dict = Admin, site: str = Form(...),
                  code: str = Form(...), name: str = Form(""), place: str = Form(""),
                  slots: int = Form(16), csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        code = code.strip().lower()
        try:
            services.admin.add_kiosk(who["user"], code, name=name.strip(), slots=slots,
                                     site=site, place=place.strip())
        except (ServerError, ValueError) as exc:
            return refused(request, str(exc), "/admin#kiosks")
        return saved(request, f"Saved: kiosk {name.strip() or code} with {slots} lockers. "
                              "Provision it next to give it its broker account.",
                     "/admin#kiosks")

    @app.post("/admin/kiosks/{site}/{code}", include_in_schema=False)
    def name_kiosk(request: Request, site: str, code: str, who: dict = Admin,
                   name: str = Form(...), place: str = Form(""),
                   csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            services.admin.name_kiosk(who["user"], code, name, place, site=site)
        except ServerError as exc:
            return refused(request, str(exc), "/admin#kiosks")
        where = f" at {place.strip()}" if place.strip() else ""
        return saved(request, f"Saved: kiosk {code} is now {name.strip()}{where}.",
                     "/admin#kiosks")

    @app.post("/admin/kiosks/{site}/{code}/provision", response_class=HTMLResponse,
              include_in_schema=False)
    def provision(request: Request, site: str, code: str, who: dict = Admin,
                  host: str = Form(""), tls: str = Form(""), port: int = Form(0),
                  csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        with_tls = tls == "on"
        endpoint = BrokerEndpoint(host.strip() or request.url.hostname or "lockers-server",
                                  port or (TLS_PORT if with_tls else PLAIN_PORT), with_tls)
        try:
            done = admin.provision_kiosk(who["user"], site, code, endpoint)
        except ServerError as exc:
            return refused(request, str(exc), "/admin#kiosks")
        return page(request, "provisioned.html", p=done)
