"""Pieces of the several-server-processes tests: real server processes, resending kiosks.

A :class:`ServerProcess` is ``tests.server_child`` on its own broker account (the broker
fixture makes ``server``, ``server-2``, ...), sharing one database with the others. A
:class:`ResendingKiosk` is the fake kiosk with the real kiosk's outbox rule (ADR 0009): it
offers every unacknowledged event again, in order, when the server asks or the oldest is
overdue.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from locker_controller.uplink import RESEND_AFTER_S, RESEND_MAX_S, RESEND_SILENT_S, WINDOW
from lockers.wire import messages as m
from tests.server_kit import MORNING, FakeKiosk, make_clock, seed

ROOT = Path(__file__).resolve().parents[1]


def prepare_database(url: str, kiosks: list[str], slots: int = 10) -> None:
    """Migrate ``url`` and seed the school north with the kiosks named."""
    from server.migrate import upgrade
    from server.services import Services
    from server.store import Store

    upgrade(url)
    store = Store(url)
    try:
        services = Services(store, make_clock())
        seed(services)  # makes k1
        for code in kiosks:
            if code != "k1":
                services.admin.add_kiosk("admin", code, slots=slots)
    finally:
        store.dispose()


class ServerProcess:
    """A server process of its own (``python -m tests.server_child``)."""

    def __init__(self, url: str, broker: Any, number: int, folder: Path,
                 replica_tick_s: float = 30.0, migrate_when: Path | None = None,
                 affinity: bool = False) -> None:
        username = broker.server_username if number == 1 else \
            f"{broker.server_username}-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        self.settings = {"url": url, "host": broker.host, "port": broker.port,
                         "username": username, "password": broker.server_password,
                         "folder": str(folder), "replica_tick_s": replica_tick_s,
                         "affinity": affinity}
        if migrate_when is not None:  # migrate at start, once that file exists
            self.settings |= {"migrate": True, "start_when": str(migrate_when)}
        self.log_path = folder / "server.log"
        self.proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def start(self) -> ServerProcess:
        """Start the process (it says ``ready`` once receiving: see :meth:`wait_ready`)."""
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.server_child", json.dumps(self.settings)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the process's ``ready`` line (it is receiving from the broker then)."""
        assert self.proc is not None and self.proc.stdout is not None
        out, got = self.proc.stdout, []

        def read() -> None:
            got.append(out.readline())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not got or got[0].strip() != "ready":
            raise AssertionError(f"server process did not start: {self.log()[-3000:]}")

    def log(self) -> str:
        """What the process logged so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no clean stop, no last commit, as a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """Stop cleanly (SIGTERM), or kill if it does not stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None


