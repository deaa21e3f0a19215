"""The FastAPI app ``lockers server`` serves: card enrolment and lost-card replacement, and
/healthz. Every endpoint calls the service layer, which checks roles and writes the audit log.

Authentication here is HTTP Basic against staff accounts (argon2 hashes) so the API is usable
from scripts today; the web issue adds signed sessions and CSRF for the browser pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field
from sqlalchemy import text

from lockers.cardhash import CardUidError
from server.errors import Forbidden, NotAllowed, NotFound
from server.services import Services
from server.services.admin import StaffView

_basic = HTTPBasic(realm="lockers")


class CardRequest(BaseModel):
    """A card to enrol (UID in hex, as the reader or the card printer shows it)."""

    uid: str = Field(min_length=2, max_length=40, examples=["04A1B2C3D4E5F6"])
    reason: str = Field(default="enrolment", max_length=500)


class CardOut(BaseModel):
    """A card as the API returns it."""

    id: int
    pupil_ref: str
    uid: str
    card_hash: str
    active: bool
    enrolled_at: datetime
    deactivated_reason: str | None


async def signed_in_staff(request: Request,
                          creds: Annotated[HTTPBasicCredentials, Depends(_basic)]
                          ) -> StaffView:
    """The staff member named by the request's credentials (401 if wrong, 429 once this
    name or address has had too many wrong attempts: the same guard as the sign-in form).
    Async, so the school scope it sets reaches the route (see server.web.scoping)."""
    from server.services.signin import Locked
    from server.web.auth import client_address
    from server.web.scoping import use_staff_scope

    services = request.app.state.services
    try:
        who = await asyncio.to_thread(services.signin.verify, creds.username, creds.password,
                                      client_address(request), "api")
    except Locked as exc:
        raise HTTPException(429, str(exc),
                            headers={"Retry-After": str(exc.retry_after_s)}) from None
    if who is None:
        raise HTTPException(401, "wrong username or password",
                            headers={"WWW-Authenticate": "Basic"})
    await use_staff_scope(services, who.id)
    return who


Staff = Annotated[StaffView, Depends(signed_in_staff)]


def create_app(services: Services, health: Callable[[], dict[str, Any]] | None = None,
               session_key: str | None = None, behind_tls: bool = False,
               max_request_bytes: int = 2_000_000) -> FastAPI:
    """The app, bound to one :class:`Services`; ``health`` adds fields to /healthz.
    ``behind_tls`` (server.toml ``[web] behind_tls``) marks the session cookie Secure and
    sends HSTS; bodies over ``max_request_bytes`` are refused before they are parsed."""
    import secrets

    from starlette.middleware.sessions import SessionMiddleware

    from server.web.headers import SecurityHeaders
    from server.web.limits import BodyLimit
    from server.web.live import Broadcaster
    from server.web.pages import add_pages
    from server.web.schools import add_schools
    from server.web.scoping import SchoolScope

    # The API description and its docs are for signed-in staff too (see pages.py).
    app = FastAPI(title="School phone lockers", version="1", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.services = services
    app.state.broadcaster = Broadcaster()
    # Where the web's own dashboard updates go (an acknowledged alarm): this process's
    # dashboards, unless serve() sends them over server.bus to every process's.
    app.state.live = app.state.broadcaster.publish
    # Added before the session middleware, so it runs inside it and can read the session.
    app.add_middleware(SchoolScope, services=services)
    # Sessions expire after 8 hours (and with the browser); the key is made per start unless
    # the config gives one, so a restart signs everyone out rather than sharing a secret.
    app.add_middleware(SessionMiddleware, secret_key=session_key or secrets.token_hex(32),
                       max_age=8 * 3600, same_site="strict", session_cookie="lockers",
                       https_only=behind_tls)
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes)
    app.add_middleware(SecurityHeaders, behind_tls=behind_tls)
    add_pages(app, app.state.broadcaster)
    add_schools(app)

    @app.exception_handler(NotFound)
    async def _not_found(_r: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(_r: Request, exc: NotAllowed) -> JSONResponse:
        return JSONResponse({"detail": str(exc)},
                            status_code=403 if isinstance(exc, Forbidden) else 409)

    @app.exception_handler(CardUidError)
    async def _bad_uid(_r: Request, exc: CardUidError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Liveness: the database answers and ingest is alive and keeping up (503 if not, so
        a monitor or systemd watchdog sees a stuck server), with the runtime's figures."""
        with services.store.read() as s:
            s.execute(text("SELECT 1"))
        extra = health() if health else {}
        ok = bool(extra.pop("healthy", True))
        return JSONResponse({"status": "ok" if ok else "unhealthy", **extra},
                            status_code=200 if ok else 503)

    @app.get("/api/pupils/{pupil_ref}/cards", response_model=list[CardOut])
    def list_cards(pupil_ref: str, who: Staff) -> Any:
        """Every card the pupil has had, newest first."""
        return services.cards.cards_of(pupil_ref)

    @app.post("/api/pupils/{pupil_ref}/cards", response_model=CardOut, status_code=201)
    def enrol(pupil_ref: str, body: CardRequest, who: Staff) -> Any:
        """Enrol a card for the pupil."""
        return services.cards.enrol_card(who.username, pupil_ref, body.uid, body.reason)

    @app.post("/api/pupils/{pupil_ref}/cards/replace", response_model=CardOut, status_code=201)
    def replace(pupil_ref: str, body: CardRequest, who: Staff) -> Any:
        """The pupil lost their card: deactivate the old one(s) and enrol this one."""
        return services.cards.replace_lost_card(who.username, pupil_ref, body.uid,
                                                body.reason if body.reason != "enrolment"
                                                else "card lost")

    @app.post("/api/cards/lost", response_model=CardOut)
    def lost(body: CardRequest, who: Staff) -> Any:
        """Mark one card lost (kiosks stop accepting it within a second)."""
        return services.cards.mark_card_lost(who.username, body.uid,
                                             body.reason if body.reason != "enrolment"
                                             else "card lost")

    return app
