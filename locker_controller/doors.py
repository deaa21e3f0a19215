"""Doors: a door switch that moved, and the timers that watch doors (a pulsed door that never
opened, a door left open). A deposit counts when its door closes; a collection when the door
of a released slot closes."""

from __future__ import annotations

from firmware_py.interfaces import DoorChanged
from locker_controller.kiosk_state import Change, KioskState
from locker_controller.slots import Slot, Trigger
from lockers.wire import messages as m

S = m.SlotState
A = m.AlarmKind
STAFF_DEPOSITS = ("staff_assisted", "staff_confiscated")  # slot.via while staff hand in


def on_door(state: KioskState, change_: DoorChanged, presence: bool | None) -> bool:
    """Record a door that moved; ``presence`` is what the slot's sensor reads now (None: no
    sensor). Returns False when nothing changed (a bounce, or a door already known shut)."""
    current = state.slots.get(change_.slot)
    if current is None or current.door_open == change_.open:
        return False
    mono = state.clock.monotonic()
    with state.change() as change:
        slot = change.slot(change_.slot)
        slot.door_open = change_.open
        if change_.open:
            _opened(state, change, slot, mono)
        else:
            closed(state, change, slot, presence)
    return True


def _opened(state: KioskState, change: Change, slot: Slot, mono: float) -> None:
    opening = slot.state in (S.OPENING_FOR_DEPOSIT, S.OPENING_FOR_RELEASE)
    expected = opening or state.expect_open.pop(slot.number, None) is not None
    slot.opened_since, slot.opening_since = mono, None
    change.emit(m.DoorEvent, slot=slot.number, door="opened", expected=expected)
    if opening:
        change.move(slot, Trigger.DOOR_OPENED)
    if not expected:
        slot.forced_open_alarm = True
        change.alarm(A.FORCED_OPEN, slot.number, True, "door opened without a tap")


def closed(state: KioskState, change: Change, slot: Slot, presence: bool | None) -> None:
    """A door found shut: settle a deposit or a collection (also used by boot recovery)."""
    change.emit(m.DoorEvent, slot=slot.number, door="closed", expected=True)
    slot.opened_since = None
    if slot.state is S.OPEN_FOR_DEPOSIT:
        if presence is False:  # a presence sensor saw nothing: not a hand-in
            change.alarm(A.EMPTY_DEPOSIT, slot.number, True, "door closed with nothing inside")
            change.move(slot, Trigger.EMPTY_DEPOSIT, pupil_ref=None)
        else:
            deposit(state, change, slot, empty=None if presence is None else not presence)
    elif slot.state is S.OPEN_FOR_RELEASE:
        change.emit(m.CollectionEvent, slot=slot.number, pupil_ref=slot.pupil_ref,
                    via=slot.via or "pupil", command_id=slot.command_id,
                    custody_id=slot.custody_id)
        slot.via = slot.command_id = None
        change.move(slot, Trigger.DOOR_CLOSED, pupil_ref=None)
    elif slot.check_on_close:
        _check_contents(change, slot, presence, slot.check_on_close)
    slot.check_on_close = None
    if slot.left_open_alarm:
        slot.left_open_alarm = False
        change.alarm(A.DOOR_LEFT_OPEN, slot.number, False, "door closed")
    if slot.forced_open_alarm:
        slot.forced_open_alarm = False
        change.alarm(A.FORCED_OPEN, slot.number, False, "door closed")


def deposit(state: KioskState, change: Change, slot: Slot, empty: bool | None) -> None:
    """The devices are in: record the deposit under a custody record minted here. A device
    staff put in as confiscated is held at once."""
    assert slot.pupil_ref is not None
    if slot.custody_id is None:  # named by the deposit event's own place in the sequence
        slot.custody_id = f"{state.kiosk}.{state.store.epoch}.{state.store.next_seq}"
    via = slot.via if slot.via in STAFF_DEPOSITS else "pupil"
    change.emit(m.DepositEvent, slot=slot.number, pupil_ref=slot.pupil_ref, empty=empty,
                custody_id=slot.custody_id, via=via, staff_ref=slot.staff_ref)
    slot.via = slot.staff_ref = None
    change.move(slot, Trigger.DOOR_CLOSED)
    if via == "staff_confiscated":
        change.move(slot, Trigger.HOLD)


def _check_contents(change: Change, slot: Slot, presence: bool | None, opened_by: str) -> None:
    """A door opened by an emergency, or by staff on a free slot, has closed: does what is
    inside still match the record? A mismatch, or no sensor to tell, is flagged for staff; a
    free slot that may now hold something is not given out until staff clear it."""
    occupied = slot.state in (S.OCCUPIED, S.HELD)
    if presence is not None and presence == occupied:
        return  # the sensor agrees with the record
    if presence is None and not occupied and opened_by == m.OpenedVia.EMERGENCY:
        return  # nobody stops to put a phone into an empty locker during an evacuation
    if presence is None and not occupied:
        what = "opened while free and has no sensor: check it is empty, then clear it"
    elif presence is None:
        what = "opened in an emergency and has no sensor: check the device is still inside"
    elif occupied:
        what = "the device is no longer inside after the door was opened"
    else:
        what = "something is inside a slot that should be empty"
    change.alarm(A.CONTENTS_CHANGED, slot.number, True, what)
    if not occupied:
        change.move(slot, Trigger.FAULT)


def tick(state: KioskState, door_open_timeout_s: float) -> None:
    """Doors that never opened after a pulse, and doors left open too long."""
    mono = state.clock.monotonic()
    limit = state.replica.settings.door_open_alarm_s
    for number, current in state.slots.items():
        if current.opening_since is not None and \
                mono - current.opening_since > door_open_timeout_s:
            with state.change() as change:
                _not_opened(state, change, change.slot(number))
        if current.door_open and current.opened_since is not None and \
                not current.left_open_alarm and mono - current.opened_since > limit:
            with state.change() as change:
                change.slot(number).left_open_alarm = True
                change.alarm(A.DOOR_LEFT_OPEN, number, True, f"open for more than {limit} s")
    for number, until in list(state.expect_open.items()):
        if mono > until:
            state.expect_open.pop(number, None)


def _not_opened(state: KioskState, change: Change, slot: Slot) -> None:
    slot.opening_since = None
    change.alarm(A.DOOR_DID_NOT_OPEN, slot.number, True,
                 "relay pulsed but the door switch never opened")
    if slot.state is S.OPENING_FOR_DEPOSIT:
        change.move(slot, Trigger.DOOR_NOT_OPENED, pupil_ref=None)
    elif slot.state is S.OPENING_FOR_RELEASE:
        held = state.pupil_held(slot.pupil_ref)
        change.move(slot, Trigger.DOOR_NOT_OPENED_HELD if held
                    else Trigger.DOOR_NOT_OPENED_OCCUPIED)
