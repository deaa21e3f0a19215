"""Boot recovery: slots as they were, and the ones a crash caught mid-way settled safely.

The rule: never hand a device to the wrong pupil. A slot caught opening for a deposit whose
door is shut never opened (the latch relocked after its pulse): it is free again. A slot caught
open for a deposit whose door is now shut was closed while we were down: the deposit counts.
A slot caught opening for release goes back to occupied (or held); one caught open for release
whose door is now shut was collected.
"""

from __future__ import annotations

from firmware_py.interfaces import LockBank
from locker_controller import doors
from locker_controller.kiosk_state import KioskState
from locker_controller.slots import Trigger
from lockers.wire import messages as m

S = m.SlotState


def recover(state: KioskState, bank: LockBank) -> int:
    """Reload slot states, settle interrupted ones; returns how many slots were restored."""
    saved = state.store.load_slots()
    mono = state.clock.monotonic()
    with state.change() as change:
        for number, row in saved.items():
            if number not in state.slots:
                continue  # the pin map shrank: the slot is gone
            slot = change.slot(number)
            slot.state, slot.pupil_ref, slot.via = row.state, row.pupil_ref, row.via
            slot.command_id, slot.custody_id = row.command_id, row.custody_id
            slot.staff_ref = row.staff_ref
            slot.door_open = bank.door_open(number)
            if slot.door_open:
                slot.opened_since = mono
                if slot.state in (S.OPENING_FOR_DEPOSIT, S.OPENING_FOR_RELEASE):
                    change.move(slot, Trigger.DOOR_OPENED)
            elif slot.state is S.OPENING_FOR_DEPOSIT:
                change.move(slot, Trigger.DOOR_NOT_OPENED, pupil_ref=None)
            elif slot.state is S.OPENING_FOR_RELEASE:
                change.move(slot, Trigger.DOOR_NOT_OPENED_HELD if state.pupil_held(
                    slot.pupil_ref) else Trigger.DOOR_NOT_OPENED_OCCUPIED)
            elif slot.state in (S.OPEN_FOR_DEPOSIT, S.OPEN_FOR_RELEASE):
                slot.door_open = True  # it was open when we went down; it is shut now
                doors.closed(state, change, slot, bank.occupied(number))
                slot.door_open = False
    return len(saved)
