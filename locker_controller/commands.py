"""The server's commands and the building's fire alarm: doors opened by people other than the
pupil, each answered with what physically happened (Open-Locker #300, #302: always pulse on a
valid open, report the door switch separately)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from locker_controller.kiosk_state import KioskActions, KioskState
from locker_controller.slots import Slot, Trigger
from lockers.wire import messages as m

log = logging.getLogger("lockers.kiosk.commands")
S = m.SlotState
O = m.CommandOutcome  # noqa: E741 - the outcome table reads better short
REMEMBER_COMMANDS = timedelta(days=2)  # a replayed id is refused as a duplicate this long


@dataclass
class PendingCommand:
    """A command whose doors we are watching before answering."""

    command: m.Command
    deadline: float
    slots: dict[int, O | None] = field(default_factory=dict)  # slot -> outcome once known


class CommandDesk:
    """Carries out commands and watches their doors until it can say what happened."""

    def __init__(self, state: KioskState, actions: KioskActions, ack_timeout_s: float,
                 door_open_timeout_s: float) -> None:
        self.state, self.actions = state, actions
        self.ack_timeout_s, self.door_open_timeout_s = ack_timeout_s, door_open_timeout_s
        self.pending: dict[str, PendingCommand] = {}

    def handle(self, cmd: m.Command) -> None:
        """Carry out a command from the server and acknowledge it."""
        state = self.state
        now = state.trust.server_now()  # a command's expiry is the server's time, not ours
        if cmd.kiosk != state.kiosk:
            return
        if cmd.expires_at <= now:
            log.warning("event=command_expired id=%s kind=%s", cmd.id, cmd.kind)
            return self._ack(cmd, O.EXPIRED, f"expired at {cmd.expires_at.isoformat()}")
        if not state.store.remember_command(cmd.id, cmd.expires_at.isoformat(),
                                            (now - REMEMBER_COMMANDS).isoformat()):
            return self._ack(cmd, O.DUPLICATE, "this command was already carried out")
        log.info("event=command id=%s kind=%s actor=%s slot=%s", cmd.id, cmd.kind, cmd.actor,
                 cmd.slot)
        if cmd.kind is m.CommandKind.REMOTE_UNLOCK:
            self._remote_unlock(cmd)
        elif cmd.kind is m.CommandKind.EMERGENCY_OPEN:
            self.emergency(cmd)
        elif cmd.kind is m.CommandKind.RESYNC:
            self.actions.resync()
            self._ack(cmd, O.DONE, "status, slots and outbox sent again; policy requested")
        elif cmd.kind is m.CommandKind.SET_MODE:
            state.mode = cmd.mode or m.KioskMode.NORMAL
            state.view_dirty = True
            self._ack(cmd, O.DONE, f"mode is now {state.mode}")

    def _remote_unlock(self, cmd: m.Command) -> None:
        slot = self.state.slots.get(cmd.slot or -1)
        if slot is None:
            return self._ack(cmd, O.REFUSED, f"this kiosk has no slot {cmd.slot}")
        if slot.door_open:
            return self._ack(cmd, O.DOOR_ALREADY_OPEN, f"slot {slot.number} is already open")
        if slot.is_open_for_someone:
            return self._ack(cmd, O.REFUSED, f"slot {slot.number} is in use by a pupil right now")
        if slot.number in self.state.unreachable:
            return self._ack(cmd, O.REFUSED, f"the lock board of slot {slot.number} is not "
                                             "answering: check its power and bus cable")
        mismatch = custody_mismatch(slot, cmd)
        if mismatch:
            with self.state.change() as change:  # staff must look: the two ends disagree
                change.alarm(m.AlarmKind.CUSTODY_MISMATCH, slot.number, True,
                             f"{mismatch} (command {cmd.id} for {cmd.custody_id})")
            log.warning("event=remote_unlock_refused id=%s slot=%s reason=%r", cmd.id,
                        slot.number, mismatch)
            return self._ack(cmd, O.REFUSED, mismatch)
        self.open([slot], via=m.OpenedVia.REMOTE_UNLOCK, command_id=cmd.id)
        self.pending[cmd.id] = PendingCommand(
            cmd, self.state.clock.monotonic() + self.ack_timeout_s, {slot.number: None})

    def emergency(self, command: m.Command | None) -> None:
        """Open every slot within the coil limit (a command, or the fire alarm's input)."""
        outcomes: dict[int, O | None] = {}
        to_open = []
        for slot in self.state.slots.values():
            if slot.door_open:
                outcomes[slot.number] = O.DOOR_ALREADY_OPEN
            else:
                outcomes[slot.number] = None
                to_open.append(slot)
        self.open(to_open, via=m.OpenedVia.EMERGENCY,
                  command_id=command.id if command else None)
        if command is not None:
            self.pending[command.id] = PendingCommand(
                command, self.state.clock.monotonic() + self.ack_timeout_s, outcomes)

    def fire_alarm(self, active: bool) -> None:
        """The building's fire alarm: open every slot, record it."""
        state = self.state
        state.fire_alarm = active
        state.view_dirty = True
        with state.change() as change:
            change.alarm(m.AlarmKind.FIRE_ALARM, None, active,
                         "fire alarm input active" if active else "fire alarm over")
        if active:
            self.emergency(None)

    def open(self, slots: list[Slot], via: m.OpenedVia, command_id: str | None) -> None:
        """Pulse these slots. For a person acting on a record (a remote unlock, staff), an
        occupied slot moves to release and its closing door is a collection. An emergency
        leaves every record as it was: the doors are expected to open, and each is checked
        when it closes. A free slot opened by staff is checked too, so nobody is later given
        a locker with something left inside. Committed first, then the relays."""
        mono = self.state.clock.monotonic()
        with self.state.change() as change:
            for current in slots:
                slot = change.slot(current.number)
                if slot.state in (S.OCCUPIED, S.HELD) and via is not m.OpenedVia.EMERGENCY:
                    slot.via, slot.command_id = via, command_id
                    change.move(slot, Trigger.RELEASE)
                    slot.opening_since = mono
                else:
                    slot.check_on_close = via
                    change.expect_open(slot.number, mono + self.door_open_timeout_s)
        for slot in slots:
            self.actions.pulse(slot.number)

    def door_changed(self, number: int) -> None:
        """A door opened: it may answer a command we are watching."""
        for pending in list(self.pending.values()):
            if pending.slots.get(number, O.DONE) is None:
                pending.slots[number] = O.DOOR_OPENED
                self._maybe_finish(pending, final=False)

    def tick(self) -> None:
        """Answer commands whose doors did not all open in time."""
        mono = self.state.clock.monotonic()
        for pending in list(self.pending.values()):
            if mono > pending.deadline:
                self._maybe_finish(pending, final=True)

    def _maybe_finish(self, pending: PendingCommand, final: bool) -> None:
        if not final and any(v is None for v in pending.slots.values()):
            return
        self.pending.pop(pending.command.id, None)
        outcomes = {n: (o or O.DOOR_DID_NOT_OPEN) for n, o in pending.slots.items()}
        if pending.command.kind is m.CommandKind.REMOTE_UNLOCK:
            (number, outcome), = outcomes.items()
            detail = {O.DOOR_OPENED: f"slot {number} opened",
                      O.DOOR_DID_NOT_OPEN: f"relay of slot {number} pulsed but its door never "
                                           "opened: check the lock"}[outcome]
            self._ack(pending.command, outcome, detail)
        else:
            opened = sum(o is O.DOOR_OPENED for o in outcomes.values())
            self._ack(pending.command, O.DONE, f"{opened} of {len(outcomes)} doors opened",
                      [m.SlotOutcome(slot=n, outcome=o) for n, o in sorted(outcomes.items())])

    def _ack(self, cmd: m.Command, outcome: O, detail: str,
             slots: list[m.SlotOutcome] | None = None) -> None:
        log.info("event=command_ack id=%s outcome=%s", cmd.id, outcome)
        self.actions.publish_ack(m.CommandAck(
            command_id=cmd.id, kiosk=self.state.kiosk, at=self.state.clock.now(),
            outcome=outcome, detail=detail, slots=slots or []))


def custody_mismatch(slot: Slot, cmd: m.Command) -> str | None:
    """Why this kiosk's own record of ``slot`` does not match what the command opens for
    (None: it matches, or the command names no record, as older servers send)."""
    if cmd.custody_id is None and cmd.expected_pupil_ref is None:
        return None
    if slot.state not in (S.OCCUPIED, S.HELD):
        return f"slot {slot.number} is empty here: nothing to open it for"
    if cmd.custody_id is not None and slot.custody_id not in (None, cmd.custody_id):
        return f"slot {slot.number} holds another device (record {slot.custody_id})"
    if cmd.expected_pupil_ref is not None and slot.pupil_ref != cmd.expected_pupil_ref:
        return f"slot {slot.number} holds another pupil's device"
    return None
