"""Asking kiosks to offer their unacknowledged events again, at once (docs/adr/0010).

With a clean MQTT session, what the broker had delivered to a server process but the process
had not yet acknowledged is gone when the process dies, and a message sent to a school nobody
subscribes to (a school changing hands between processes) is dropped. The kiosks still hold
every such event, so the server asks them for it (an ``EventAck`` with ``resend``) instead of
leaving it to their timers:

- a process asks the kiosks of the schools it has just started listening to, once the broker
  has confirmed the subscription (at start, after a reconnect, on taking over a school);
- the elected process asks every kiosk when a process is lost, or when it has just been
  elected (its predecessor may have died holding events).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import select

from lockers.clock import Clock
from lockers.wire import messages as m
from server.models import Kiosk, Site
from server.store import Store

log = logging.getLogger("lockers.server.resend")

PUBLISHER_WAIT_S = 10.0  # at start the subscription may be confirmed before we can publish


class KioskResend:
    """Sends the resend requests; :meth:`ask` returns at once (a thread does the work)."""

    def __init__(self, store: Store, clock: Clock, publish: Callable[[BaseModel, str, str], object],
                 publishing: threading.Event | None = None) -> None:
        self.store, self.clock, self.publish = store, clock, publish
        self.publishing = publishing  # set while the publishing connection is up
        self.requests = 0  # kiosks asked so far

    def ask(self, sites: list[str] | None) -> None:
        """Ask the kiosks of ``sites`` (None: every school's) to offer their events again.
        Called from the receiver's or the election's thread, so the database and the
        publishing happen in a thread of their own."""
        threading.Thread(target=self._send, args=(sites,), name="kiosk-resend",
                         daemon=True).start()

    def _send(self, sites: list[str] | None) -> None:
        try:
            if self.publishing is not None:
                self.publishing.wait(PUBLISHER_WAIT_S)
            with self.store.read() as s:
                q = select(Site.code, Kiosk.code).join(Site, Kiosk.site_id == Site.id)
                if sites is not None:
                    q = q.where(Site.code.in_(sites))
                pairs = s.execute(q.order_by(Site.code, Kiosk.code)).all()
            at = self.clock.now()
            for site, kiosk in pairs:
                self.publish(m.EventAck(kiosk=kiosk, at=at, resend=True), site, kiosk)
            self.requests += len(pairs)
            log.info("event=kiosks_asked_to_resend schools=%s kiosks=%s",
                     "all" if sites is None else ",".join(sites) or "-", len(pairs))
        except Exception:  # the kiosks' own timers still cover what this would have hurried
            log.exception("event=kiosk_resend_request_failed")
