"""Pin maps: which pin drives which slot's relay and reads which door, as a TOML file.

A pin is either a Raspberry Pi GPIO by its BCM number (``"GPIO17"``) or a pin of an I2C GPIO
expander declared in the same file (``"mcp0:A3"``: expander ``mcp0``, port A, bit 3). The map is
validated against the Pi's 40-pin header when it is loaded, so a wiring mistake is found on the
bench, not at 08:30 on a Monday.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from firmware_py.errors import PinMapError

# BCM GPIOs on the 40-pin header of every Pi since the B+.
HEADER_GPIOS = frozenset(range(2, 28))
I2C_GPIOS = frozenset({2, 3})  # SDA1/SCL1: taken as soon as an expander is declared
EXPANDER_CHIPS = {"mcp23017": 16}

_GPIO = re.compile(r"^GPIO(\d{1,2})$")
_EXP = re.compile(r"^([a-z][a-z0-9_]*):([AB])([0-7])$")


@dataclass(frozen=True)
class Pin:
    """One pin: a header GPIO (``expander`` None) or an expander's port bit."""

    text: str
    gpio: int | None = None
    expander: str | None = None
    port: Literal["A", "B"] | None = None
    bit: int | None = None

    @property
    def on_expander(self) -> bool:
        """Whether this pin sits on an I2C expander."""
        return self.expander is not None


@dataclass(frozen=True)
class Expander:
    """An I2C GPIO expander."""

    name: str
    chip: str
    address: int
    bus: int = 1
    poll_ms: int = 10  # inputs are polled; 10 ms is far below a door's movement


@dataclass(frozen=True)
class SlotPins:
    """The pins of one slot."""

    number: int
    relay: Pin
    door: Pin
    board: str
    presence: Pin | None = None


@dataclass(frozen=True)
class PinMap:
    """A validated pin map."""

    name: str
    path: Path
    relay_boards: dict[str, bool]  # board name -> active_low
    expanders: dict[str, Expander]
    slots: tuple[SlotPins, ...]
    led_ok: Pin | None = None
    led_refused: Pin | None = None
    buzzer: Pin | None = None
    fire_alarm: Pin | None = None
    fire_alarm_active_when: Literal["closed", "open"] = "closed"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def slot(self, number: int) -> SlotPins:
        """The pins of slot ``number``."""
        for s in self.slots:
            if s.number == number:
                return s
        raise PinMapError(f"{self.path}: there is no slot {number}")


def parse_pin(text: str, where: str) -> Pin:
    """Parse ``"GPIO17"`` or ``"mcp0:A3"``; raise :class:`PinMapError` naming ``where``."""
    if not isinstance(text, str):
        raise PinMapError(f"{where}: pin must be a string like \"GPIO17\" or \"mcp0:A3\"")
    if m := _GPIO.match(text):
        gpio = int(m.group(1))
        if gpio not in HEADER_GPIOS:
            raise PinMapError(f"{where}: GPIO{gpio} is not on the Pi's 40-pin header "
                              "(usable: GPIO2 to GPIO27)")
        return Pin(text, gpio=gpio)
    if m := _EXP.match(text):
        return Pin(text, expander=m.group(1), port=m.group(2), bit=int(m.group(3)))  # type: ignore[arg-type]
    raise PinMapError(f"{where}: {text!r} is not a pin: write \"GPIO17\" or \"mcp0:A3\"")


