"""Requests that come from people rather than from a pupil's card: the server's commands, the
fire alarm, and staff at the kiosk. Each is answered with what physically happened."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from locker_controller.api import StaffResult
from locker_controller.slots import Slot
from locker_controller.staff import LOCKOUT_S, MAX_FAILURES, SESSION_S, pin_matches
from lockers.wire import messages as m
from lockers.wire import topics as t

if TYPE_CHECKING:
    from locker_controller.controller import Controller

log = logging.getLogger("lockers.kiosk.commands")
S = m.SlotState
O = m.CommandOutcome  # noqa: E741


@dataclass
class PendingCommand:
    """A command whose doors we are watching before answering."""

    command: m.Command
    deadline: float
    slots: dict[int, O | None] = field(default_factory=dict)  # slot -> outcome once known


def handle(c: Controller, cmd: m.Command) -> None:
    """Carry out a command from the server and acknowledge it."""
    now = c.clock.now()
    if cmd.kiosk != c.kiosk:
        return
    if cmd.expires_at <= now:
        log.warning("event=command_expired id=%s kind=%s", cmd.id, cmd.kind)
        return _ack(c, cmd, O.EXPIRED, f"expired at {cmd.expires_at.isoformat()}")
    if not c.store.remember_command(cmd.id, now.isoformat()):
        return _ack(c, cmd, O.DUPLICATE, "this command was already carried out")
    log.info("event=command id=%s kind=%s actor=%s slot=%s", cmd.id, cmd.kind, cmd.actor,
             cmd.slot)
    if cmd.kind is m.CommandKind.REMOTE_UNLOCK:
        slot = c.slots.get(cmd.slot or -1)
        if slot is None:
            return _ack(c, cmd, O.REFUSED, f"this kiosk has no slot {cmd.slot}")
        if slot.door_open:
            return _ack(c, cmd, O.DOOR_ALREADY_OPEN, f"slot {slot.number} is already open")
        if slot.is_open_for_someone:
            return _ack(c, cmd, O.REFUSED, f"slot {slot.number} is in use by a pupil right now")
        _open(c, [slot], via="remote_unlock", command_id=cmd.id)
        c.pending_commands[cmd.id] = PendingCommand(
            cmd, c.clock.monotonic() + c.config.command_ack_timeout_s, {slot.number: None})
    elif cmd.kind is m.CommandKind.EMERGENCY_OPEN:
        _emergency(c, via="emergency", command=cmd)
    elif cmd.kind is m.CommandKind.RESYNC:
        assert c.link is not None
        c.link.client.subscribe(t.topic(t.POLICY, c.site, c.kiosk), 1)  # retained again
        c._on_link_up()  # noqa: SLF001 - status, snapshot, outbox
        _ack(c, cmd, O.DONE, "status, slots and outbox sent again; policy requested")
    elif cmd.kind is m.CommandKind.SET_MODE:
        c.mode = cmd.mode or "normal"
        _ack(c, cmd, O.DONE, f"mode is now {c.mode}")
        c._notify(c._view())  # noqa: SLF001


def fire_alarm(c: Controller, active: bool) -> None:
    """The building's fire alarm: open every slot (within the coil limit), record it."""
    c.fire_alarm = active
    with c.store.transaction():
        c._alarm(m.AlarmKind.FIRE_ALARM, None, active,  # noqa: SLF001
                 "fire alarm input active" if active else "fire alarm over")
    if active:
        _emergency(c, via="emergency", command=None)
    c._notify(c._view())  # noqa: SLF001


def _emergency(c: Controller, via: str, command: m.Command | None) -> None:
    outcomes: dict[int, O | None] = {}
    to_open = []
    for slot in c.slots.values():
        if slot.door_open:
            outcomes[slot.number] = O.DOOR_ALREADY_OPEN
        else:
            outcomes[slot.number] = None
            to_open.append(slot)
    _open(c, to_open, via=via, command_id=command.id if command else None)
    if command is not None:
        c.pending_commands[command.id] = PendingCommand(
            command, c.clock.monotonic() + c.config.command_ack_timeout_s, outcomes)


