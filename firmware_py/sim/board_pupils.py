"""Simulated pupils at a kiosk whose locks are on lock-control boards (:class:`SimBoards`).

A sprung door pops open when its lock is released (the boards' twin does that); the pupil puts
the phone in or takes it out and pushes the door shut after a human-ish delay. One thread plays
every pupil of the kiosk from a timetable, not a thread each: 300 doors in a rush would be 300
threads fighting for the interpreter on a busy machine.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Callable

from firmware_py.sim.boards import SimBoards

TICK_S = 0.005  # how often the timetable is looked at: far below a door's open time


class BoardPupils:
    """Shuts every door a released lock popped open, ``close_after_s`` (simulated) later.

    ``seen_open(slot)`` says whether the kiosk has read the door open yet. The boards' bus is
    polled in real time while pupils move at ``speed``: at a high speed a door could open and
    shut between two polls and the kiosk would never know the pupil was there, which no real
    pupil (eight seconds at a door) can do. So a door is shut only once it has been read open.
    """

    def __init__(self, boards: SimBoards, seen_open: Callable[[int], bool],
                 close_after_s: float = 6.0, seed: int | None = None,
                 speed: float = 1.0) -> None:
        self.boards, self.seen_open = boards, seen_open
        self.close_after_s, self.speed = close_after_s, speed
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._timetable: list[tuple[float, int]] = []  # (when to shut, slot)
        self._heard = 0  # how many releases of boards.released have been taken up
        self.doors_shut = 0
        self._thread = threading.Thread(target=self._play, daemon=True, name="board-pupils")

    def start(self) -> None:
        """Start playing the pupils."""
        self._thread.start()

    def stop(self) -> None:
        """Stop (doors still open stay open)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(2)

    def _play(self) -> None:
        while not self._stop.wait(TICK_S):
            now = time.monotonic()
            self._take_up_releases(now)
            self._shut_due_doors(now)

    def _take_up_releases(self, now: float) -> None:
        released = self.boards.released  # appended to by the boards' thread, never shrunk
        while self._heard < len(released):
            slot = released[self._heard]
            self._heard += 1
            if any(s == slot for _, s in self._timetable):
                continue  # a second pulse for a door already being used
            delay = self.close_after_s * self._rng.uniform(0.7, 1.3) / self.speed
            heapq.heappush(self._timetable, (now + delay, slot))

    def _shut_due_doors(self, now: float) -> None:
        waiting: list[tuple[float, int]] = []
        while self._timetable and self._timetable[0][0] <= now:
            due, slot = heapq.heappop(self._timetable)
            if not self.seen_open(slot):
                waiting.append((due, slot))  # not read open yet: the pupil is still there
                continue
            self.boards.close_door(slot)
            self.doors_shut += 1
        for item in waiting:
            heapq.heappush(self._timetable, item)
