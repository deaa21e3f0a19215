"""Contactless card readers through PC/SC (pcscd + pyscard's low-level ``scard`` API).

One thread per reader waits on ``SCardGetStatusChange``; when a card arrives it reads the UID
with the contactless GET DATA APDU ``FF CA 00 00 00`` and puts one :class:`CardTapped` on the
queue. pyscard's ``CardMonitor`` is not used: it does not recover after a PC/SC error (pyscard
#82), breaks when a reader is unplugged (#128) and can deadlock with several readers (#220).
Instead each thread re-establishes its context and re-finds its reader by name whenever
anything fails, reporting :class:`ReaderFault` until the reader is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from smartcard import scard

from firmware_py.errors import ReaderError
from firmware_py.interfaces import CardReaders, CardTapped, EventQueue, ReaderFault

log = logging.getLogger(__name__)

GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]
WAIT_MS = 250  # how often a reader thread looks up from its wait to check for stop
RETRY_S = 0.5  # how soon a lost reader or pcscd is looked for again


@dataclass(frozen=True)
class ReaderSpec:
    """A reader's role at the kiosk and a part of its PC/SC name to find it by."""

    role: str
    name: str


class PcscCardReaders(CardReaders):
    """Every configured reader, each watched by its own thread."""

    def __init__(self, specs: list[ReaderSpec], hold_off_s: float = 3.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not specs:
            raise ReaderError("no card reader configured: add one under [readers]")
        roles = [s.role for s in specs]
        if len(set(roles)) != len(roles):
            raise ReaderError(f"reader roles must be unique, got {roles}")
        self._watchers = [_ReaderWatcher(s, hold_off_s, monotonic) for s in specs]

    def start(self, events: EventQueue) -> None:
        """Start one watcher thread per reader."""
        for w in self._watchers:
            w.start(events)

    def stop(self) -> None:
        """Stop every watcher (each within ``WAIT_MS``)."""
        for w in self._watchers:
            w.stop()

    def healthy(self) -> dict[str, bool]:
        """Role -> whether the reader is connected now."""
        return {w.spec.role: w.ok for w in self._watchers}


class _ReaderWatcher:
    def __init__(self, spec: ReaderSpec, hold_off_s: float,
                 monotonic: Callable[[], float]) -> None:
        self.spec, self.hold_off_s, self._now = spec, hold_off_s, monotonic
        self.ok = False
        self._faulted = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[str, float] | None = None  # (uid, when) of the last reported tap

    def start(self, events: EventQueue) -> None:
        self._events = events
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"reader-{self.spec.role}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch()
            except ReaderError as exc:
                self._fault(str(exc))
            except Exception as exc:  # any PC/SC surprise: recover, never die (logged in full)
                log.exception("event=reader_error role=%s", self.spec.role)
                self._fault(f"unexpected error: {exc}")
            self._stop.wait(RETRY_S)

    def _fault(self, detail: str) -> None:
        self.ok = False
        if not self._faulted:
            self._faulted = True
            log.warning("event=reader_fault role=%s detail=%s", self.spec.role, detail)
            self._events.put(ReaderFault(self.spec.role, detail))

    def _watch(self) -> None:
        rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if rc != scard.SCARD_S_SUCCESS:
            raise ReaderError(f"pcscd not reachable: {scard.SCardGetErrorMessage(rc)}")
        try:
            name = self._find(ctx)
            self.ok = True
            if self._faulted:
                self._faulted = False
                log.info("event=reader_back role=%s reader=%s", self.spec.role, name)
                self._events.put(ReaderFault(self.spec.role, f"{name} is back", cleared=True))
            state = scard.SCARD_STATE_UNAWARE
            present, events_seen = False, -1
            while not self._stop.is_set():
                rc, states = scard.SCardGetStatusChange(ctx, WAIT_MS, [(name, state)])
                if rc == scard.SCARD_E_TIMEOUT:
                    continue
                if rc != scard.SCARD_S_SUCCESS:
                    raise ReaderError(f"{name}: {scard.SCardGetErrorMessage(rc)}")
                _, new, _atr = states[0]
                if new & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                    raise ReaderError(f"{name} was unplugged")
                now_present = bool(new & scard.SCARD_STATE_PRESENT) and \
                    not new & scard.SCARD_STATE_MUTE
                # pcscd counts card events in the high 16 bits: a card swapped for another
                # between two of our waits still shows as a new presentation.
                count = new >> 16
                if now_present and (not present or (events_seen >= 0 and count != events_seen)):
                    self._read_uid(ctx, name)
                present, events_seen = now_present, count
                state = new & ~scard.SCARD_STATE_CHANGED
        finally:
            scard.SCardReleaseContext(ctx)

    def _find(self, ctx: int) -> str:
        rc, names = scard.SCardListReaders(ctx, [])
        if rc not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_NO_READERS_AVAILABLE):
            raise ReaderError(f"cannot list readers: {scard.SCardGetErrorMessage(rc)}")
        matches = [n for n in names or [] if self.spec.name in n]
        if not matches:
            raise ReaderError(f"no reader whose name contains {self.spec.name!r} "
                              f"(connected: {', '.join(names or []) or 'none'})")
        return sorted(matches)[0]

    def _read_uid(self, ctx: int, name: str) -> None:
        # A card swapped or still powering up can fail its first exchange: try a few times.
        for attempt in range(3):
            uid = self._transmit_get_uid(ctx, name)
            if uid is not None:
                break
            self._stop.wait(0.02 * (attempt + 1))
        else:
            log.info("event=card_unreadable role=%s", self.spec.role)
            return
        now = self._now()
        last = self._last
        if last is not None and last[0] == uid and now - last[1] < self.hold_off_s:
            return  # the same card bounced on the reader: one tap
        self._last = (uid, now)
        self._events.put(CardTapped(self.spec.role, uid, now))

    def _transmit_get_uid(self, ctx: int, name: str) -> str | None:
        rc, card, protocol = scard.SCardConnect(
            ctx, name, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if rc != scard.SCARD_S_SUCCESS:
            return None  # taken away too fast: not a fault
        try:
            rc, response = scard.SCardTransmit(card, protocol, GET_UID)
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        if rc != scard.SCARD_S_SUCCESS or len(response) < 3 or response[-2:] != [0x90, 0x00]:
            return None
        return bytes(response[:-2]).hex().upper()