class ResendingKiosk(FakeKiosk):
    """A fake kiosk that keeps its events until the server acknowledges them, as the real
    kiosk's uplink does (locker_controller/uplink.py, the same constants): at most
    :data:`WINDOW` events offered beyond the oldest unacknowledged one, the rest as the server
    commits; all unacknowledged ones offered again, in order, when the server asks
    (``EventAck.resend``), when the oldest was passed over for :data:`RESEND_AFTER_S`, or
    after :data:`RESEND_SILENT_S` of silence, each further resend waiting twice as long (up
    to RESEND_MAX_S)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        self.outbox: list[m.EventBase] = []
        self.resends = 0  # resends on the kiosk's own timers
        self.asked = 0  # resend requests heard from the server
        self._offered = 0  # events of the outbox offered so far
        self._oldest: tuple[int | None, float] = (None, 0.0)
        self._resend_after = RESEND_AFTER_S
        self._passed_over = False
        self._resend_asked = False
        super().__init__(*args, **kw)
        self._stop = threading.Event()
        self._resender = threading.Thread(target=self._resend_loop, daemon=True)
        self._resender.start()

    def send(self, events: list[m.EventBase]) -> None:
        """Queue ``events`` in order, keeping them until acknowledged; offer what fits."""
        with self._cond:
            self.outbox.extend(events)
        self._offer()

    def all_acked(self) -> bool:
        """Whether the server acknowledged every event sent."""
        with self._cond:
            return all(ev.seq in self.acked for ev in self.outbox)

    def in_flight(self) -> set[int]:
        """The events offered and not yet acknowledged."""
        with self._cond:
            return {ev.seq for ev in self.outbox[:self._offered] if ev.seq not in self.acked}

    def _on_message(self, c: Any, u: Any, msg: Any) -> None:
        from lockers.wire.codec import decode_topic

        _, message = decode_topic(msg.topic, msg.payload)
        if isinstance(message, m.EventAck):
            with self._cond:
                oldest = self._oldest[0]
                if oldest is not None and oldest not in message.seqs and \
                        any(seq > oldest for seq in message.seqs):
                    self._passed_over = True
                if message.resend:  # counted as heard: the kiosk may have nothing left
                    self.asked += 1
                    self._resend_asked = True
        super()._on_message(c, u, msg)

    def _offer(self) -> None:
        """Offer the outbox as the real uplink does (see the class doc)."""
        now, out = time.monotonic(), []
        with self._cond:
            pending = [ev for ev in self.outbox if ev.seq not in self.acked]
            oldest = pending[0].seq if pending else None
            asked, self._resend_asked = self._resend_asked, False
            if oldest != self._oldest[0]:
                self._oldest, self._resend_after = (oldest, now), RESEND_AFTER_S
                self._passed_over = False
            if oldest is not None and (asked or self._overdue(now)):
                if not asked:
                    self.resends += 1
                    self._resend_after = min(self._resend_after * 2, RESEND_MAX_S)
                self._offered, self._oldest, self._passed_over = 0, (oldest, now), False
            ceiling = (oldest or 0) + WINDOW
            while self._offered < len(self.outbox) and self.outbox[self._offered].seq < ceiling:
                ev = self.outbox[self._offered]
                self._offered += 1
                if ev.seq not in self.acked:
                    out.append(ev)
        for ev in out:
            self.client.publish(_topic_of(self, ev), _encode(ev), qos=1)

    def _overdue(self, now: float) -> bool:
        waited = now - self._oldest[1]
        if self._passed_over:
            return waited > self._resend_after
        return waited > max(self._resend_after, RESEND_SILENT_S)

    def _resend_loop(self) -> None:
        while not self._stop.wait(0.1):  # the real kiosk's tick
            self._offer()

    def close(self) -> None:
        """Stop resending and disconnect."""
        self._stop.set()
        self._resender.join(5)
        super().close()


def _topic_of(kiosk: FakeKiosk, ev: m.EventBase) -> str:
    from lockers.wire import topics as t
    from lockers.wire.codec import channel_of

    return t.topic(channel_of(ev), kiosk.site, kiosk.kiosk)


def _encode(ev: m.EventBase) -> bytes:
    from lockers.wire.codec import encode

    return encode(ev)


def slot_events(kiosk: FakeKiosk, count: int, slots: int = 10) -> list[m.EventBase]:
    """``count`` slot-state events in the kiosk's order: each slot filled then emptied in
    turn, so a slot's last state shows whether its events were applied in order."""
    events: list[m.EventBase] = []
    for seq in range(1, count + 1):
        slot = (seq - 1) // 2 % slots + 1
        filled = seq % 2 == 1
        events.append(m.SlotStateEvent(
            kiosk=kiosk.kiosk, site=kiosk.site, seq=seq, at=MORNING,
            slot=slot, state=m.SlotState.OCCUPIED if filled else m.SlotState.FREE,
            previous=m.SlotState.FREE if filled else m.SlotState.OCCUPIED,
            pupil_ref="A001" if filled else None))
    return events


def last_states(events: list[m.EventBase]) -> dict[int, str]:
    """Each slot's state after ``events`` in order: what the server must end up showing."""
    return {ev.slot: str(ev.state) for ev in events if isinstance(ev, m.SlotStateEvent)}
