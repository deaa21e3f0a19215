"""Whether the kiosk may believe its own clock (a Pi has no real-time clock unless one is
fitted, and an offline kiosk has nothing to check it against).

Opening a locker for collection depends on the time of day, so a clock that is wrong opens
phones early: a clock 6.5 h fast makes a morning tap look like home time. The kiosk doubts its
clock when
- it has had no time sync since it started (neither the operating system's NTP nor the
  server's acknowledgements have vouched for it),
- the wall clock jumped against the monotonic one (someone set it, or NTP stepped it) since
  the server last vouched for it,
- the server's time differs from ours by more than a couple of minutes, or
- the clock reads earlier than an event this kiosk has already recorded.

While it doubts, the kiosk still takes phones in (time does not matter for that) but opens no
locker by the release window, and says why. An office-approved early release still opens.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from lockers.clock import Clock

MAX_SKEW = timedelta(minutes=2)  # more than this from the server's time: doubt
JUMP_S = 60.0  # the wall clock moving this much more (or less) than the monotonic one


class ClockTrust:
    """Watches the wall clock against the monotonic one and against the server's time."""

    def __init__(self, clock: Clock, synced_flag: Path | None,
                 last_recorded: datetime | None) -> None:
        self.clock, self.synced_flag, self.last_recorded = clock, synced_flag, last_recorded
        self._offset = self._wall_minus_mono()
        self._anchor: tuple[datetime, float] | None = None  # (server time, our monotonic)
        self._jumped = False

    def server_time(self, at: datetime) -> None:
        """A message the server stamped as it sent it (an event acknowledgement). Delays in
        transit only ever make a stamp older, so the latest word wins; a stamp well behind
        what we already know is a delayed message and says nothing about now."""
        if self._anchor is None or at >= self.server_now():
            self._anchor = (at, self.clock.monotonic())
        elif self.server_now() - at > MAX_SKEW:
            return
        self._jumped = False
        self._offset = self._wall_minus_mono()
        if abs(self._skew()) <= MAX_SKEW:
            self.last_recorded = None  # events stamped by a wrong clock are history now

    def recorded(self, at: datetime) -> None:
        """An event was recorded at ``at``: the clock must never read earlier than this."""
        if self.last_recorded is None or at > self.last_recorded:
            self.last_recorded = at

    def server_now(self) -> datetime:
        """The server's time as best we know it: its last word plus the monotonic time since
        (so neither a wrong nor a jumping wall clock moves it); our own clock before that."""
        if self._anchor is None:
            return self.clock.now()
        at, mono = self._anchor
        return at + timedelta(seconds=self.clock.monotonic() - mono)

    def tick(self) -> None:
        """Notice a jump of the wall clock (call often, e.g. every timer tick)."""
        offset = self._wall_minus_mono()
        if abs(offset - self._offset) > JUMP_S:
            self._jumped = True
        self._offset = offset

    def doubt(self) -> str | None:
        """Why the clock cannot be trusted now, in words (None: it can)."""
        now = self.clock.now()
        if self.last_recorded is not None and now < self.last_recorded - timedelta(seconds=5):
            return "the clock reads earlier than an event already recorded here"
        if self._jumped:
            return "the clock jumped since the server last confirmed the time"
        if self._anchor is not None:
            skew = self._skew()
            if abs(skew) > MAX_SKEW:
                minutes = round(skew.total_seconds() / 60)
                return f"the clock is {abs(minutes)} min {'fast' if minutes > 0 else 'slow'}"
            return None
        if self.synced_flag is not None and self.synced_flag.exists():
            return None  # the operating system's NTP has set the clock since boot
        return "the time has not been confirmed since the kiosk started"

    def _skew(self) -> timedelta:
        """Our wall clock minus the server's time."""
        return self.clock.now() - self.server_now()

    def _wall_minus_mono(self) -> float:
        return self.clock.now().timestamp() - self.clock.monotonic()
