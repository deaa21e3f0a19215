"""The custody lifecycle of one device, declared as data (drawn in docs/custody-states.md).

Each move is (name, sources, destination); ``None`` as a source is "the device is not yet in
the school's charge". A record only moves along this table: any other move raises
:class:`IllegalMove`, so a bug cannot hand a device to a parent twice or reopen a closed one.

"Left overnight" is not a state: a device stays where it is overnight (in its slot or in the
office). A record still open after the day it came in is left overnight since the close of
that day's release window (see :func:`server.custody.overnight.left_overnight_since`).
"""

from __future__ import annotations

from server.errors import NotAllowed

IN_SLOT = "in_slot"  # in a kiosk slot; the pupil collects it at the window
HELD_IN_SLOT = "held_in_slot"  # confiscated, in a slot; the pupil's tap never opens it
IN_OFFICE = "in_office"  # handed in at the office (or to the class teacher), kept at a place
HELD_IN_OFFICE = "held_in_office"  # confiscated, kept at a named place ("office safe")
RETURNED_TO_PUPIL = "returned_to_pupil"  # at the kiosk, or by hand by the office
COLLECTED_BY_PARENT = "collected_by_parent"
HANDED_TO_DSL = "handed_to_dsl"
HANDED_TO_POLICE = "handed_to_police"

IN_A_SLOT = frozenset({IN_SLOT, HELD_IN_SLOT})
HELD = frozenset({HELD_IN_SLOT, HELD_IN_OFFICE})
OPEN = frozenset({IN_SLOT, HELD_IN_SLOT, IN_OFFICE, HELD_IN_OFFICE})
CLOSED = frozenset({RETURNED_TO_PUPIL, COLLECTED_BY_PARENT, HANDED_TO_DSL, HANDED_TO_POLICE})

MOVES: tuple[tuple[str, tuple[str | None, ...], str], ...] = (
    # coming in
    ("deposit_at_kiosk", (None,), IN_SLOT),  # the pupil's tap, or staff-assisted
    ("confiscated_into_slot", (None,), HELD_IN_SLOT),  # staff put a taken device in a slot
    ("hand_in_at_office", (None,), IN_OFFICE),
    ("confiscate_taken", (None,), HELD_IN_OFFICE),  # taken from the pupil, kept in the office
    # confiscating what the school already holds
    ("confiscate_in_slot", (IN_SLOT,), HELD_IN_SLOT),
    ("confiscate_in_office", (IN_OFFICE,), HELD_IN_OFFICE),
    ("put_in_slot", (HELD_IN_OFFICE,), HELD_IN_SLOT),  # staff at a kiosk, a free slot
    # going out
    ("collected_at_kiosk", (IN_SLOT, HELD_IN_SLOT), RETURNED_TO_PUPIL),
    ("returned_by_office", (IN_SLOT, HELD_IN_SLOT, IN_OFFICE, HELD_IN_OFFICE),
     RETURNED_TO_PUPIL),
    ("parent_collection", (IN_SLOT, HELD_IN_SLOT, IN_OFFICE, HELD_IN_OFFICE),
     COLLECTED_BY_PARENT),
    ("handed_to_dsl", (IN_SLOT, HELD_IN_SLOT, IN_OFFICE, HELD_IN_OFFICE), HANDED_TO_DSL),
    ("handed_to_police", (IN_SLOT, HELD_IN_SLOT, IN_OFFICE, HELD_IN_OFFICE),
     HANDED_TO_POLICE),
    # the kiosk refused the door for a hand-back: the device never left its slot
    ("door_refused", (RETURNED_TO_PUPIL, COLLECTED_BY_PARENT, HANDED_TO_DSL,
                      HANDED_TO_POLICE), HELD_IN_SLOT),
    ("door_refused_unheld", (RETURNED_TO_PUPIL, COLLECTED_BY_PARENT), IN_SLOT),
)

_TABLE: dict[tuple[str, str | None], str] = {}
for _move, _sources, _dest in MOVES:
    for _source in _sources:
        _TABLE[(_move, _source)] = _dest

# What the office sees offered for a record in each state (the web shows only these).
OFFICE_ACTIONS: dict[str, tuple[str, ...]] = {
    IN_SLOT: ("confiscate_in_slot", "returned_by_office", "parent_collection"),
    IN_OFFICE: ("confiscate_in_office", "returned_by_office", "parent_collection"),
    HELD_IN_SLOT: ("returned_by_office", "parent_collection", "handed_to_dsl",
                   "handed_to_police"),
    HELD_IN_OFFICE: ("returned_by_office", "parent_collection", "handed_to_dsl",
                     "handed_to_police"),
}


class IllegalMove(NotAllowed):
    """A move the custody lifecycle does not allow from the record's state."""


def next_state(move: str, state: str | None) -> str:
    """Where ``move`` takes a record in ``state``; raise :class:`IllegalMove` if nowhere."""
    try:
        return _TABLE[(move, state)]
    except KeyError:
        words = "a new record" if state is None else f"a device {state.replace('_', ' ')}"
        raise IllegalMove(f"{move.replace('_', ' ')} is not possible for {words}") from None


def allowed(move: str, state: str | None) -> bool:
    """Whether ``move`` is allowed from ``state``."""
    return (move, state) in _TABLE


def mermaid() -> str:
    """The lifecycle as Mermaid text (docs/custody-states.md embeds it; a test keeps it so)."""
    lines = ["stateDiagram-v2"]
    for move, sources, dest in MOVES:
        for source in sources:
            lines.append(f"    {'[*]' if source is None else source} --> {dest}: {move}")
    for state in sorted(CLOSED):
        lines.append(f"    {state} --> [*]")
    return "\n".join(lines)
