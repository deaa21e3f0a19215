"""The kiosk's state: its slots, open alarms and the doors it expects to open, changed only
through a :class:`Change` whose effects reach memory after its transaction has committed.

A decision opens a :meth:`KioskState.change`; inside it, handlers work on copies of the slots
they touch (``change.slot(n)``), move them along the lifecycle table, emit events and raise
or clear alarms. All of it is written to the kiosk's store in one transaction. Only when that
commits are the copies put in place and the alarms updated; if anything raises, the
transaction rolls back and memory is as it was, so memory and disk never disagree.

The taps, doors, commands, staff and recovery handlers use this class's public API only; none
of them knows the dispatcher (:mod:`locker_controller.controller`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from locker_controller.api import KioskView, SlotSummary
from locker_controller.clock_trust import ClockTrust
from locker_controller.replica import PolicyReplica
from locker_controller.slots import Slot, Trigger, next_state
from locker_controller.store import KioskStore
from lockers.clock import Clock
from lockers.wire import messages as m

AlarmKey = tuple[m.AlarmKind, int | None, str | None]  # (kind, slot, reader or board)
KEEP: Any = object()  # "leave the slot's pupil as it is" in Change.move


class KioskActions(Protocol):
    """What handlers may ask of the machine around the state: the dispatcher provides it."""

    def pulse(self, slot: int) -> None:
        """Release one slot's lock (after the change that decided it has committed)."""

    def signal(self, kind: str) -> None:
        """LEDs and buzzer: ok, refused, attention."""

    def publish_ack(self, ack: m.CommandAck) -> None:
        """Send a command acknowledgement to the server."""

    def notify(self, update: object) -> None:
        """Tell the screen (a TapResult, StaffResult or a fresh KioskView)."""

    def resync(self) -> None:
        """Send status, slots and the outbox again and ask for the policy again."""


class Change:
    """One decision's changes, applied to memory only after their transaction commits."""

    def __init__(self, state: KioskState) -> None:
        self._state = state
        self._slots: dict[int, Slot] = {}
        self._alarms: dict[AlarmKey, str] | None = None
        self._expect: dict[int, float] = {}
        self._events = 0

    def slot(self, number: int) -> Slot:
        """The working copy of slot ``number`` for this change."""
        if number not in self._slots:
            self._slots[number] = dataclasses.replace(self._state.slots[number])
        return self._slots[number]

    @property
    def alarms(self) -> Mapping[AlarmKey, str]:
        """The open alarms as this change leaves them."""
        return self._alarms if self._alarms is not None else self._state.alarms

    def emit(self, kind: type[m.EventBase], **fields: Any) -> m.EventBase:
        """Store an event with the next sequence number (in this change's transaction)."""
        state = self._state
        at = state.clock.now()
        event = state.store.append_event(lambda seq: kind(
            kiosk=state.kiosk, site=state.site, seq=seq, at=at, epoch=state.store.epoch,
            **fields))
        self._events += 1
        state.trust.recorded(at)
        return event

    def move(self, slot: Slot, trigger: Trigger, pupil_ref: Any = KEEP,
             custody_id: Any = KEEP) -> None:
        """Move a slot (a working copy from :meth:`slot`) along the lifecycle table, recording
        the move and persisting the slot. A free slot keeps no pupil and no custody record."""
        previous = slot.state
        slot.state = next_state(trigger, previous)
        if pupil_ref is not KEEP:
            slot.pupil_ref = pupil_ref
        if custody_id is not KEEP:
            slot.custody_id = custody_id
        if slot.state is m.SlotState.FREE:
            slot.pupil_ref = slot.custody_id = None
        self.emit(m.SlotStateEvent, slot=slot.number, state=slot.state, previous=previous,
                  pupil_ref=slot.pupil_ref, custody_id=slot.custody_id)
        self._state.store.save_slot(slot)

    def alarm(self, kind: m.AlarmKind, slot: int | None, raised: bool, detail: str,
              reader: str | None = None, board: str | None = None) -> None:
        """Raise or clear an alarm; nothing is recorded when it is already in that state."""
        key = (kind, slot, reader or board)
        if raised == (key in self.alarms):
            return
        if self._alarms is None:
            self._alarms = dict(self._state.alarms)
        if raised:
            self._alarms[key] = detail
        else:
            self._alarms.pop(key, None)
        self.emit(m.AlarmEvent, alarm=kind, state="raised" if raised else "cleared",
                  slot=slot, reader=reader, board=board, detail=detail[:500])

    def expect_open(self, number: int, until: float) -> None:
        """A door may open without a tap until ``until`` (monotonic): staff or a command."""
        self._expect[number] = until

    def _apply(self) -> None:
        state = self._state
        state.slots.update(self._slots)
        if self._alarms is not None:
            state.alarms = self._alarms
            state.view_dirty = True
        state.expect_open.update(self._expect)
        if self._slots:
            state.snapshot_dirty = True
        if self._events:
            state.new_events = True


