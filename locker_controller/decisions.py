"""What a tap does: a pure function of the replica, the slots and the time.

DOMAIN.md's rules, in the order a kiosk must check them: unknown cards and staff cards first,
then the pupil's status (held never opens, exempt never opens), then hand-in or collection
depending on whether the pupil already has devices here and whether the release window (or an
approved early release) is open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time

from locker_controller.replica import PolicyReplica
from locker_controller.slots import Slot, Trigger
from lockers.wire.messages import (
    CardEntry,
    KioskMode,
    OpenedVia,
    PupilStatus,
    SlotState,
    TapOutcome,
)


@dataclass(frozen=True)
class Decision:
    """The outcome of one tap, and what to do to a slot because of it."""

    outcome: TapOutcome
    slot: int | None = None
    pupil_ref: str | None = None
    first_name: str | None = None
    opens_at: time | None = None
    flags: tuple[str, ...] = ()
    trigger: Trigger | None = None  # the slot transition to make (deposit_tap or release)
    via: OpenedVia | None = None  # how a release was granted
    early_release_id: str | None = None

    @property
    def opens_door(self) -> bool:
        """Whether this decision pulses a relay."""
        return self.trigger is not None


@dataclass(frozen=True)
class _Tap:
    """One tap being decided: the pupil's card entry and what the kiosk knows."""

    replica: PolicyReplica
    slots: Mapping[int, Slot]
    entry: CardEntry
    now: datetime
    may_give: Callable[[Slot], bool]

    def decision(self, outcome: TapOutcome, **fields: object) -> Decision:
        """A decision for this pupil."""
        return Decision(outcome, pupil_ref=self.entry.pupil_ref,
                        first_name=self.entry.first_name, **fields)  # type: ignore[arg-type]


def decide_tap(replica: PolicyReplica, slots: Mapping[int, Slot], card: str, now: datetime,
               mode: KioskMode = KioskMode.NORMAL,
               early_release_used: Callable[[str], bool] = lambda _: False,
               may_give: Callable[[Slot], bool] = lambda _: True, clock_doubt: str | None = None,
               reachable: Callable[[Slot], bool] = lambda _: True) -> Decision:
    """Decide what a tap of ``card`` does now. ``may_give`` says whether a free slot may be
    given out (not while it may still hold a device nobody has a record of); with a
    ``clock_doubt`` no locker opens by the release window (an early release still does)."""
    if card in replica.staff:
        return Decision(TapOutcome.STAFF_CARD)
    entry = replica.cards.get(card)
    if entry is None:
        return Decision(TapOutcome.UNKNOWN_CARD)
    tap = _Tap(replica, slots, entry, now, may_give)
    day = replica.today(now)
    if mode is not KioskMode.NORMAL or day is None or not day.school_day:
        return tap.decision(TapOutcome.KIOSK_CLOSED)
    # A pupil may have two devices here (a confiscated second one held): the one they may
    # collect comes first, so a held one never blocks their own phone.
    mine = min((s for s in slots.values() if s.pupil_ref == entry.pupil_ref), default=None,
               key=lambda s: (s.state is SlotState.HELD, s.number))
    if mine is not None and not reachable(mine):  # its lock board is not answering
        return tap.decision(TapOutcome.SLOT_UNAVAILABLE, slot=mine.number)
    if mine is not None:
        return _collect(tap, mine, early_release_used, clock_doubt)
    if entry.status is PupilStatus.HELD and entry.slot is not None:
        # The server says the held device is in one of our slots, and we hold nothing of
        # this pupil's: the two ends disagree, so nothing opens until they agree.
        return tap.decision(TapOutcome.HELD, slot=entry.slot)
    if entry.status is PupilStatus.EXEMPT:
        return tap.decision(TapOutcome.EXEMPT)
    window = replica.window(now, entry)
    if window is not None and replica.local(now).time() >= window[0]:
        # Nothing here to collect: held elsewhere, or at another kiosk (the screen says where).
        held = entry.status is PupilStatus.HELD or any(w.held for w in entry.elsewhere)
        return tap.decision(TapOutcome.HELD, slot=entry.slot) if held \
            else tap.decision(TapOutcome.NOTHING_TO_COLLECT)
    return _hand_in(tap)


def _collect(tap: _Tap, mine: Slot, early_release_used: Callable[[str], bool],
             clock_doubt: str | None) -> Decision:
    """The pupil has devices here: collect them if the window (or an early release) allows.
    Held is per device: a held slot never opens for its pupil."""
    entry, replica = tap.entry, tap.replica
    if mine.state is SlotState.HELD:
        return tap.decision(TapOutcome.HELD, slot=mine.number)
    if mine.state is not SlotState.OCCUPIED:  # its door is open or opening right now
        return tap.decision(TapOutcome.ALREADY_DEPOSITED, slot=mine.number)
    window = replica.release_open(tap.now, entry)
    if window and not clock_doubt:
        return tap.decision(TapOutcome.RELEASE_OPENED, slot=mine.number,
                            trigger=Trigger.RELEASE, via=OpenedVia.PUPIL)
    if entry.early_release and not early_release_used(entry.early_release):
        return tap.decision(TapOutcome.EARLY_RELEASE_OPENED, slot=mine.number,
                            trigger=Trigger.RELEASE, via=OpenedVia.EARLY_RELEASE,
                            early_release_id=entry.early_release)
    if window:  # home time by our clock, but the clock is in doubt: say so, open nothing
        return tap.decision(TapOutcome.CLOCK_UNSURE, slot=mine.number)
    return tap.decision(TapOutcome.NOT_RELEASE_TIME, slot=mine.number,
                        opens_at=replica.release_opens_at(tap.now, entry))


def _hand_in(tap: _Tap) -> Decision:
    """A hand-in: the pupil's fixed slot, or the lowest free one (late and eligibility
    flagged for the office)."""
    entry, replica = tap.entry, tap.replica
    flags: list[str] = [] if entry.eligible else ["not_eligible"]
    late = replica.settings.late_after
    if late is not None and replica.local(tap.now).time() > late:
        flags.append("late")
    slot = _fixed_slot(tap) if replica.settings.assignment == "fixed" else _free_slot(tap)
    if slot is None:
        unavailable = TapOutcome.SLOT_UNAVAILABLE if replica.settings.assignment == "fixed" \
            else TapOutcome.NO_FREE_SLOT
        return tap.decision(unavailable, flags=tuple(flags),
                            slot=entry.slot if unavailable is TapOutcome.SLOT_UNAVAILABLE
                            else None)
    return tap.decision(TapOutcome.DEPOSIT_OPENED, slot=slot.number, flags=tuple(flags),
                        trigger=Trigger.DEPOSIT_TAP)


def _fixed_slot(tap: _Tap) -> Slot | None:
    """Fixed assignment: the pupil's own slot, if it is free to give."""
    slot = tap.slots.get(tap.entry.slot) if tap.entry.slot is not None else None
    if slot is None or slot.state is not SlotState.FREE or not tap.may_give(slot):
        return None
    return slot


def _free_slot(tap: _Tap) -> Slot | None:
    """Dynamic: the lowest free slot not reserved for someone on fixed assignment."""
    reserved = {c.slot for c in tap.replica.cards.values() if c.slot is not None}
    free = [s for s in tap.slots.values()
            if s.state is SlotState.FREE and not s.door_open and tap.may_give(s)]
    return min((s for s in free if s.number not in reserved), key=lambda s: s.number,
               default=None) or min(free, key=lambda s: s.number, default=None)
