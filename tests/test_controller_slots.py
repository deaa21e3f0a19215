"""The slot lifecycle table, and its diagram in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from locker_controller.slots import TRANSITIONS, IllegalTransition, allowed, mermaid, next_state
from lockers.wire.messages import SlotState as S

DOC = Path(__file__).resolve().parents[1] / "docs" / "slot-states.md"


def test_the_documented_diagram_is_generated_from_the_table() -> None:
    assert mermaid() in DOC.read_text(encoding="utf-8")


def test_no_pupil_trigger_leaves_a_held_slot_except_release() -> None:
    leaving_held = {trigger for trigger, sources, dest in TRANSITIONS
                    if S.HELD in sources and dest is not S.HELD}
    assert leaving_held == {"release", "unhold", "fault"}
    for trigger in ("deposit_tap", "door_opened", "door_closed", "empty_deposit"):
        assert not allowed(trigger, S.HELD)


def test_an_illegal_move_raises_instead_of_happening() -> None:
    with pytest.raises(IllegalTransition, match="cannot deposit_tap from occupied"):
        next_state("deposit_tap", S.OCCUPIED)


def test_every_state_is_reachable_from_free() -> None:
    reached, frontier = {S.FREE}, [S.FREE]
    while frontier:
        state = frontier.pop()
        for _trigger, sources, dest in TRANSITIONS:
            if state in sources and dest not in reached:
                reached.add(dest)
                frontier.append(dest)
    assert reached == set(S)


def test_the_example_kiosk_config_loads_and_a_wrong_one_says_what_is_wrong(tmp_path: Path
                                                                          ) -> None:
    from lockers.kiosk_config import KioskConfigError, load_kiosk_config

    example = Path(__file__).resolve().parents[1] / "hardware" / "kiosk.example.toml"
    assert load_kiosk_config(example).relays.max_coils == 4
    bad = tmp_path / "kiosk.toml"
    bad.write_text(example.read_text().replace("max_coils = 4", "max_coils = 0"))
    with pytest.raises(KioskConfigError, match="relays.max_coils"):
        load_kiosk_config(bad)
    with pytest.raises(KioskConfigError, match="does not exist"):
        load_kiosk_config(tmp_path / "missing.toml")
