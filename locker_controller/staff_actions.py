"""What staff do at the kiosk in staff mode: sign in with card and PIN, enrol a card, open a
slot for a stated reason, clear a fault. Each is recorded as a staff action event."""

from __future__ import annotations

from locker_controller.api import StaffResult
from locker_controller.commands import CommandDesk
from locker_controller.kiosk_state import KioskActions, KioskState
from locker_controller.slots import Trigger
from locker_controller.staff import LOCKOUT_S, MAX_FAILURES, SESSION_S, StaffSession, pin_matches
from lockers.wire import messages as m

S = m.SlotState


def login(state: KioskState, staff: StaffSession, pin: str) -> StaffResult:
    """Check the PIN of the staff card just tapped."""
    mono = state.clock.monotonic()
    card = staff.pending(mono)
    entry = state.replica.staff.get(card) if card else None
    if entry is None:
        return StaffResult("login", False, "tap your staff card first")
    if mono < staff.locked_until:
        return StaffResult("login", False, "too many wrong PINs: wait a minute")
    ok = pin_matches(pin, entry.pin_hash)
    with state.change() as change:
        change.emit(m.StaffActionEvent, staff_ref=entry.staff_ref,
                    action="staff_mode_entered" if ok else "pin_refused", card=card)
    if not ok:
        staff.failures += 1
        if staff.failures >= MAX_FAILURES:
            staff.failures, staff.locked_until = 0, mono + LOCKOUT_S
            staff.pending_card = None
        return StaffResult("login", False, "wrong PIN")
    staff.failures, staff.pending_card = 0, None
    staff.staff_ref, staff.until = entry.staff_ref, mono + SESSION_S
    return StaffResult("login", True, f"staff mode: {entry.staff_ref}")


def start_enrol(state: KioskState, staff: StaffSession, pupil_ref: str) -> StaffResult:
    """Wait for an unknown card to enrol to ``pupil_ref``."""
    if not staff.active(state.clock.monotonic()):
        return StaffResult("enrol", False, "staff mode has ended")
    staff.enrol_pupil = pupil_ref.strip()[:64] or None
    return StaffResult("enrol", True, "tap the new card")


def enrol(state: KioskState, actions: KioskActions, staff: StaffSession, card: str,
          staff_ref: str) -> None:
    """Enrol a tapped unknown card to the pupil staff named."""
    pupil_ref = staff.enrol_pupil
    assert pupil_ref is not None
    with state.change() as change:
        change.emit(m.StaffActionEvent, staff_ref=staff_ref, action="enrol_card", card=card,
                    pupil_ref=pupil_ref, reason="enrolled at the kiosk")
    state.replica.enrol(m.CardEntry(card=card, pupil_ref=pupil_ref, first_name=""))
    staff.enrol_pupil = None
    actions.notify(StaffResult("enrol", True, f"card enrolled to {pupil_ref}"))


def open_slot(state: KioskState, desk: CommandDesk, staff: StaffSession, number: int,
              reason: str) -> StaffResult:
    """Open one slot for a stated reason."""
    staff_ref = staff.active(state.clock.monotonic())
    slot = state.slots.get(number)
    if not staff_ref:
        return StaffResult("open_slot", False, "staff mode has ended")
    if slot is None or not reason.strip():
        return StaffResult("open_slot", False, "choose a slot of this kiosk and give a reason")
    if slot.is_open_for_someone:
        return StaffResult("open_slot", False, f"slot {number} is in use")
    with state.change() as change:
        change.emit(m.StaffActionEvent, staff_ref=staff_ref, action="open_slot", slot=number,
                    pupil_ref=slot.pupil_ref, reason=reason.strip()[:500])
        desk.open([slot], via=m.OpenedVia.STAFF, command_id=None)
    return StaffResult("open_slot", True, f"slot {number} opened", number)


def clear_fault(state: KioskState, staff: StaffSession, number: int) -> StaffResult:
    """Clear a slot's fault and its alarms."""
    staff_ref = staff.active(state.clock.monotonic())
    if not staff_ref or number not in state.slots:
        return StaffResult("clear_fault", False, "staff mode has ended")
    with state.change() as change:
        change.emit(m.StaffActionEvent, staff_ref=staff_ref, action="clear_fault", slot=number,
                    reason="fault cleared at the kiosk")
        for kind, s, reader in list(change.alarms):
            if s == number:
                change.alarm(kind, s, False, f"cleared by {staff_ref}", reader=reader)
        slot = change.slot(number)
        if slot.state is S.FAULT:
            change.move(slot, Trigger.CLEAR_FAULT_OCCUPIED if slot.pupil_ref
                        else Trigger.CLEAR_FAULT_EMPTY)
    return StaffResult("clear_fault", True, f"slot {number} cleared", number)


def hand_in(state: KioskState, actions: KioskActions, staff: StaffSession, pupil_ref: str,
            confiscated: bool) -> StaffResult:
    """Staff hand a device in for a named pupil: a pupil who forgot their card
    (``confiscated`` False), or a device staff have confiscated (held at once). A free slot
    opens; the deposit counts, for that pupil, when its door closes."""
    action = "confiscated_hand_in" if confiscated else "assisted_hand_in"
    staff_ref = staff.active(state.clock.monotonic())
    if not staff_ref:
        return StaffResult(action, False, "staff mode has ended")
    entry = state.replica.card_of(pupil_ref.strip())
    if entry is None:
        return StaffResult(action, False, f"no pupil {pupil_ref!r} at this school: check the "
                                          "reference on the office console")
    mine = state.slot_of(entry.pupil_ref)
    if mine is not None and not confiscated:
        return StaffResult(action, False, f"{entry.first_name or entry.pupil_ref} already has "
                                          f"locker {mine.number} here")
    free = sorted(n for n, s in state.slots.items()
                  if s.state is S.FREE and not s.door_open and state.may_give(s))
    if not free:
        return StaffResult(action, False, "no free locker here")
    with state.change() as change:
        slot = change.slot(free[0])
        change.emit(m.StaffActionEvent, staff_ref=staff_ref, action=action, slot=slot.number,
                    pupil_ref=entry.pupil_ref,
                    reason="confiscated device put in a locker" if confiscated
                    else "handed in by staff for the pupil")
        slot.via = "staff_confiscated" if confiscated else "staff_assisted"
        slot.staff_ref, slot.command_id = staff_ref, None
        change.move(slot, Trigger.DEPOSIT_TAP, pupil_ref=entry.pupil_ref)
        slot.opening_since = state.clock.monotonic()
    actions.pulse(slot.number)
    return StaffResult(action, True, f"locker {slot.number} is open for "
                                     f"{entry.first_name or entry.pupil_ref}", slot.number)
