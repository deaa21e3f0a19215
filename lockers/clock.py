"""Injectable time, so a school day can be simulated fast and tests never wait for the wall.

Everything that asks "what time is it" takes a :class:`Clock`. Production uses
:class:`SystemClock`; tests and the simulator use :class:`FakeClock` (moved by hand) or
:class:`ScaledClock` (a day played at N times real speed).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of wall time (aware, UTC) and of monotonic seconds for timers."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Wall time in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime (e.g. tzinfo=UTC)")
        self._now = start.astimezone(UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The fake wall time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Fake monotonic seconds, moved together with wall time."""
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: datetime) -> None:
        """Jump forward to ``when``."""
        self.advance((when.astimezone(UTC) - self.now()).total_seconds())

    def step_wall(self, seconds: float) -> None:
        """Move the wall clock alone (either way), as when someone sets the clock or NTP
        steps it; monotonic time does not move."""
        with self._lock:
            self._now += timedelta(seconds=seconds)


class ScaledClock:
    """Real time sped up ``speed`` times from ``start``: a school day in minutes."""

    def __init__(self, start: datetime, speed: float) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs an aware datetime")
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        """Simulated wall time."""
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self._speed)

    def monotonic(self) -> float:
        """Simulated monotonic seconds."""
        return (time.monotonic() - self._t0) * self._speed
