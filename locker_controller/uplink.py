"""What the kiosk sends the server: its events from the durable outbox (offered again until
the server acknowledges them as committed), its retained slot snapshot and its status."""

from __future__ import annotations

import time

from locker_controller.kiosk_state import KioskState
from locker_controller.link import ServerLink
from lockers import __version__
from lockers.wire import messages as m
from lockers.wire import topics as t

# When the kiosk offers its unacknowledged events again (docs/adr/0009, addendum 2):
# - at once when the server asks (an EventAck with ``resend``): a server process has started
#   listening to this kiosk, or one that held some of its events unacknowledged was lost;
# - when the server acknowledged a later event but not the oldest, once the oldest has
#   waited RESEND_AFTER_S: it was passed over, so it was probably lost on the way;
# - when the server has acknowledged nothing since the oldest was offered, only after
#   RESEND_SILENT_S: a server that says nothing is busy (two hundred kiosks back at once) or
#   gone, and a server that comes back asks for the resend itself.
# Each further resend of the same oldest waits twice as long, up to RESEND_MAX_S.
RESEND_AFTER_S = 3.0
RESEND_SILENT_S = 20.0
RESEND_MAX_S = 60.0
# Events offered beyond the oldest unacknowledged one. A kiosk back from a day offline offers
# its outbox as the server commits it, not all at once: with two hundred kiosks doing that
# together the server would spend its time on copies of copies (measured: 160 events/s;
# 32 keeps 200 kiosks' offers inside one resend interval of a server doing 2,700/s).
WINDOW = 32
SNAPSHOT_EVERY_S = 0.25  # at most this often, however fast slots change


class Uplink:
    """Offers the outbox, the slot snapshot and the status over the link (when it is up)."""

    def __init__(self, state: KioskState, link: ServerLink | None) -> None:
        self.state, self.link = state, link
        self._sent_upto = 0
        self._oldest: tuple[int | None, float] = (None, 0.0)  # (oldest unacked, offered at)
        self._resend_after = RESEND_AFTER_S
        self._passed_over = False  # a later event acknowledged since the oldest was offered
        self._last_snapshot = 0.0
        self.resends = 0  # times the outbox was offered again on the kiosk's own timers
        self.resends_asked = 0  # times the server asked for it again

    @property
    def up(self) -> bool:
        """Whether the broker connection is up."""
        return self.link is not None and self.link.connected

    def link_up(self) -> None:
        """Connected (again): say so, show the slots, offer everything not yet acknowledged
        in order."""
        assert self.link is not None
        self.link.publish(t.STATUS, self.status("online", "birth"))
        self.publish_snapshot()
        self._sent_upto = 0
        self.send_pending()

    def send_pending(self, resend_stale: bool = False) -> None:
        """Offer stored events not yet offered (all of them again when the oldest is overdue:
        the server may have missed them; see RESEND_AFTER_S)."""
        if self.link is None or not self.link.connected:
            return
        store = self.state.store
        now = time.monotonic()
        oldest = store.oldest_pending()
        if oldest != self._oldest[0]:
            self._oldest = (oldest, now)  # a new oldest: its clock starts now
            self._resend_after, self._passed_over = RESEND_AFTER_S, False
        elif resend_stale and oldest is not None and self._sent_upto and self._overdue(now):
            self._again(oldest, now)
            self.resends += 1
            self._resend_after = min(self._resend_after * 2, RESEND_MAX_S)
        ceiling = (oldest or 0) + WINDOW
        for seq, payload in store.pending(after=self._sent_upto, limit=WINDOW):
            if seq >= ceiling:
                break  # the rest follow as the server commits these
            self.link.publish(t.EVENTS, payload)
            self._sent_upto = seq

    def acknowledged(self, seqs: list[int]) -> None:
        """The server acknowledged ``seqs`` (call before the outbox forgets them): one beyond
        the oldest unacknowledged means the oldest was passed over."""
        oldest = self._oldest[0]
        if oldest is not None and any(seq > oldest for seq in seqs) and oldest not in seqs:
            self._passed_over = True

    def resend_now(self) -> None:
        """The server asked: offer every unacknowledged event again, from the oldest."""
        oldest = self.state.store.oldest_pending()
        if oldest is None:
            return
        self._again(oldest, time.monotonic())
        self.resends_asked += 1
        self.send_pending()

    def _overdue(self, now: float) -> bool:
        waited = now - self._oldest[1]
        if self._passed_over:
            return waited > self._resend_after
        return waited > max(self._resend_after, RESEND_SILENT_S)

    def _again(self, oldest: int, now: float) -> None:
        """Offer again from ``oldest`` on the next send."""
        self._sent_upto = 0
        self._oldest = (oldest, now)
        self._passed_over = False

    def tick(self) -> None:
        """Timers: resend a stale outbox, publish a changed slot snapshot."""
        self.send_pending(resend_stale=True)
        if self.state.snapshot_dirty and time.monotonic() - self._last_snapshot > \
                SNAPSHOT_EVERY_S:
            self.publish_snapshot()

    def publish_snapshot(self) -> None:
        """Publish every slot's state (retained)."""
        state = self.state
        state.snapshot_dirty = False
        self._last_snapshot = time.monotonic()
        if self.link is None or not self.link.connected:
            state.snapshot_dirty = True
            return
        self.link.publish(t.SLOTS, m.SlotSnapshot(
            kiosk=state.kiosk, site=state.site, at=state.clock.now(),
            slots=[m.SlotView(slot=s.number, state=s.state, pupil_ref=s.pupil_ref,
                              door_open=s.door_open, custody_id=s.custody_id)
                   for s in state.slots.values()]))

    def publish_status(self) -> None:
        """Publish the online status again (after a new policy version)."""
        if self.link is not None and self.link.connected:
            self.link.publish(t.STATUS, self.status("online", "birth"))

    def status(self, online: str, reason: str) -> m.KioskStatus:
        """The kiosk's status message."""
        state = self.state
        readers = state.readers_ok
        return m.KioskStatus(kiosk=state.kiosk, site=state.site, state=online, reason=reason,
                             at=state.clock.now(), software=__version__,
                             policy_version=state.replica.version or None,
                             outbox_pending=state.store.pending_count(),
                             readers_ok=all(readers.values()) if readers else None,
                             mode=m.KioskMode.EMERGENCY if state.fire_alarm else state.mode)