def load_pinmap(path: Path | str) -> PinMap:
    """Load and validate a pin map file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PinMapError(f"pin map {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise PinMapError(f"{path}: not valid TOML: {exc}") from None
    return _validate(path, data)


def _validate(path: Path, data: dict[str, Any]) -> PinMap:
    """Check a parsed pin map file section by section, in the order a fitter reads it."""
    expanders = _expanders(path, data)
    boards = _relay_boards(path, data)
    pins = _PinClaims(path, expanders)
    optional = _feedback_and_alarm_pins(path, data, pins)
    fire_when = _fire_alarm_active_when(path, data)
    slots = _slots(path, data, boards, pins)
    return PinMap(
        name=str(data.get("name", path.stem)), path=path, relay_boards=boards,
        expanders=expanders, slots=tuple(sorted(slots, key=lambda s: s.number)),
        led_ok=optional["led_ok"], led_refused=optional["led_refused"],
        buzzer=optional["buzzer"], fire_alarm=optional["fire_alarm"],
        fire_alarm_active_when=fire_when, description=str(data.get("description", "")),
    )


class _PinClaims:
    """The pins already given a job in one map, so no pin is wired to two things."""

    def __init__(self, path: Path, expanders: dict[str, Expander]) -> None:
        self.path = path
        self.expanders = expanders
        self.used: dict[str, str] = {}  # pin text -> what uses it

    def claim(self, pin: Pin, what: str) -> Pin:
        """Give ``pin`` to ``what``, or raise if its expander is missing or it is taken."""
        path = self.path
        if pin.on_expander:
            if pin.expander not in self.expanders:
                raise PinMapError(f"{path}: {what} uses expander {pin.expander!r}, which is not "
                                  f"declared under [expanders]")
        elif pin.gpio in I2C_GPIOS and self.expanders:
            raise PinMapError(f"{path}: {what} uses {pin.text}, which the I2C bus of the "
                              "expanders needs (GPIO2/GPIO3)")
        key = pin.text
        if key in self.used:
            raise PinMapError(f"{path}: {pin.text} is used twice: by {self.used[key]} and by "
                              f"{what}")
        self.used[key] = what
        return pin

    def parse_and_claim(self, text: str, what: str) -> Pin:
        """Parse ``text`` as the pin of ``what`` and claim it."""
        return self.claim(parse_pin(text, what), what)


def _expanders(path: Path, data: dict[str, Any]) -> dict[str, Expander]:
    """The [expanders] section: supported chips at distinct addresses on their bus."""
    expanders: dict[str, Expander] = {}
    for name, spec in (data.get("expanders") or {}).items():
        chip = str(spec.get("chip", "mcp23017")).lower()
        if chip not in EXPANDER_CHIPS:
            raise PinMapError(f"{path}: expander {name}: chip {chip!r} is not supported "
                              f"(supported: {', '.join(EXPANDER_CHIPS)})")
        address = int(spec.get("address", -1))
        if not 0x20 <= address <= 0x27:
            raise PinMapError(f"{path}: expander {name}: MCP23017 address must be 0x20-0x27")
        if any(e.address == address and e.bus == int(spec.get("bus", 1))
               for e in expanders.values()):
            raise PinMapError(f"{path}: expander {name}: address {address:#x} is used twice")
        expanders[name] = Expander(name, chip, address, int(spec.get("bus", 1)),
                                   int(spec.get("poll_ms", 10)))
    return expanders


def _relay_boards(path: Path, data: dict[str, Any]) -> dict[str, bool]:
    """The [relay_boards] section: board name -> active_low; at least one board."""
    boards = {str(k): bool(v.get("active_low", True))
              for k, v in (data.get("relay_boards") or {}).items()}
    if not boards:
        raise PinMapError(f"{path}: declare at least one relay board under [relay_boards] "
                          "with its polarity (active_low = true for the common boards)")
    return boards


def _feedback_and_alarm_pins(path: Path, data: dict[str, Any],
                             pins: _PinClaims) -> dict[str, Pin | None]:
    """The LEDs, buzzer and fire-alarm input; the LEDs and buzzer on header GPIOs."""
    optional: dict[str, Pin | None] = {}
    for key in ("led_ok", "led_refused", "buzzer", "fire_alarm"):
        text = (data.get("feedback") or {}).get(key) if key != "fire_alarm" else \
            (data.get("fire_alarm") or {}).get("pin")
        pin = pins.parse_and_claim(text, key) if text else None
        optional[key] = pin
        if pin is not None and pin.on_expander and key != "fire_alarm":
            raise PinMapError(f"{path}: {key} must be a header GPIO (it blinks and beeps)")
    return optional


def _fire_alarm_active_when(path: Path, data: dict[str, Any]) -> Literal["closed", "open"]:
    """Whether the fire-alarm contact signals by closing (the default) or by opening."""
    fire_when = (data.get("fire_alarm") or {}).get("active_when", "closed")
    if fire_when not in ("closed", "open"):
        raise PinMapError(f"{path}: fire_alarm.active_when must be \"closed\" or \"open\"")
    return fire_when


def _slots(path: Path, data: dict[str, Any], boards: dict[str, bool],
           pins: _PinClaims) -> list[SlotPins]:
    """The [[slots]]: at least one, each number once, in the order they are declared."""
    raw_slots = data.get("slots") or []
    if not raw_slots:
        raise PinMapError(f"{path}: no [[slots]]: a bank needs at least one slot")
    slots: list[SlotPins] = []
    numbers: set[int] = set()
    for i, spec in enumerate(raw_slots):
        number = _slot_number(path, i, spec, numbers)
        numbers.add(number)
        slots.append(_slot(path, number, spec, boards, pins))
    return slots


def _slot_number(path: Path, i: int, spec: dict[str, Any], numbers: set[int]) -> int:
    """Slot entry ``i``'s number: from 1 to 999 and not declared before."""
    number = spec.get("number")
    if not isinstance(number, int) or not 1 <= number <= 999:
        raise PinMapError(f"{path}: slot entry {i + 1} needs a number from 1 to 999")
    if number in numbers:
        raise PinMapError(f"{path}: slot {number} is declared twice")
    return number


def _slot(path: Path, number: int, spec: dict[str, Any], boards: dict[str, bool],
          pins: _PinClaims) -> SlotPins:
    """One slot's relay, door and optional presence pins on a declared relay board."""
    for needed in ("relay", "door"):
        if not spec.get(needed):
            raise PinMapError(f"{path}: slot {number} has no {needed} pin")
    board = str(spec.get("board", next(iter(boards))))
    if board not in boards:
        raise PinMapError(f"{path}: slot {number} names relay board {board!r}, which is "
                          "not declared under [relay_boards]")
    relay = pins.parse_and_claim(spec["relay"], f"slot {number} relay")
    door = pins.parse_and_claim(spec["door"], f"slot {number} door")
    presence = None
    if spec.get("presence"):
        presence = pins.parse_and_claim(spec["presence"], f"slot {number} presence")
    return SlotPins(number, relay, door, board, presence)
