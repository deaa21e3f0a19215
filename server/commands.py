"""Commands to kiosks: send with an expiry, track the acknowledgement, report the outcome.

``send`` records the command (and its audit entry) before publishing, so a kiosk's fast ack can
never arrive for a command the database does not know. ``wait`` blocks the caller (e.g. the web
request for a parent collection) until the kiosk says what physically happened, or the
deadline passes, and returns success, refusal, failure or timeout.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lockers.clock import Clock
from lockers.wire import messages as m
from server import audit
from server.custody.doors import door_refused
from server.errors import NotFound
from server.ingest.kiosks import KnownKiosk
from server.models import Command, Kiosk, Site
from server.models.operations import CommandStatus
from server.replica import Publish
from server.store import Store

log = logging.getLogger("lockers.server.commands")

SUCCESS = {m.CommandOutcome.DOOR_OPENED, m.CommandOutcome.DOOR_ALREADY_OPEN,
           m.CommandOutcome.DONE, m.CommandOutcome.DUPLICATE}
REFUSED = {m.CommandOutcome.REFUSED, m.CommandOutcome.EXPIRED}


@dataclass(frozen=True)
class CommandResult:
    """What became of a command: ``status`` is success, refused, failed, timeout or sent."""

    command_id: str
    status: str
    outcome: str | None = None
    detail: str | None = None
    slots: tuple[tuple[int, str], ...] = ()


def status_of(outcome: m.CommandOutcome) -> str:
    """The caller-facing status of a kiosk's outcome."""
    if outcome in SUCCESS:
        return CommandStatus.SUCCESS
    return CommandStatus.REFUSED if outcome in REFUSED else CommandStatus.FAILED


