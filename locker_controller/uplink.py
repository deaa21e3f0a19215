"""What the kiosk sends the server: its events from the durable outbox (offered again until
the server acknowledges them as committed), its retained slot snapshot and its status."""

from __future__ import annotations

import time

from locker_controller.kiosk_state import KioskState
from locker_controller.link import ServerLink
from lockers import __version__
from lockers.wire import messages as m
from lockers.wire import topics as t

RESEND_AFTER_S = 15.0  # no acknowledgement for this long: offer the outbox again
SNAPSHOT_EVERY_S = 0.25  # at most this often, however fast slots change


class Uplink:
    """Offers the outbox, the slot snapshot and the status over the link (when it is up)."""

    def __init__(self, state: KioskState, link: ServerLink | None) -> None:
        self.state, self.link = state, link
        self._sent_upto = 0
        self._last_sent = 0.0
        self._last_snapshot = 0.0

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

    def acknowledged(self) -> None:
        """The server acknowledged something: it is listening."""
        self._last_sent = time.monotonic()

    def send_pending(self, resend_stale: bool = False) -> None:
        """Offer stored events not yet offered (all of them again if the server has been
        silent too long: it may have missed them)."""
        if self.link is None or not self.link.connected:
            return
        store = self.state.store
        if resend_stale and self._sent_upto and time.monotonic() - self._last_sent > \
                RESEND_AFTER_S and store.pending_count():
            self._sent_upto = 0
        batch = store.pending(after=self._sent_upto)
        for seq, payload in batch:
            self.link.publish(t.EVENTS, payload)
            self._sent_upto = seq
        if batch:
            self._last_sent = time.monotonic()

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