def _open(c: Controller, slots: list[Slot], via: str, command_id: str | None) -> None:
    """Pulse these slots; occupied ones move to release, others are expected to open."""
    mono = c.clock.monotonic()
    with c.store.transaction():
        for slot in slots:
            if slot.state in (S.OCCUPIED, S.HELD):
                slot.via, slot.command_id = via, command_id
                c._move(slot, "release", pupil_ref=slot.pupil_ref)  # noqa: SLF001
                slot.opening_since = mono
            else:
                c.expect_open[slot.number] = mono + c.config.door_open_timeout_s
    for slot in slots:  # committed first, then the relays (queued within the coil limit)
        c.hardware.bank.pulse(slot.number)


def door_changed(c: Controller, slot: Slot) -> None:
    """A door moved: it may answer a command we are watching."""
    if not slot.door_open:
        return
    for pending in list(c.pending_commands.values()):
        if slot.number in pending.slots and pending.slots[slot.number] is None:
            pending.slots[slot.number] = O.DOOR_OPENED
            _maybe_finish(c, pending, final=False)


def tick(c: Controller, mono: float) -> None:
    """Answer commands whose doors did not all open in time."""
    for pending in list(c.pending_commands.values()):
        if mono > pending.deadline:
            _maybe_finish(c, pending, final=True)


def _maybe_finish(c: Controller, pending: PendingCommand, final: bool) -> None:
    if not final and any(v is None for v in pending.slots.values()):
        return
    c.pending_commands.pop(pending.command.id, None)
    outcomes = {n: (o or O.DOOR_DID_NOT_OPEN) for n, o in pending.slots.items()}
    if pending.command.kind is m.CommandKind.REMOTE_UNLOCK:
        (number, outcome), = outcomes.items()
        detail = {O.DOOR_OPENED: f"slot {number} opened",
                  O.DOOR_DID_NOT_OPEN: f"relay of slot {number} pulsed but its door never "
                                       "opened: check the lock"}[outcome]
        _ack(c, pending.command, outcome, detail)
    else:
        opened = sum(o is O.DOOR_OPENED for o in outcomes.values())
        _ack(c, pending.command, O.DONE, f"{opened} of {len(outcomes)} doors opened",
             [m.SlotOutcome(slot=n, outcome=o) for n, o in sorted(outcomes.items())])


def _ack(c: Controller, cmd: m.Command, outcome: O, detail: str,
         slots: list[m.SlotOutcome] | None = None) -> None:
    ack = m.CommandAck(command_id=cmd.id, kiosk=c.kiosk, at=c.clock.now(), outcome=outcome,
                       detail=detail, slots=slots or [])
    log.info("event=command_ack id=%s outcome=%s", cmd.id, outcome)
    if c.link is not None:
        c.link.publish(t.COMMAND_ACKS, ack)


# --- staff at the kiosk -------------------------------------------------------------------


def staff_login(c: Controller, pin: str) -> StaffResult:
    """Check the PIN of the staff card just tapped."""
    mono = c.clock.monotonic()
    card = c.staff.pending(mono)
    entry = c.replica.staff.get(card) if card else None
    if entry is None:
        return _staff_result(c, StaffResult("login", False, "tap your staff card first"))
    if mono < c.staff.locked_until:
        return _staff_result(c, StaffResult("login", False, "too many wrong PINs: wait a minute"))
    ok = pin_matches(pin, entry.pin_hash)
    with c.store.transaction():
        c._emit(m.StaffActionEvent, staff_ref=entry.staff_ref,  # noqa: SLF001
                action="staff_mode_entered" if ok else "pin_refused", card=card)
    if not ok:
        c.staff.failures += 1
        if c.staff.failures >= MAX_FAILURES:
            c.staff.failures, c.staff.locked_until = 0, mono + LOCKOUT_S
            c.staff.pending_card = None
        return _staff_result(c, StaffResult("login", False, "wrong PIN"))
    c.staff.failures, c.staff.pending_card = 0, None
    c.staff.staff_ref, c.staff.until = entry.staff_ref, mono + SESSION_S
    return _staff_result(c, StaffResult("login", True, f"staff mode: {entry.staff_ref}"))


