"""The kiosk's copy of the school's policy: cards, release windows, settings.

Kept in the kiosk's store so a kiosk that restarts without network still decides correctly.
Updates apply only on top of their base version; anything else waits for the retained
snapshot, which the server keeps current.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from locker_controller.store import KioskStore
from lockers.wire import decode, encode
from lockers.wire import topics as t
from lockers.wire.messages import (
    CardEntry,
    KioskSettings,
    PolicySnapshot,
    PolicyUpdate,
    ReleaseDay,
    SlotCustody,
    StaffEntry,
)

log = logging.getLogger("lockers.kiosk.replica")


class PolicyReplica:
    """The current policy, indexed for a decision in microseconds."""

    def __init__(self, store: KioskStore, site: str, kiosk: str) -> None:
        self._store, self._site, self._kiosk = store, site, kiosk
        self._at: datetime | None = None
        self.version = 0
        self.settings = KioskSettings()
        self.days: dict[date, ReleaseDay] = {}
        self.cards: dict[str, CardEntry] = {}
        self.staff: dict[str, StaffEntry] = {}
        self.custody: dict[int, SlotCustody] = {}  # the server's record of our slots
        saved = store.get_meta("policy")
        if saved:
            self._load(decode(t.POLICY, saved))

    def apply_snapshot(self, snapshot: PolicySnapshot) -> bool:
        """Replace the replica if ``snapshot`` is newer; True when applied."""
        if snapshot.version <= self.version:
            return False
        self._load(snapshot)
        self._save()
        return True

    def apply_update(self, update: PolicyUpdate) -> bool:
        """Apply a delta made on top of our version; False (ignored) otherwise."""
        if update.base_version != self.version:
            log.info("event=policy_update_skipped have=%s base=%s", self.version,
                     update.base_version)
            return False
        for card in update.remove_cards:
            self.cards.pop(card, None)
        for entry in update.upsert_cards:
            self.cards[entry.card] = entry
        for card in update.remove_staff:
            self.staff.pop(card, None)
        for staff in update.upsert_staff:
            self.staff[staff.card] = staff
        if update.days is not None:
            self.days = {d.day: d for d in update.days}
        if update.settings is not None:
            self.settings = update.settings
        if update.custody is not None:
            self.custody = {c.slot: c for c in update.custody}
        self.version = update.version
        self._save()
        return True

    def card_of(self, pupil_ref: str) -> CardEntry | None:
        """A card entry of this pupil (any of their cards), if the replica knows them."""
        return next((c for c in self.cards.values() if c.pupil_ref == pupil_ref), None)

    def enrol(self, entry: CardEntry) -> None:
        """Add a card enrolled at this kiosk (the server confirms it in the next snapshot)."""
        self.cards[entry.card] = entry
        self._save()

    @property
    def zone(self) -> ZoneInfo:
        """The school's timezone."""
        return ZoneInfo(self.settings.timezone)

    def local(self, now: datetime) -> datetime:
        """``now`` on the school's wall clock."""
        return now.astimezone(self.zone)

    def today(self, now: datetime) -> ReleaseDay | None:
        """Today's calendar entry (None when the replica does not cover today)."""
        return self.days.get(self.local(now).date())

    def window(self, now: datetime, entry: CardEntry | None = None
               ) -> tuple[time, time] | None:
        """Today's release window for ``entry`` (its group's window if it has one for today,
        else the school's); None on a day without school or without a window."""
        day = self.today(now)
        if day is None or not day.school_day:
            return None
        own = entry.window if entry is not None else None
        if own is not None and own.day == day.day:
            return own.opens, own.closes
        if day.release_opens is None:
            return None
        return day.release_opens, day.release_closes or time(23, 59, 59)

    def release_open(self, now: datetime, entry: CardEntry | None = None) -> bool:
        """Whether today's release window (``entry``'s own, if it has one) is open now."""
        window = self.window(now, entry)
        return window is not None and window[0] <= self.local(now).time() <= window[1]

    def release_opens_at(self, now: datetime, entry: CardEntry | None = None) -> time | None:
        """When today's window opens, if it is still to come today."""
        window = self.window(now, entry)
        if window is None:
            return None
        return window[0] if self.local(now).time() < window[0] else None

    def _load(self, snapshot: PolicySnapshot) -> None:
        self.version = snapshot.version
        self.settings = snapshot.settings
        self.days = {d.day: d for d in snapshot.days}
        self.cards = {c.card: c for c in snapshot.cards}
        self.staff = {s.card: s for s in snapshot.staff}
        self.custody = {c.slot: c for c in snapshot.custody}
        self._at = snapshot.generated_at

    def _save(self) -> None:
        if self._at is None or self.version < 1:
            return  # nothing from the server yet: an enrolment lives until the first snapshot
        snapshot = PolicySnapshot(
            kiosk=self._kiosk, site=self._site, version=self.version,
            generated_at=self._at, settings=self.settings, days=list(self.days.values()),
            cards=list(self.cards.values()), staff=list(self.staff.values()),
            custody=list(self.custody.values()))
        self._store.set_meta("policy", encode(snapshot).decode())
