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
from locker_controller.slots import Slot
from lockers.wire.messages import PupilStatus, SlotState, TapOutcome


@dataclass(frozen=True)
class Decision:
    """The outcome of one tap, and what to do to a slot because of it."""

    outcome: TapOutcome
    slot: int | None = None
    pupil_ref: str | None = None
    first_name: str | None = None
    opens_at: time | None = None
    flags: tuple[str, ...] = ()
    trigger: str | None = None  # the slot transition to make ("deposit_tap" or "release")
    via: str | None = None  # how a release was granted
    early_release_id: str | None = None

    @property
    def opens_door(self) -> bool:
        """Whether this decision pulses a relay."""
        return self.trigger is not None


def decide_tap(replica: PolicyReplica, slots: Mapping[int, Slot], card: str, now: datetime,
               mode: str = "normal", early_release_used: Callable[[str], bool] = lambda _: False,
               ) -> Decision:
    """Decide what a tap of ``card`` does now."""
    if card in replica.staff:
        return Decision(TapOutcome.STAFF_CARD)
    entry = replica.cards.get(card)
    if entry is None:
        return Decision(TapOutcome.UNKNOWN_CARD)
    who = {"pupil_ref": entry.pupil_ref, "first_name": entry.first_name}
    day = replica.today(now)
    if mode != "normal" or day is None or not day.school_day:
        return Decision(TapOutcome.KIOSK_CLOSED, **who)
    if entry.status is PupilStatus.HELD:
        held = next((s.number for s in slots.values() if s.pupil_ref == entry.pupil_ref), None)
        return Decision(TapOutcome.HELD, slot=held or entry.slot, **who)
    if entry.status is PupilStatus.EXEMPT:
        return Decision(TapOutcome.EXEMPT, **who)

    flags: list[str] = [] if entry.eligible else ["not_eligible"]
    mine = next((s for s in slots.values() if s.pupil_ref == entry.pupil_ref), None)
    if mine is not None:
        if mine.state is SlotState.HELD:
            return Decision(TapOutcome.HELD, slot=mine.number, **who)
        if mine.state is not SlotState.OCCUPIED:  # its door is open or opening right now
            return Decision(TapOutcome.ALREADY_DEPOSITED, slot=mine.number, **who)
        if replica.release_open(now, entry):
            return Decision(TapOutcome.RELEASE_OPENED, slot=mine.number, trigger="release",
                            via="pupil", **who)
        if entry.early_release and not early_release_used(entry.early_release):
            return Decision(TapOutcome.EARLY_RELEASE_OPENED, slot=mine.number, trigger="release",
                            via="early_release", early_release_id=entry.early_release, **who)
        return Decision(TapOutcome.NOT_RELEASE_TIME, slot=mine.number,
                        opens_at=replica.release_opens_at(now, entry), **who)

    window = replica.window(now, entry)
    if window is not None and replica.local(now).time() >= window[0]:
        return Decision(TapOutcome.NOTHING_TO_COLLECT, **who)
    late = replica.settings.late_after
    if late is not None and replica.local(now).time() > late:
        flags.append("late")
    if replica.settings.assignment == "fixed":
        slot = slots.get(entry.slot) if entry.slot is not None else None
        if slot is None or slot.state is not SlotState.FREE:
            return Decision(TapOutcome.SLOT_UNAVAILABLE, slot=entry.slot, flags=tuple(flags),
                            **who)
    else:
        # Dynamic: the lowest free slot not reserved for someone on fixed assignment.
        reserved = {c.slot for c in replica.cards.values() if c.slot is not None}
        free = [s for s in slots.values() if s.state is SlotState.FREE and not s.door_open]
        slot = min((s for s in free if s.number not in reserved), key=lambda s: s.number,
                   default=None) or min(free, key=lambda s: s.number, default=None)
        if slot is None:
            return Decision(TapOutcome.NO_FREE_SLOT, flags=tuple(flags), **who)
    return Decision(TapOutcome.DEPOSIT_OPENED, slot=slot.number, flags=tuple(flags),
                    trigger="deposit_tap", **who)