def staff_enrol(c: Controller, pupil_ref: str) -> StaffResult:
    """Wait for an unknown card to enrol to ``pupil_ref``."""
    if not c.staff.active(c.clock.monotonic()):
        return _staff_result(c, StaffResult("enrol", False, "staff mode has ended"))
    c.staff.enrol_pupil = pupil_ref.strip()[:64] or None
    return _staff_result(c, StaffResult("enrol", True, "tap the new card"))


def enrol(c: Controller, card: str, staff_ref: str) -> None:
    """Enrol a tapped unknown card to the pupil staff named."""
    pupil_ref = c.staff.enrol_pupil
    assert pupil_ref is not None
    with c.store.transaction():
        c._emit(m.StaffActionEvent, staff_ref=staff_ref, action="enrol_card",  # noqa: SLF001
                card=card, pupil_ref=pupil_ref, reason="enrolled at the kiosk")
    c.replica.enrol(m.CardEntry(card=card, pupil_ref=pupil_ref, first_name=""))
    c.staff.enrol_pupil = None
    _staff_result(c, StaffResult("enrol", True, f"card enrolled to {pupil_ref}"))


def staff_open(c: Controller, number: int, reason: str) -> StaffResult:
    """Open one slot for a stated reason."""
    staff_ref = c.staff.active(c.clock.monotonic())
    slot = c.slots.get(number)
    if not staff_ref:
        return _staff_result(c, StaffResult("open_slot", False, "staff mode has ended"))
    if slot is None or not reason.strip():
        return _staff_result(c, StaffResult("open_slot", False,
                                            "choose a slot of this kiosk and give a reason"))
    if slot.is_open_for_someone:
        return _staff_result(c, StaffResult("open_slot", False, f"slot {number} is in use"))
    with c.store.transaction():
        c._emit(m.StaffActionEvent, staff_ref=staff_ref, action="open_slot",  # noqa: SLF001
                slot=number, pupil_ref=slot.pupil_ref, reason=reason.strip()[:500])
        _open(c, [slot], via="staff", command_id=None)
    return _staff_result(c, StaffResult("open_slot", True, f"slot {number} opened", number))


def staff_clear(c: Controller, number: int) -> StaffResult:
    """Clear a slot's fault and its alarms."""
    staff_ref = c.staff.active(c.clock.monotonic())
    slot = c.slots.get(number)
    if not staff_ref or slot is None:
        return _staff_result(c, StaffResult("clear_fault", False, "staff mode has ended"))
    with c.store.transaction():
        c._emit(m.StaffActionEvent, staff_ref=staff_ref, action="clear_fault",  # noqa: SLF001
                slot=number, reason="fault cleared at the kiosk")
        for kind, s, reader in list(c.alarms):
            if s == number:
                c._alarm(kind, s, False, f"cleared by {staff_ref}", reader=reader)  # noqa: SLF001
        if slot.state is S.FAULT:
            c._move(slot, "clear_fault_occupied" if slot.pupil_ref else "clear_fault_empty",  # noqa: SLF001
                    pupil_ref=slot.pupil_ref)
    return _staff_result(c, StaffResult("clear_fault", True, f"slot {number} cleared", number))


def _staff_result(c: Controller, result: StaffResult) -> StaffResult:
    c._notify(result)  # noqa: SLF001
    c._notify(c._view())  # noqa: SLF001
    return result
