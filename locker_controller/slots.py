"""The slot lifecycle, declared as data (drawn in docs/slot-states.md).

Each transition is (trigger, sources, destination). A slot only moves along this table; any
other move raises :class:`IllegalTransition`, so a bug cannot quietly open a held slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from locker_controller.errors import ControllerError
from lockers.wire.messages import SlotState as S

TRANSITIONS: tuple[tuple[str, tuple[S, ...], S], ...] = (
    ("deposit_tap", (S.FREE,), S.OPENING_FOR_DEPOSIT),
    ("door_opened", (S.OPENING_FOR_DEPOSIT,), S.OPEN_FOR_DEPOSIT),
    ("door_closed", (S.OPEN_FOR_DEPOSIT,), S.OCCUPIED),
    ("empty_deposit", (S.OPEN_FOR_DEPOSIT,), S.FREE),
    ("door_not_opened", (S.OPENING_FOR_DEPOSIT,), S.FREE),
    ("hold", (S.OCCUPIED,), S.HELD),
    ("unhold", (S.HELD,), S.OCCUPIED),
    ("release", (S.OCCUPIED, S.HELD), S.OPENING_FOR_RELEASE),
    ("door_opened", (S.OPENING_FOR_RELEASE,), S.OPEN_FOR_RELEASE),
    ("door_closed", (S.OPEN_FOR_RELEASE,), S.FREE),
    ("door_not_opened_occupied", (S.OPENING_FOR_RELEASE,), S.OCCUPIED),
    ("door_not_opened_held", (S.OPENING_FOR_RELEASE,), S.HELD),
    ("fault", tuple(S), S.FAULT),
    ("clear_fault_empty", (S.FAULT,), S.FREE),
    ("clear_fault_occupied", (S.FAULT,), S.OCCUPIED),
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

    @property
    def is_open_for_someone(self) -> bool:
        """Whether a pupil is using this slot right now."""
        return self.state in (S.OPENING_FOR_DEPOSIT, S.OPEN_FOR_DEPOSIT,
                              S.OPENING_FOR_RELEASE, S.OPEN_FOR_RELEASE)


def mermaid() -> str:
    """The state diagram as Mermaid text (docs/slot-states.md embeds it)."""
    lines = ["stateDiagram-v2", "    [*] --> free"]
    for trigger, sources, dest in TRANSITIONS:
        if trigger == "fault":
            lines.append(f"    note right of fault: any state --> fault on {trigger}")
            continue
        for source in sources:
            lines.append(f"    {source.value} --> {dest.value}: {trigger}")
    return "\n".join(lines) + "\n"
