"""A short simulated school day with every fault injected: nothing lost or duplicated, held
phones stay held, exempt pupils never open a slot, every deposit released or uncollected."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.simulate import SimOptions, Simulation, human

KIOSK300 = Path(__file__).resolve().parents[1] / "hardware" / "boardmaps" / "kiosk300.toml"


@pytest.mark.timeout(600)  # a whole simulated day; minutes on a busy machine
def test_a_short_school_day_with_faults_keeps_every_promise(tmp_path: Path) -> None:
    report = Simulation(SimOptions(
        pupils=50, kiosks=2, slots=40, arrival_minutes=8, speed=60, seed=3,
        faults=("broker-restart", "kiosk-kill", "network-cut"), workdir=tmp_path,
        progress=False)).run()
    text = human(report)
    assert report["events_lost"] == 0 and report["custody_mismatches"] == 0, text
    assert report["deposit_rows_match_kiosks"], text
    assert report["events_committed"] == report["events_sent"] > 50 * 5, text
    assert report["invariants"]["held_phones_still_held"], text
    assert report["invariants"]["exempt_pupils_never_opened_a_slot"], text
    assert report["held"] == 1 and report["refused_by_reason"].get("held") == 1, text
    assert report["deposits"] == report["releases"] + report["uncollected_at_close"], text
    assert report["deposits_recorded"] == report["deposits"], text
    assert "Nothing was lost" in text


@pytest.mark.timeout(240)  # about a minute on a quiet machine; the rest is for a busy one
def test_full_size_kiosks_on_lock_boards_put_every_pupils_phone_in_a_slot(
        tmp_path: Path) -> None:
    """The full-size school shortened: five kiosks of 300 slots, each on seven lock boards
    answering over its own socat pty pair, 60 pupils a kiosk through real controllers, the
    real broker and the real server."""
    report = Simulation(SimOptions(
        pupils=300, kiosks=5, doors_at_once=16, arrival_minutes=4, speed=20, seed=5,
        boardmap=KIOSK300, collect=False, workdir=tmp_path, progress=False)).run()
    text = human(report)
    morning = report["after_morning"]
    assert not morning["unsettled"], text  # every door shut and every outbox drained
    assert report["slots_per_kiosk"] == 300 and morning["slots_compared"] == 5 * 300, text
    # Every pupil without an exception has their phone in a slot, and every kiosk took some.
    assert morning["phones_in_slots"] == morning["pupils_to_hand_in"] == 300 - 3, text
    assert all(n > 0 for n in morning["occupied_slots_by_kiosk"].values()), text
    assert report["refused_by_reason"] == {"exempt": 3}, text
    # Nothing lost, nothing applied twice, the server's picture the same as every kiosk's.
    assert report["events_lost"] == 0 and report["events_committed"] == report["events_sent"]
    assert report["deposit_rows_match_kiosks"], text
    assert report["deposits"] == report["deposits_recorded"] == 297, text
    assert morning["custody_mismatches"] == 0 and morning["kiosks_matching"] == 5, text
    assert report["custody_mismatches"] == 0 and report["kiosks_matching_at_close"] == 5, text


def test_the_secondary_1500_preset_is_five_kiosks_of_300_slots_on_lock_boards() -> None:
    from launcher.sim_presets import PRESETS

    options = SimOptions(**PRESETS["secondary-1500"])  # type: ignore[arg-type]
    assert (options.pupils, options.kiosks, options.slots) == (1500, 5, 300)
    assert options.boardmap == KIOSK300 and options.pupils <= options.kiosks * options.slots
