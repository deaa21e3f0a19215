"""The sender thread: takes due messages from the outbox and sends each one at most once.

For each due message: open the channel (an unreachable server costs an attempt and a
doubling wait, never a claim), claim the row (committed), send, mark sent. A crash between
the claim and the mark leaves the row claimed; after ``claim_timeout_s`` it is ``in_doubt``
and waits for the office's decision (see docs/adr/0003).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from lockers.clock import Clock
from server.models import Notification
from server.models.notifications import IN_DOUBT, SENDING
from server.notify import outbox
from server.notify.channels import NotSent, connect
from server.notify.config import NotifyConfig
from server.store import Store

log = logging.getLogger("lockers.server.notify")


class Sender:
    """Sends what the outbox holds; ``start()``/``stop()`` run it as a thread."""

    def __init__(self, store: Store, clock: Clock, config: NotifyConfig,
                 watch: Callable[[datetime], None] | None = None) -> None:
        self.store, self.clock, self.config, self.watch = store, clock, config, watch
        # Names this process's claims in the table (several server processes may send).
        self.who = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sending in a background thread."""
        self._thread = threading.Thread(target=self._run, name="notify-sender", daemon=True)
        self._thread.start()
        log.info("event=notify_sender_started who=%s", self.who)

    def stop(self) -> None:
        """Stop after the message in hand (if any)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.smtp_timeout_s + 5)

    def wake(self) -> None:
        """Look at the outbox now (e.g. after the office pressed Resend)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the thread must outlive a bad moment in the database
                log.exception("event=notify_sender_error")
            self._wake.wait(self.config.poll_s)
            self._wake.clear()

    def run_once(self) -> int:
        """One pass: expire stale claims, run the watch, send what is due. Returns how many
        messages were sent."""
        now = self.clock.now()
        with self.store.write() as s:
            outbox.expire_claims(s, now, self.config.claim_timeout_s)
        if self.watch is not None:
            self.watch(now)
        with self.store.read() as s:
            ids = outbox.due(s, now)
        sent = 0
        for notification_id in ids:
            if self._stop.is_set():
                break
            sent += self._send_one(notification_id)
        return sent

    def _send_one(self, notification_id: int) -> int:
        with self.store.read() as s:
            row = s.get(Notification, notification_id)
            if row is None:
                return 0
            s.expunge(row)
        try:
            conn = connect(self.config, row)
        except NotSent as exc:
            self._not_sent(row, str(exc), claim_first=True)
            return 0
        try:
            with self.store.write() as s:
                if not outbox.claim(s, row.id, self.who, self.clock.now()):
                    return 0  # another sender took it
            try:
                conn.send(row)
            except NotSent as exc:
                self._not_sent(row, str(exc), claim_first=False)
                return 0
            except Exception as exc:  # noqa: BLE001 - whatever broke, the message may be out
                # It may have left (a connection lost mid-send): never guess, ask a person.
                self._in_doubt(row, f"{type(exc).__name__}: {exc}")
                return 0
            with self.store.write() as s:
                outbox.mark_sent(s, row.id, self.who, self.clock.now())
            log.info("event=notification_sent id=%s kind=%s channel=%s audience=%s",
                     row.id, row.kind, row.channel, row.audience)
            return 1
        finally:
            conn.close()

    def _not_sent(self, row: Notification, error: str, claim_first: bool) -> None:
        now = self.clock.now()
        with self.store.write() as s:
            if claim_first and not outbox.claim(s, row.id, self.who, now):
                return
            status = outbox.mark_not_sent(s, row.id, self.who, now, error,
                                          self.config.backoff_first_s,
                                          self.config.backoff_max_s, self.config.max_attempts)
        log.warning("event=notification_not_sent id=%s kind=%s channel=%s status=%s error=%r",
                    row.id, row.kind, row.channel, status, error)

    def _in_doubt(self, row: Notification, error: str) -> None:
        with self.store.write() as s:
            found = s.get(Notification, row.id)
            if found is not None and found.status == SENDING and found.claimed_by == self.who:
                found.status, found.last_error = IN_DOUBT, error[:500]
        log.error("event=notification_in_doubt id=%s kind=%s error=%r", row.id, row.kind, error)
