"""The slot lifecycle, declared as data (drawn in docs/slot-states.md).

Each transition is (trigger, sources, destination). A slot only moves along this table; any
other move raises :class:`IllegalTransition`, so a bug cannot quietly open a held slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from locker_controller.errors import ControllerError
from lockers.wire.messages import SlotState as S


class Trigger(StrEnum):
    """What moves a slot: a tap, a door, a timer, staff or the server."""

    DEPOSIT_TAP = "deposit_tap"
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    EMPTY_DEPOSIT = "empty_deposit"
    DOOR_NOT_OPENED = "door_not_opened"
    HOLD = "hold"
    UNHOLD = "unhold"
    RELEASE = "release"
    DOOR_NOT_OPENED_OCCUPIED = "door_not_opened_occupied"
    DOOR_NOT_OPENED_HELD = "door_not_opened_held"
    FAULT = "fault"
    CLEAR_FAULT_EMPTY = "clear_fault_empty"
    CLEAR_FAULT_OCCUPIED = "clear_fault_occupied"
    RESTORE = "restore"  # rebuilt from the server's custody picture after losing the store
    RESTORE_HELD = "restore_held"


T = Trigger
TRANSITIONS: tuple[tuple[Trigger, tuple[S, ...], S], ...] = (
    (T.DEPOSIT_TAP, (S.FREE,), S.OPENING_FOR_DEPOSIT),
    (T.DOOR_OPENED, (S.OPENING_FOR_DEPOSIT,), S.OPEN_FOR_DEPOSIT),
    (T.DOOR_CLOSED, (S.OPEN_FOR_DEPOSIT,), S.OCCUPIED),
    (T.EMPTY_DEPOSIT, (S.OPEN_FOR_DEPOSIT,), S.FREE),
    (T.DOOR_NOT_OPENED, (S.OPENING_FOR_DEPOSIT,), S.FREE),
    (T.HOLD, (S.OCCUPIED,), S.HELD),
    (T.UNHOLD, (S.HELD,), S.OCCUPIED),
    (T.RELEASE, (S.OCCUPIED, S.HELD), S.OPENING_FOR_RELEASE),
    (T.DOOR_OPENED, (S.OPENING_FOR_RELEASE,), S.OPEN_FOR_RELEASE),
    (T.DOOR_CLOSED, (S.OPEN_FOR_RELEASE,), S.FREE),
    (T.DOOR_NOT_OPENED_OCCUPIED, (S.OPENING_FOR_RELEASE,), S.OCCUPIED),
    (T.DOOR_NOT_OPENED_HELD, (S.OPENING_FOR_RELEASE,), S.HELD),
    (T.FAULT, tuple(S), S.FAULT),
    (T.CLEAR_FAULT_EMPTY, (S.FAULT,), S.FREE),
    (T.CLEAR_FAULT_OCCUPIED, (S.FAULT,), S.OCCUPIED),
    (T.RESTORE, (S.FREE,), S.OCCUPIED),
    (T.RESTORE_HELD, (S.FREE,), S.HELD),
)

_TABLE: dict[tuple[str, S], S] = {}
for _trigger, _sources, _dest in TRANSITIONS:
    for _source in _sources:
        _TABLE[(_trigger, _source)] = _dest


class IllegalTransition(ControllerError):
    """A move the slot lifecycle does not allow."""


def next_state(trigger: str, state: S) -> S:
    """Where ``trigger`` takes a slot in ``state``; raise if nowhere."""
    try:
        return _TABLE[(trigger, state)]
    except KeyError:
        raise IllegalTransition(f"slot cannot {trigger} from {state.value}") from None


def allowed(trigger: str, state: S) -> bool:
    """Whether ``trigger`` is allowed from ``state``."""
    return (trigger, state) in _TABLE


@dataclass
class Slot:
    """One slot: its state, whose devices are in it, and its door."""

    number: int
    state: S = S.FREE
    pupil_ref: str | None = None
    door_open: bool = False
    opened_since: float | None = None  # monotonic, while the door is open
    opening_since: float | None = None  # monotonic, while waiting for the door after a pulse
    left_open_alarm: bool = False
    forced_open_alarm: bool = False
    via: str | None = None  # how the current release opening was granted
    command_id: str | None = None
    custody_id: str | None = None  # the custody record of the device inside
    staff_ref: str | None = None  # staff handing a device in for a pupil
    check_on_close: str | None = None  # opened by whom (OpenedVia): check what is inside

    @property
    def is_open_for_someone(self) -> bool:
        """Whether a pupil is using this slot right now."""
        return self.state in (S.OPENING_FOR_DEPOSIT, S.OPEN_FOR_DEPOSIT,
                              S.OPENING_FOR_RELEASE, S.OPEN_FOR_RELEASE)


def mermaid() -> str:
    """The state diagram as Mermaid text (docs/slot-states.md embeds it)."""
    lines = ["stateDiagram-v2", "    [*] --> free"]
    for trigger, sources, dest in TRANSITIONS:
        if trigger is Trigger.FAULT:
            lines.append(f"    note right of fault: any state --> fault on {trigger}")
            continue
        for source in sources:
            lines.append(f"    {source.value} --> {dest.value}: {trigger.value}")
    return "\n".join(lines) + "\n"
