"""Relays, door switches, presence sensors and the fire alarm on mock pins and sim expanders."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_py.board import BoardConfig, build_hardware
from firmware_py.interfaces import DoorChanged, FireAlarmChanged, Hardware, RelayWatchdogTripped
from firmware_py.sim.world import SimWorld

PINMAPS = Path(__file__).resolve().parents[1] / "hardware" / "pinmaps"
E = TypeVar("E")
# What the sim8 fixture hands a test: the kiosk's hardware, the world it plays, the queue its
# events arrive on and the mock pins under it.
Sim8 = tuple[Hardware, SimWorld, queue.Queue, MockFactory]


def wait_for(predicate: Callable[[], object], timeout: float = 3.0) -> None:
    """Wait until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.001)


def next_of(events: queue.Queue, kind: type[E], timeout: float = 3.0) -> E:
    """The next event of ``kind`` on the queue (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        item = events.get(timeout=max(deadline - time.monotonic(), 0.001))
        if isinstance(item, kind):
            return item


@pytest.fixture
def sim8(mock_pins: MockFactory) -> Iterator[Sim8]:
    """The sim8 pin map's hardware on mock pins, started, closed after the test."""
    hw = build_hardware(BoardConfig(PINMAPS / "sim8.toml", pulse_s=0.2, max_coils=4,
                                    relay_max_on_s=1.0), pin_factory=mock_pins, sim=True)
    world = SimWorld(hw)
    events: queue.Queue = queue.Queue()
    hw.bank.start(events)
    yield hw, world, events, mock_pins
    hw.bank.close()
    hw.feedback.close()


def test_active_low_relays_are_off_at_start_and_pins_held_high(sim8: Sim8) -> None:
    hw, world, _, pins = sim8
    assert hw.bank.relays.energised == []
    assert pins.pin(4).state is True  # active-low board: high input = coil off


def test_a_pulse_energises_the_relay_for_the_pulse_length_then_releases(sim8: Sim8) -> None:
    hw, world, _, pins = sim8
    t0 = time.monotonic()
    hw.bank.pulse(3)
    assert world.relay_energised(3)
    assert pins.pin(6).state is False  # slot 3's relay pin pulled low = coil on
    wait_for(lambda: not world.relay_energised(3))
    assert time.monotonic() - t0 >= 0.19


def test_never_more_coils_than_the_limit_and_extra_opens_queue_in_order(sim8: Sim8) -> None:
    hw, world, _, _ = sim8
    for slot in (1, 2, 3, 4, 5, 6):
        hw.bank.pulse(slot)
    assert sorted(hw.bank.relays.energised) == [1, 2, 3, 4]
    assert hw.bank.relays.queued == [5, 6]
    seen: list[list[int]] = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and (hw.bank.relays.queued or hw.bank.relays.energised):
        on = sorted(hw.bank.relays.energised)
        assert len(on) <= 4
        if on and (not seen or seen[-1] != on):
            seen.append(on)
        time.sleep(0.001)
    assert [5, 6] in seen or any(set(s) >= {5, 6} for s in seen)


def test_relays_are_all_off_after_close_whatever_was_on(sim8: Sim8) -> None:
    hw, world, _, pins = sim8
    hw.bank.pulse(1)
    hw.bank.close()
    assert pins.pin(4).state is True


def test_the_watchdog_forces_a_stuck_relay_off_and_reports_it(sim8: Sim8) -> None:
    hw, world, events, _ = sim8
    hw.bank.relays._lines[2].set(True)  # a relay on that no pulse asked for  # noqa: SLF001
    tripped = next_of(events, RelayWatchdogTripped)
    assert tripped.slot == 2
    assert not world.relay_energised(2)


def test_door_switch_changes_arrive_on_the_queue(sim8: Sim8) -> None:
    hw, world, events, _ = sim8
    world.open_door(5)
    assert next_of(events, DoorChanged) == DoorChanged(5, True, pytest.approx(time.monotonic(),
                                                                                abs=2))
    assert hw.bank.door_open(5)
    world.close_door(5)
    changed = next_of(events, DoorChanged)
    assert (changed.slot, changed.open) == (5, False)


def test_presence_sensor_tells_an_empty_slot_from_a_full_one(sim8: Sim8) -> None:
    hw, world, _, _ = sim8
    assert hw.bank.has_presence_sensor(1) and not hw.bank.has_presence_sensor(8)
    assert hw.bank.occupied(1) is False
    world.put_item(1)
    assert hw.bank.occupied(1) is True
    assert hw.bank.occupied(8) is None


def test_fire_alarm_input_is_reported(sim8: Sim8) -> None:
    hw, world, events, _ = sim8
    assert hw.fire_alarm is not None
    hw.fire_alarm.start(events)
    world.fire_alarm(True)
    assert next_of(events, FireAlarmChanged).active is True
    assert hw.fire_alarm.active()


def test_a_60_slot_expander_bank_opens_and_reports_doors(mock_pins: MockFactory) -> None:
    hw: Hardware = build_hardware(BoardConfig(PINMAPS / "sim60.toml", pulse_s=0.1),
                                  pin_factory=mock_pins, sim=True)
    try:
        world = SimWorld(hw)
        events: queue.Queue = queue.Queue()
        hw.bank.start(events)
        hw.bank.pulse(60)
        assert world.relay_energised(60)
        bus = hw.extras["i2c"]
        assert bus.read_byte_data(0x23, 0x15) & 0x08 == 0  # mcp3 OLATB bit 3 low: coil on
        wait_for(lambda: not world.relay_energised(60))
        world.open_door(60)
        changed = next_of(events, DoorChanged)
        while not changed.open:  # the world shutting every door at start is reported too
            changed = next_of(events, DoorChanged)
        assert changed.slot == 60
    finally:
        hw.bank.close()
