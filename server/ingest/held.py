"""Events held back for an earlier one of their kiosk, kept here a moment and tried again.

With several server processes the broker spreads one kiosk's events over them, so a process
often holds an event whose predecessor the other process is committing at that very moment
(ADR 0009, 0010). Dropping it and waiting for the kiosk's resend (3 s) would make every such
moment cost seconds; instead the worker keeps it here and offers it again every
``retry_s`` for up to ``keep_s``, by which time the predecessor is usually committed. What
is still waiting after that is let go (acknowledged to the broker, not to the kiosk), and the
kiosk's own resend fills the gap as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from server.mqtt_link import Inbound

RETRY_S = 0.05  # how soon a held event is offered again
KEEP_S = 2.0  # how long one is kept before the kiosk's resend is left to bring it


@dataclass
class WaitingRoom:
    """Held events: ``hold`` them after a batch, take the ``due`` ones into the next."""

    retry_s: float = RETRY_S
    keep_s: float = KEEP_S
    _since: dict[Inbound, float] = field(default_factory=dict)  # first held (monotonic)
    _due: dict[Inbound, float] = field(default_factory=dict)  # next offered (monotonic)

    def hold(self, items: list[Inbound]) -> list[Inbound]:
        """Keep ``items`` for another try; return those kept too long (to let go)."""
        now = time.monotonic()
        let_go = []
        for item in items:
            since = self._since.setdefault(item, now)
            if now - since >= self.keep_s:
                del self._since[item]
                let_go.append(item)
            else:
                self._due[item] = now + self.retry_s
        return let_go

    def applied(self, items: list[Inbound]) -> None:
        """Forget ``items`` (applied, or found to be duplicates)."""
        for item in items:
            self._since.pop(item, None)

    def due(self) -> list[Inbound]:
        """The held events whose next try has come, in the order they arrived."""
        now = time.monotonic()
        ready = [item for item, at in self._due.items() if at <= now]
        for item in ready:
            del self._due[item]
        return sorted(ready, key=lambda i: i.received)

    def __len__(self) -> int:
        return len(self._due)
