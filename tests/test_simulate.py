"""A short simulated school day with every fault injected: nothing lost or duplicated, held
phones stay held, exempt pupils never open a slot, every deposit released or uncollected."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.simulate import SimOptions, Simulation, human


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
