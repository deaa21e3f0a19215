"""`lockers plan`: a school's numbers in, the kiosks it needs and their parts out."""

from __future__ import annotations

import math
from dataclasses import replace

from click.testing import CliRunner

from launcher.cli import main
from launcher.plan import SchoolNumbers, _sessions, bill_of_materials, plan_school

SCHOOL = SchoolNumbers(pupils=700, arrival_window_min=15, entrances=1, p95_target_s=20,
                       home_window_min=8)


def test_the_plan_keeps_the_p95_wait_under_target_with_nothing_to_spare() -> None:
    plan = plan_school(SCHOOL)
    assert plan.meets_target
    assert plan.kiosks * plan.slots_per_kiosk >= SCHOOL.pupils
    assert plan.boards_per_kiosk == math.ceil(plan.slots_per_kiosk / 48)
    # One reader fewer at the same kiosks misses the target (or there is no fewer).
    if plan.readers_per_kiosk > 1:
        morning, home = _sessions(SCHOOL, plan.kiosks, plan.readers_per_kiosk - 1)
        assert max(morning.actual.p95, home.actual.p95) > SCHOOL.p95_target_s


def test_a_stricter_target_never_needs_fewer_readers() -> None:
    easy = plan_school(SCHOOL)
    strict = plan_school(replace(SCHOOL, p95_target_s=5))
    assert (strict.kiosks, strict.readers_per_kiosk) >= (easy.kiosks, easy.readers_per_kiosk)


def test_the_bill_of_materials_has_a_lock_and_a_door_switch_for_every_slot() -> None:
    plan = plan_school(SCHOOL)
    parts = {part: qty for qty, part, _ in bill_of_materials(plan)}
    slots = plan.kiosks * plan.slots_per_kiosk
    assert parts["12 V fail-secure cabinet solenoid lock with key override"] == slots
    assert parts["reed switch (normally open) + magnet"] == slots
    assert parts["ACS ACR122U contactless reader"] == plan.kiosks * plan.readers_per_kiosk


def test_lockers_plan_prints_the_table_and_the_bill_of_materials() -> None:
    out = CliRunner().invoke(main, ["plan", "--pupils", "700", "--window-min", "15",
                                    "--p95-target-s", "20", "--home-window-min", "8"])
    assert out.exit_code == 0, out.output
    assert "kiosks" in out.output and "48-channel lock boards per kiosk" in out.output
    assert "Bill of materials" in out.output and "12 V" in out.output


def test_a_target_no_layout_can_meet_is_refused_saying_what_to_change() -> None:
    out = CliRunner().invoke(main, ["plan", "--pupils", "2000", "--window-min", "1",
                                    "--p95-target-s", "0.1", "--home-window-min", "1",
                                    "--most-kiosks", "10"])
    assert out.exit_code != 0
    assert "widen the arrival or home-time window" in out.output
