"""Simulated pupils at a sim kiosk: when a lock is released they open the door, put their
phone in (or take it out) and shut it, after human-ish delays. For the demo and the
simulator, where nobody stands at the mock pins."""

from __future__ import annotations

import random
import threading

from firmware_py.sim.world import SimWorld


class SimPupils:
    """Watches every relay; a released lock is opened and shut again after a delay."""

    def __init__(self, world: SimWorld, open_after_s: float = 0.3, close_after_s: float = 1.5,
                 seed: int | None = None, speed: float = 1.0) -> None:
        self.world, self.speed = world, speed
        self.open_after_s, self.close_after_s = open_after_s, close_after_s
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._busy: set[int] = set()
        self.leave_open: set[int] = set()  # slots whose door the "pupil" forgets to shut
        self.forget_nth: int | None = None  # the Nth door opened is left open a while
        self.forget_s = 0.0
        self._opened = 0
        self._thread = threading.Thread(target=self._watch, daemon=True, name="sim-pupils")

    def start(self) -> None:
        """Start watching the relays."""
        self._thread.start()

    def stop(self) -> None:
        """Stop."""
        self._stop.set()
        self._thread.join(2)

    def _watch(self) -> None:
        bank = self.world.bank
        while not self._stop.wait(0.01):
            for slot in bank.relays.energised:
                if slot not in self._busy:
                    self._busy.add(slot)
                    threading.Thread(target=self._use, args=(slot,), daemon=True).start()

    def _use(self, slot: int) -> None:
        bank = self.world.bank
        try:
            if self._stop.wait(self._jitter(self.open_after_s)):
                return
            self.world.open_door(slot)
            self._opened += 1
            forgetful = self._opened == self.forget_nth
            inside = bank.occupied(slot)
            if inside is not None:  # swap: an empty slot gets a phone, a full one is emptied
                (self.world.take_item if inside else self.world.put_item)(slot)
            if slot in self.leave_open:
                return
            delay = self.forget_s if forgetful else self._jitter(self.close_after_s)
            if self._stop.wait(delay):
                return
            self.world.close_door(slot)
            while bank.relays.is_on(slot) and not self._stop.wait(0.01):
                pass  # wait for this pulse to end so it is not taken for a new one
        finally:
            self._busy.discard(slot)

    def _jitter(self, seconds: float) -> float:
        return seconds * self._rng.uniform(0.7, 1.3) / self.speed