class CommandCenter:
    """Sends commands and wakes whoever waits for their acknowledgement."""

    def __init__(self, store: Store, clock: Clock, publish: Publish | None) -> None:
        self.store, self.clock, self.publish = store, clock, publish
        self._waiters: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def record(self, session: Session, kiosk: Kiosk, kind: m.CommandKind, actor: str,
               reason: str, *, slot: int | None = None, purpose: str | None = None,
               ttl_s: float = 120.0, mode: str | None = None, custody_id: str | None = None,
               expected_pupil_ref: str | None = None) -> m.Command:
        """Store a command and its audit entry in the caller's transaction; publish it with
        :meth:`dispatch` after the commit. A remote unlock for a device names its custody
        record and pupil: the kiosk opens only if its own record of the slot matches."""
        now = self.clock.now()
        command = m.Command(id=secrets.token_hex(8), kiosk=kiosk.code, kind=kind, actor=actor,
                            reason=reason, issued_at=now,
                            expires_at=now + timedelta(seconds=ttl_s), slot=slot,
                            purpose=purpose, mode=mode, custody_id=custody_id,
                            expected_pupil_ref=expected_pupil_ref)
        session.add(Command(id=command.id, kiosk_id=kiosk.id, kind=kind.value, purpose=purpose,
                            slot=slot, actor=actor, reason=reason, issued_at=now,
                            expires_at=command.expires_at, custody_id=custody_id,
                            expected_pupil_ref=expected_pupil_ref))
        audit.append(session, now, [audit.Entry(
            actor=audit.staff_actor(actor), action=f"command.{kind.value}", entity="command",
            entity_id=command.id, reason=reason, pupil_ref=expected_pupil_ref,
            detail={"kiosk": kiosk.code, "slot": slot, "purpose": purpose,
                    "custody_id": custody_id,
                    "expires_at": command.expires_at.isoformat()})])
        with self._lock:
            self._waiters[command.id] = threading.Event()
        return command

    def dispatch(self, command: m.Command, site_code: str) -> None:
        """Publish a recorded command to its kiosk."""
        if self.publish is None:
            log.warning("event=command_not_sent id=%s reason=no_mqtt_link", command.id)
            return
        self.publish(command, site_code, command.kiosk)
        log.info("event=command_sent id=%s kiosk=%s kind=%s slot=%s", command.id,
                 command.kiosk, command.kind.value, command.slot)

    def send(self, site_code: str, kiosk_code: str, kind: m.CommandKind, actor: str,
             reason: str, **kw: object) -> m.Command:
        """Record and publish a command in one go."""
        with self.store.write() as s:
            kiosk = s.scalar(select(Kiosk).join(Site).where(Site.code == site_code,
                                                            Kiosk.code == kiosk_code))
            if kiosk is None:
                raise NotFound(f"kiosk {site_code}/{kiosk_code} is not set up")
            command = self.record(s, kiosk, kind, actor, reason, **kw)  # type: ignore[arg-type]
        self.dispatch(command, site_code)
        return command

    def apply_ack(self, session: Session, kiosk: KnownKiosk, ack: m.CommandAck, now: datetime
                  ) -> str | None:
        """Record a kiosk's ack inside the caller's transaction; return the command id to
        wake after commit (None if the command is unknown, or was sent to another kiosk)."""
        status = status_of(ack.outcome)
        done = session.execute(update(Command).where(
            Command.id == ack.command_id, Command.kiosk_id == kiosk.id).values(
            status=status, outcome=ack.outcome.value, detail=ack.detail, acked_at=ack.at,
            ack=ack.model_dump(mode="json")))
        if not done.rowcount:
            log.warning("event=command_ack_unknown id=%s kiosk=%s", ack.command_id, ack.kiosk)
            return None
        audit.append(session, now, [audit.Entry(
            actor=audit.kiosk_actor(kiosk.site_code, kiosk.code), action="command.ack",
            entity="command",
            entity_id=ack.command_id, detail=ack.model_dump(mode="json"))])
        if status != CommandStatus.SUCCESS:
            command = session.get(Command, ack.command_id)
            if command is not None and command.custody_id is not None:
                door_refused(session, kiosk, command, ack, now)
        return ack.command_id

    def acked(self, command_id: str) -> None:
        """Wake waiters of ``command_id`` (called after the ack is committed)."""
        with self._lock:
            waiter = self._waiters.get(command_id)
        if waiter is not None:
            waiter.set()

    def wait(self, command_id: str, timeout: float) -> CommandResult:
        """Wait up to ``timeout`` real seconds (or the command's expiry) for the kiosk's ack."""
        import time

        with self._lock:
            waiter = self._waiters.setdefault(command_id, threading.Event())
        deadline = time.monotonic() + timeout
        while True:
            result = self.result(command_id)
            if result.status != CommandStatus.SENT:
                break
            remaining = deadline - time.monotonic()
            expired = self._expired(command_id)
            if remaining <= 0 or expired:
                result = self._time_out(command_id)
                break
            # Short waits: another server process may have committed the ack.
            waiter.wait(min(remaining, 0.25))
        with self._lock:
            self._waiters.pop(command_id, None)
        return result

    def result(self, command_id: str) -> CommandResult:
        """The command's current status from the database."""
        with self.store.read() as s:
            c = s.get(Command, command_id)
            if c is None:
                raise NotFound(f"command {command_id} does not exist")
            slots = tuple((o["slot"], o["outcome"]) for o in (c.ack or {}).get("slots", []))
            return CommandResult(c.id, c.status, c.outcome, c.detail, slots)

    def _expired(self, command_id: str) -> bool:
        with self.store.read() as s:
            expires = s.scalar(select(Command.expires_at).where(Command.id == command_id))
        return expires is not None and self.clock.now() >= expires

    def expire_due(self) -> int:
        """Mark every command still waiting past its expiry as timed out (with its audit
        entry); return how many. The elected process runs this (server.elected), so a
        command times out even when no web request is waiting for it."""
        now = self.clock.now()
        with self.store.write() as s:
            due = list(s.scalars(select(Command.id).where(
                Command.status == CommandStatus.SENT, Command.expires_at <= now)
                .with_for_update(skip_locked=True)))
            if not due:
                return 0
            s.execute(update(Command).where(Command.id.in_(due))
                      .values(status=CommandStatus.TIMEOUT))
            audit.append(s, now, [audit.Entry(
                actor=audit.SYSTEM, action="command.timeout", entity="command",
                entity_id=cid, reason="expired without an acknowledgement from the kiosk")
                for cid in due])
        for cid in due:
            log.warning("event=command_expired id=%s", cid)
            self.acked(cid)  # a waiter here re-reads the status at once
        return len(due)

    def _time_out(self, command_id: str) -> CommandResult:
        with self.store.write() as s:
            done = s.execute(update(Command).where(Command.id == command_id,
                                                   Command.status == CommandStatus.SENT)
                             .values(status=CommandStatus.TIMEOUT))
            if done.rowcount:
                audit.append(s, self.clock.now(), [audit.Entry(
                    actor=audit.SYSTEM, action="command.timeout", entity="command",
                    entity_id=command_id, reason="no acknowledgement from the kiosk")])
                log.warning("event=command_timeout id=%s", command_id)
        return self.result(command_id)
