"""Boot recovery: slots as they were, and the ones a crash caught mid-way settled safely.

The rule: never hand a device to the wrong pupil. A slot caught opening for a deposit whose
door is shut never opened (the latch relocked after its pulse): it is free again. A slot caught
open for a deposit whose door is now shut was closed while we were down: the deposit counts.
A slot caught opening for release goes back to occupied (or held); one caught open for release
whose door is now shut was collected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lockers.wire import messages as m

if TYPE_CHECKING:
    from locker_controller.controller import Controller

S = m.SlotState


def recover(c: Controller) -> int:
    """Reload slot states, settle interrupted ones; returns how many slots were restored."""
    saved = c.store.load_slots()
    with c.store.transaction():
        for number, (state, pupil_ref, via, command_id) in saved.items():
            slot = c.slots.get(number)
            if slot is None:
                continue  # the pin map shrank: the slot is gone
            slot.state, slot.pupil_ref, slot.via, slot.command_id = state, pupil_ref, via, \
                command_id
            slot.door_open = c.hardware.bank.door_open(number)
            if slot.door_open:
                slot.opened_since = c.clock.monotonic()
            if slot.door_open and state in (S.OPENING_FOR_DEPOSIT, S.OPENING_FOR_RELEASE):
                c._move(slot, "door_opened", pupil_ref=pupil_ref)  # noqa: SLF001
            elif not slot.door_open and state is S.OPENING_FOR_DEPOSIT:
                c._move(slot, "door_not_opened", pupil_ref=None)  # noqa: SLF001
            elif not slot.door_open and state is S.OPEN_FOR_DEPOSIT:
                c._emit(m.DepositEvent, slot=number, pupil_ref=pupil_ref)  # noqa: SLF001
                c._move(slot, "door_closed", pupil_ref=pupil_ref)  # noqa: SLF001
            elif not slot.door_open and state is S.OPENING_FOR_RELEASE:
                held = c._pupil_held(pupil_ref)  # noqa: SLF001
                c._move(slot, "door_not_opened_held" if held else "door_not_opened_occupied",  # noqa: SLF001
                        pupil_ref=pupil_ref)
            elif not slot.door_open and state is S.OPEN_FOR_RELEASE:
                c._emit(m.CollectionEvent, slot=number, pupil_ref=pupil_ref,  # noqa: SLF001
                        via=via or "pupil", command_id=command_id)
                c._move(slot, "door_closed", pupil_ref=None)  # noqa: SLF001
    return len(saved)
