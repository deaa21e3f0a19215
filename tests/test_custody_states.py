"""The custody lifecycle is data, and its drawing in the docs is the table's."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.custody import states

DOC = Path(__file__).resolve().parents[1] / "docs" / "custody-states.md"


def test_custody_diagram_in_the_docs_is_drawn_from_the_table() -> None:
    assert states.mermaid() in DOC.read_text(encoding="utf-8")


def test_a_device_handed_to_the_police_can_never_be_given_back() -> None:
    for move in ("returned_by_office", "parent_collection", "handed_to_dsl",
                 "collected_at_kiosk"):
        with pytest.raises(states.IllegalMove):
            states.next_state(move, states.HANDED_TO_POLICE)


def test_every_office_action_offered_is_a_legal_move() -> None:
    for state, actions in states.OFFICE_ACTIONS.items():
        for action in actions:
            assert states.allowed(action, state), (action, state)
