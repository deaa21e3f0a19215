"""Leadership's live dashboard: the day's counters, phones in lockers now and left at close,
the arrival chart, kiosks by name and place, every locker, alarms with acknowledgement, and
the server-sent event stream that keeps it live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from server import tenancy
from server.errors import ServerError
from server.services import Services
from server.services.alarms import AlarmDesk
from server.services.dashboard import DashboardReads, as_utc
from server.web.auth import Leadership, check_csrf
from server.web.charts import arrivals_chart
from server.web.flash import refused, saved
from server.web.live import Broadcaster


def add_dashboard(app: FastAPI, page: Any, broadcaster: Broadcaster) -> None:
    """Mount the dashboard, its summary, its event stream and alarm acknowledgement."""
    services = app.state.services
    reads, alarms = DashboardReads(services.ctx), AlarmDesk(services.ctx)

    def figures() -> dict[str, Any]:
        lockers = reads.lockers()
        names = reads.kiosk_names()
        kiosks = [{**k, "name": names.get((k["site"], k["kiosk"]), (k["kiosk"], ""))[0],
                   "place": names.get((k["site"], k["kiosk"]), ("", ""))[1]}
                  for k in services.queries.kiosks()]
        return {"counts": services.reports.today(), "lockers": lockers, "kiosks": kiosks,
                "alarms": alarms.open_alarms(), "tz": reads.timezone(),
                "as_utc": as_utc, "chart": arrivals_chart(lockers.arrivals)}

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, who: Leadership) -> HTMLResponse:
        return page(request, "dashboard.html", **figures())

    @app.get("/dashboard/summary", response_class=HTMLResponse, include_in_schema=False)
    def summary(request: Request, who: Leadership) -> HTMLResponse:
        """Counters and alarms, re-read when the live stream says they changed."""
        return page(request, "summary.html", **figures())

    @app.post("/alarms/{alarm_id}/acknowledge", include_in_schema=False)
    def acknowledge(request: Request, alarm_id: int, who: Leadership, note: str = Form(""),
                    csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        try:
            alarms.acknowledge(who["user"], alarm_id, note)
        except ServerError as exc:
            return refused(request, str(exc), "/dashboard#alarms")
        # Every open dashboard of the school shows it, on every server process of the trust
        # (app.state.live); the page is about one school, whose dashboards alone re-read.
        codes = tenancy.visible_codes() or frozenset()
        site = next(iter(codes)) if len(codes) == 1 else None
        request.app.state.live([{"kind": "refresh", "site": site}])
        return saved(request, f"Saved: the alarm is acknowledged by {who['name']}.",
                     "/dashboard#alarms")

    @app.get("/events", include_in_schema=False)
    async def events(request: Request, who: Leadership) -> StreamingResponse:
        client = broadcaster.subscribe()
        sid = request.session.get("sid")
        return StreamingResponse(_live_stream(request, services, broadcaster, client, sid),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})


async def _live_stream(request: Request, services: Services, broadcaster: Broadcaster,
                       client: tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]],
                       sid: str | None) -> AsyncIterator[str]:
    """Server-sent events for one dashboard until it goes away or its session ends."""
    checked = asyncio.get_running_loop().time()
    try:
        yield "retry: 2000\n\n"  # reconnect quickly after a server restart
        while not await request.is_disconnected():
            if asyncio.get_running_loop().time() - checked > 5:
                # An open stream ends within seconds of a sign-out, a password
                # change or a disabled account, like every other request.
                checked = asyncio.get_running_loop().time()
                if await asyncio.to_thread(services.signin.session, sid) is None:
                    return
            try:
                data = await asyncio.wait_for(client[1].get(), timeout=5)
                yield f"data: {data}\n\n"
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        broadcaster.unsubscribe(client)
