"""The relays that release the slots' locks.

Hazards this module exists for:
- a relay must be off at start-up and at exit, whatever happens (crash, Ctrl-C, exception);
- the power supply can hold only ``max_coils`` solenoids at once: further pulses wait, in order;
- a relay stuck on would cook a solenoid: a watchdog forces it off after ``max_on_s``.
"""

from __future__ import annotations

import atexit
import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from firmware_py.errors import FirmwareError
from firmware_py.interfaces import EventQueue, RelayWatchdogTripped
from firmware_py.lines import OutputLine

log = logging.getLogger(__name__)


class RelayBank:
    """Pulses relays within the coil limit; one worker thread times every pulse."""

    def __init__(self, lines: dict[int, OutputLine], *, pulse_s: float = 0.5, max_coils: int = 4,
                 max_on_s: float = 3.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        if max_coils < 1:
            raise FirmwareError("max_coils must be at least 1")
        if max_on_s <= pulse_s:
            raise FirmwareError("relay max_on_s must be longer than pulse_s")
        self._lines = lines
        self.pulse_s, self.max_coils, self.max_on_s = pulse_s, max_coils, max_on_s
        self._now = monotonic
        self._cond = threading.Condition()
        self._waiting: deque[int] = deque()
        self._ends: list[tuple[float, int]] = []  # (release time, slot)
        self._on_since: dict[int, float] = {}
        self._events: EventQueue | None = None
        self._closed = False
        self.all_off()
        atexit.register(self.close)
        self._worker = threading.Thread(target=self._run, daemon=True, name="relays")
        self._worker.start()

    def attach(self, events: EventQueue) -> None:
        """Report watchdog trips onto ``events``."""
        self._events = events

    def pulse(self, slot: int) -> None:
        """Energise ``slot``'s relay for one pulse now, or as soon as a coil is free."""
        if slot not in self._lines:
            raise FirmwareError(f"slot {slot} has no relay in this pin map")
        with self._cond:
            if self._closed:
                raise FirmwareError("the relay bank is closed")
            if slot in self._on_since or slot in self._waiting:
                return  # already releasing: one pulse is enough
            if len(self._on_since) < self.max_coils and not self._waiting:
                self._energise(slot)  # inline: the fastest path from a tap to a coil
            else:
                self._waiting.append(slot)
            self._cond.notify()

    @property
    def slots(self) -> list[int]:
        """The slots this bank has a relay for, in order."""
        return sorted(self._lines)

    def is_on(self, slot: int) -> bool:
        """Whether ``slot``'s relay is energised now."""
        return self._lines[slot].is_on

    @property
    def energised(self) -> list[int]:
        """Slots whose relays are on now (read under the lock: a consistent instant)."""
        with self._cond:
            return [s for s, line in self._lines.items() if line.is_on]

    @property
    def queued(self) -> list[int]:
        """Slots waiting for a free coil, in order."""
        with self._cond:
            return list(self._waiting)

    def all_off(self) -> None:
        """Every relay off now; queued pulses dropped."""
        with self._cond:
            self._waiting.clear()
            self._ends.clear()
            self._on_since.clear()
            for line in self._lines.values():
                line.set(False)
            self._cond.notify()

    def close(self) -> None:
        """All off, stop the worker, free the pins (idempotent)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        self.all_off()
        with self._cond:
            self._cond.notify()
        if threading.current_thread() is not self._worker:
            self._worker.join(2)
        for line in self._lines.values():
            line.close()
        atexit.unregister(self.close)

    def _energise(self, slot: int) -> None:
        now = self._now()
        self._lines[slot].set(True)
        self._on_since[slot] = now
        heapq.heappush(self._ends, (now + self.pulse_s, slot))

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                now = self._now()
                while self._ends and self._ends[0][0] <= now:
                    _, slot = heapq.heappop(self._ends)
                    self._lines[slot].set(False)
                    self._on_since.pop(slot, None)
                while self._waiting and len(self._on_since) < self.max_coils:
                    self._energise(self._waiting.popleft())
                self._watchdog(now)
                timeout = min(self._ends[0][0] - now, 0.1) if self._ends else 0.1
                self._cond.wait(max(timeout, 0.0005))

    def _watchdog(self, now: float) -> None:
        # A relay on longer than the hard limit (a stuck worker, a clock jump, a wiring short
        # reported as "on") is forced off and reported.
        for slot, line in self._lines.items():
            since = self._on_since.get(slot)
            if line.is_on and (since is None or now - since > self.max_on_s):
                on_for = now - since if since is not None else float("nan")
                line.set(False)
                self._on_since.pop(slot, None)
                log.error("event=relay_watchdog slot=%s on_s=%.2f", slot, on_for)
                if self._events is not None:
                    self._events.put(RelayWatchdogTripped(slot, on_for))
