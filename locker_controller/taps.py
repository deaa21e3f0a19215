"""A pupil's (or a staff member's) card on a reader: decide, record, then open.

The decision is a pure function of the replica, the slots and the time
(:mod:`locker_controller.decisions`); this module records it in one change and only then
pulses the relay, so a crash can never leave a door open that the store does not know about.
"""

from __future__ import annotations

import time

from firmware_py.interfaces import CardTapped
from locker_controller import staff_actions
from locker_controller.api import TapResult
from locker_controller.decisions import decide_tap
from locker_controller.kiosk_state import KioskActions, KioskState
from locker_controller.staff import StaffSession
from lockers.cardhash import card_hash
from lockers.wire import messages as m


def on_tap(state: KioskState, actions: KioskActions, staff: StaffSession, card_key: str,
           tap: CardTapped) -> TapResult | None:
    """Handle one card read; returns what the screen should show (None: staff enrolment)."""
    card = card_hash(card_key, tap.uid)
    now, mono = state.clock.now(), state.clock.monotonic()
    signed_in = staff.active(mono)
    if signed_in and staff.enrol_pupil and card not in state.replica.cards:
        staff_actions.enrol(state, actions, staff, card, signed_in)
        return None
    decision = decide_tap(state.replica, state.slots, card, now, state.mode,
                          state.store.early_release_used, state.may_give, state.clock_doubt(),
                          lambda slot: slot.number not in state.unreachable)
    with state.change() as change:
        change.emit(m.TapEvent, reader=tap.reader, card=card, pupil_ref=decision.pupil_ref,
                    outcome=decision.outcome, slot=decision.slot, flags=list(decision.flags))
        if decision.opens_door:
            assert decision.slot is not None and decision.trigger is not None
            slot = change.slot(decision.slot)
            slot.via, slot.command_id = decision.via, None
            change.move(slot, decision.trigger, pupil_ref=decision.pupil_ref)
            slot.opening_since = mono
            if decision.early_release_id:
                state.store.use_early_release(decision.early_release_id)
    if decision.opens_door:
        assert decision.slot is not None
        actions.pulse(decision.slot)
    if decision.outcome is m.TapOutcome.STAFF_CARD:
        staff.pending_card, staff.pending_until = card, mono + 30
    actions.signal("ok" if decision.opens_door else "refused")
    entry = state.replica.cards.get(card)
    elsewhere = tuple(entry.elsewhere) if entry is not None and decision.outcome in (
        m.TapOutcome.HELD, m.TapOutcome.NOTHING_TO_COLLECT, m.TapOutcome.NOT_RELEASE_TIME
    ) else ()
    return TapResult(decision.outcome, now, tap.reader, decision.first_name, decision.slot,
                     decision.opens_at, decision.flags, time.monotonic(), tap.monotonic,
                     elsewhere)