class KioskState:
    """Everything the kiosk knows and decides on, owned by the dispatcher thread."""

    def __init__(self, site: str, kiosk: str, slot_numbers: list[int], store: KioskStore,
                 clock: Clock, presence: Callable[[int], bool | None] = lambda _: None,
                 synced_flag: Path | None = None, clock_checks: bool = True) -> None:
        self.site, self.kiosk, self.store, self.clock = site, kiosk, store, clock
        self.replica = PolicyReplica(store, site, kiosk)
        self.slots: dict[int, Slot] = {n: Slot(n) for n in slot_numbers}
        self.alarms: dict[AlarmKey, str] = {}
        self.expect_open: dict[int, float] = {}  # slots pulsed outside a pupil's tap
        self.mode = m.KioskMode.NORMAL
        self.fire_alarm = False
        self.readers_ok: dict[str, bool] = {}
        self.unreachable: set[int] = set()  # slots on a lock board that stopped answering
        last = store.get_meta("last_event_at")
        self.trust = ClockTrust(clock, synced_flag,
                                datetime.fromisoformat(last) if last else None)
        self.clock_checks = clock_checks
        self.snapshot_dirty = True  # the slot snapshot must be published again
        self.view_dirty = False  # the screen must be told (an alarm came or went)
        self.new_events = False  # stored events not yet offered to the server
        self._active: Change | None = None
        self._presence = presence
        # A new store (first start, or the state file was lost) knows nothing of what is in
        # the slots: until the server's custody picture arrives, no slot that may be occupied
        # is given out.
        if store.created:
            store.set_meta("awaiting_picture", "1")
        self.awaiting_picture = store.get_meta("awaiting_picture") == "1"

    @contextmanager
    def change(self) -> Iterator[Change]:
        """A decision: its store transaction, then (only if it committed) its effects.

        A change opened inside another joins it: both commit, or neither, together.
        """
        if self._active is not None:
            yield self._active
            return
        change = Change(self)
        self._active = change
        try:
            with self.store.transaction():
                yield change
        finally:
            self._active = None
        change._apply()  # noqa: SLF001 - the change's own commit hook

    def clock_doubt(self) -> str | None:
        """Why the kiosk's clock cannot be trusted to open lockers by the time (None: it can)."""
        return self.trust.doubt() if self.clock_checks else None

    def may_give(self, slot: Slot) -> bool:
        """Whether a free slot may be given to a pupil: always, unless the kiosk lost its
        records and neither the server's picture nor an empty presence sensor vouches for it."""
        if slot.number in self.unreachable:
            return False
        return not self.awaiting_picture or self._presence(slot.number) is False

    def slot_held(self, slot: Slot) -> bool:
        """Whether the device in ``slot`` is held: the server's custody picture says so per
        device; older servers say it per pupil."""
        record = self.replica.custody.get(slot.number)
        if record is not None and slot.custody_id in (None, record.custody_id):
            return record.held
        return self.pupil_held(slot.pupil_ref)

    def restore_from_picture(self, change: Change) -> int:
        """After losing the store: put the server's record of each occupied slot back into a
        slot this kiosk believes free. Returns how many were restored."""
        restored = 0
        for record in self.replica.custody.values():
            current = self.slots.get(record.slot)
            if current is None or current.state is not m.SlotState.FREE:
                continue
            slot = change.slot(record.slot)
            change.move(slot, Trigger.RESTORE_HELD if record.held else Trigger.RESTORE,
                        pupil_ref=record.pupil_ref, custody_id=record.custody_id)
            restored += 1
        self.store.set_meta("awaiting_picture", "0")
        return restored

    def pupil_held(self, pupil_ref: str | None) -> bool:
        """Whether the replica says this pupil's device is held (confiscated)."""
        if pupil_ref is None:
            return False
        return any(c.pupil_ref == pupil_ref and c.status is m.PupilStatus.HELD
                   for c in self.replica.cards.values())

    def slot_of(self, pupil_ref: str) -> Slot | None:
        """The slot holding this pupil's devices here, if any."""
        return next((s for s in self.slots.values() if s.pupil_ref == pupil_ref), None)

    def view(self, online: bool, staff_mode: str | None, staff_pending: bool,
             enrol_waiting: str | None, messages_refused: int) -> KioskView:
        """The kiosk at a glance, for the screen and the simulator."""
        S = m.SlotState
        slots = self.slots.values()
        return KioskView(
            site=self.site, kiosk=self.kiosk, online=online, mode=self.mode,
            slots=tuple(SlotSummary(s.number, s.state, s.door_open, s.pupil_ref, s.custody_id)
                        for s in slots),
            open_for_deposit=tuple(s.number for s in slots
                                   if s.state in (S.OPENING_FOR_DEPOSIT, S.OPEN_FOR_DEPOSIT)),
            open_for_release=tuple(s.number for s in slots
                                   if s.state in (S.OPENING_FOR_RELEASE, S.OPEN_FOR_RELEASE)),
            alarms=tuple((k[0], k[1]) for k in self.alarms),
            readers_ok=all(self.readers_ok.values()) if self.readers_ok else True,
            staff_mode=staff_mode, staff_pending=staff_pending, enrol_waiting=enrol_waiting,
            fire_alarm=self.fire_alarm, outbox_pending=self.store.pending_count(),
            policy_version=self.replica.version, awaiting_picture=self.awaiting_picture,
            messages_refused=messages_refused, events_stored=self.store.next_seq - 1)
