"""Pin maps: every shipped map loads; wiring mistakes are refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_py.errors import PinMapError
from firmware_py.pinmap import load_pinmap

PINMAPS = Path(__file__).resolve().parents[1] / "hardware" / "pinmaps"
SIM8 = PINMAPS / "sim8.toml"


@pytest.mark.parametrize("path", sorted(PINMAPS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_pin_map_loads(path: Path) -> None:
    pinmap = load_pinmap(path)
    assert pinmap.slots
    numbers = [s.number for s in pinmap.slots]
    assert numbers == list(range(1, len(numbers) + 1))


def test_the_48_slot_bank_uses_six_expanders_and_no_i2c_pins_for_anything_else() -> None:
    pinmap = load_pinmap(PINMAPS / "bank48.toml")
    assert len(pinmap.slots) == 48
    assert sorted(e.address for e in pinmap.expanders.values()) == list(range(0x20, 0x26))
    gpios = [p.gpio for p in (pinmap.led_ok, pinmap.led_refused, pinmap.buzzer,
                              pinmap.fire_alarm) if p is not None]
    assert not {2, 3} & set(gpios)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.toml"
    path.write_text(text)
    return path


def test_a_pin_used_twice_is_refused_naming_both_uses(tmp_path: Path) -> None:
    path = _write(tmp_path, SIM8.read_text().replace('door = "GPIO13"', 'door = "GPIO12"'))
    with pytest.raises(PinMapError,
                       match="GPIO12 is used twice: by slot 1 door and by slot 2 door"):
        load_pinmap(path)


def test_a_slot_without_a_door_pin_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, SIM8.read_text().replace('door = "GPIO21"\n', ""))
    with pytest.raises(PinMapError, match="slot 8 has no door pin"):
        load_pinmap(path)


@pytest.mark.parametrize("bad, message", [
    ('relay = "GPIO4"', 'relay = "GPIO40"', ),
])
def test_a_pin_that_is_not_on_the_header_is_refused(tmp_path: Path, bad: str,
                                                     message: str) -> None:
    path = _write(tmp_path, SIM8.read_text().replace(bad, message))
    with pytest.raises(PinMapError, match="GPIO40 is not on the Pi's 40-pin header"):
        load_pinmap(path)


def test_an_expander_pin_on_an_undeclared_expander_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, SIM8.read_text().replace('door = "GPIO12"', 'door = "mcp9:A0"'))
    with pytest.raises(PinMapError, match="expander 'mcp9', which is not declared"):
        load_pinmap(path)


def test_i2c_pins_cannot_be_used_when_expanders_are_declared(tmp_path: Path) -> None:
    text = (PINMAPS / "bank16.toml").read_text().replace('led_ok = "GPIO22"', 'led_ok = "GPIO2"')
    with pytest.raises(PinMapError, match="GPIO2, which the I2C bus"):
        load_pinmap(_write(tmp_path, text))


def test_a_missing_or_broken_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(PinMapError, match="does not exist"):
        load_pinmap(tmp_path / "nope.toml")
    with pytest.raises(PinMapError, match="not valid TOML"):
        load_pinmap(_write(tmp_path, "slots = [[["))
