"""Board maps: which lock-control board channel releases which slot, as a TOML file.

A kiosk with hundreds of slots drives its locks through Modbus RTU lock-control boards
daisy-chained on one RS-485 bus. Each board has an address (its Modbus device id, set on its
DIP switches) and a number of channels; channel ``n`` drives the lock on coil ``n - 1`` and
reads the door switch on discrete input ``n - 1``. The map is validated when it is loaded, so
two boards set to the same address or a slot wired to a channel the board does not have is
found on the bench, not at 08:30 on a Monday.

Slots are listed one by one (``[[slots]]``: number, board, channel) or, for a full board, as a
run (``[[runs]]``: board, first_slot, first_channel, count).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from firmware_py.errors import BoardMapError, PinMapError
from firmware_py.pinmap import Pin, parse_pin

MODBUS_ADDRESSES = range(1, 248)  # 0 is broadcast, 248-255 are reserved
MAX_CHANNELS = 64
BAUD_RATES = (9600, 19200, 38400, 57600, 115200)


@dataclass(frozen=True)
class Board:
    """One lock-control board on the bus."""

    name: str
    address: int
    channels: int
    # What a door input reads when the door is shut: most boards read a closed reed contact
    # as "on" (True).
    door_closed_when: Literal["on", "off"] = "on"
    model: str = ""


@dataclass(frozen=True)
class SlotChannel:
    """The board channel of one slot (channels count from 1, as printed on the board)."""

    number: int
    board: str
    channel: int

    @property
    def coil(self) -> int:
        """The Modbus coil (and discrete input) address of the channel."""
        return self.channel - 1


@dataclass(frozen=True)
class BusSettings:
    """The serial line of the RS-485 bus (the kiosk's config may override the port)."""

    port: str = "/dev/ttyUSB0"
    baudrate: int = 115200
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
    timeout_s: float = 0.1  # a board that has not answered by then is silent
    poll_ms: int = 50  # doors are read this often; far below a door's movement
    retry_s: float = 1.0  # a silent board is asked again this often


@dataclass(frozen=True)
class BoardMap:
    """A validated board map."""

    name: str
    path: Path
    bus: BusSettings
    boards: dict[str, Board]
    slots: tuple[SlotChannel, ...]
    led_ok: Pin | None = None
    led_refused: Pin | None = None
    buzzer: Pin | None = None
    fire_alarm: Pin | None = None  # the fire panel's contact, on a header GPIO
    fire_alarm_active_when: Literal["closed", "open"] = "closed"
    description: str = ""

    def slots_of(self, board: str) -> tuple[int, ...]:
        """The slot numbers wired to ``board``, in order."""
        return tuple(s.number for s in self.slots if s.board == board)


def load_boardmap(path: Path | str) -> BoardMap:
    """Load and validate a board map file; raise :class:`BoardMapError` saying what to fix."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoardMapError(f"board map {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardMapError(f"{path}: not valid TOML: {exc}") from None
    return _validate(path, data)


def _bus(path: Path, spec: dict[str, Any]) -> BusSettings:
    bus = BusSettings(**{k: v for k, v in spec.items() if k in BusSettings.__dataclass_fields__})
    unknown = set(spec) - set(BusSettings.__dataclass_fields__)
    if unknown:
        raise BoardMapError(f"{path}: [bus] has unknown keys {sorted(unknown)}")
    if bus.baudrate not in BAUD_RATES:
        raise BoardMapError(f"{path}: bus baudrate {bus.baudrate} is not one lock boards use "
                            f"({', '.join(map(str, BAUD_RATES))})")
    if bus.parity not in ("N", "E", "O"):
        raise BoardMapError(f"{path}: bus parity must be \"N\", \"E\" or \"O\"")
    if not 0.01 <= bus.timeout_s <= 2:
        raise BoardMapError(f"{path}: bus timeout_s must be 0.01 to 2 seconds")
    return bus


def _boards(path: Path, raw: dict[str, Any]) -> dict[str, Board]:
    if not raw:
        raise BoardMapError(f"{path}: declare at least one board under [boards.NAME] with its "
                            "address and channels")
    boards: dict[str, Board] = {}
    by_address: dict[int, str] = {}
    for name, spec in raw.items():
        address, channels = spec.get("address"), spec.get("channels")
        if not isinstance(address, int) or address not in MODBUS_ADDRESSES:
            raise BoardMapError(f"{path}: board {name}: address must be 1 to 247 (the Modbus "
                                f"device id set on the board), not {address!r}")
        if address in by_address:
            raise BoardMapError(f"{path}: boards {by_address[address]} and {name} both use "
                                f"address {address}: give each board on a bus its own address")
        if not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
            raise BoardMapError(f"{path}: board {name}: channels must be 1 to {MAX_CHANNELS}")
        closed_when = spec.get("door_closed_when", "on")
        if closed_when not in ("on", "off"):
            raise BoardMapError(f"{path}: board {name}: door_closed_when must be \"on\" or "
                                "\"off\"")
        by_address[address] = name
        boards[str(name)] = Board(str(name), address, channels, closed_when,
                                  str(spec.get("model", "")))
    return boards


def _slot_entries(path: Path, data: dict[str, Any]) -> list[tuple[int, str, int, str]]:
    """(number, board, channel, where) for every slot, runs expanded."""
    entries: list[tuple[int, str, int, str]] = []
    for i, spec in enumerate(data.get("slots") or []):
        number, board, channel = spec.get("number"), spec.get("board"), spec.get("channel")
        if not isinstance(number, int) or not isinstance(channel, int) or not board:
            raise BoardMapError(f"{path}: slot entry {i + 1} needs a number, a board and a "
                                "channel")
        entries.append((number, str(board), channel, f"slot {number}"))
    for i, spec in enumerate(data.get("runs") or []):
        board, first, ch, count = (spec.get("board"), spec.get("first_slot"),
                                   spec.get("first_channel", 1), spec.get("count"))
        if not board or not all(isinstance(v, int) for v in (first, ch, count)) or count < 1:
            raise BoardMapError(f"{path}: run {i + 1} needs a board, first_slot, "
                                "first_channel and a count of at least 1")
        entries += [(first + k, str(board), ch + k, f"slot {first + k} (run {i + 1})")
                    for k in range(count)]
    if not entries:
        raise BoardMapError(f"{path}: no [[slots]] or [[runs]]: a bank needs at least one slot")
    return entries


def _slot_channels(path: Path, data: dict[str, Any], boards: dict[str, Board]
                   ) -> list[SlotChannel]:
    """Every slot's board and channel, each slot and each channel used once."""
    slots: list[SlotChannel] = []
    numbers: set[int] = set()
    wired: dict[tuple[str, int], int] = {}
    for number, board, channel, where in _slot_entries(path, data):
        if not 1 <= number <= 999:  # as pin maps, and as the wire's slot numbers allow
            raise BoardMapError(f"{path}: {where}: slot numbers run from 1 to 999")
        if number in numbers:
            raise BoardMapError(f"{path}: slot {number} is declared twice")
        if board not in boards:
            raise BoardMapError(f"{path}: {where} names board {board!r}, which is not "
                                "declared under [boards]")
        size = boards[board].channels
        if not 1 <= channel <= size:
            raise BoardMapError(f"{path}: {where} uses channel {channel} of board {board}, "
                                f"which has channels 1 to {size}")
        if (board, channel) in wired:
            raise BoardMapError(f"{path}: channel {channel} of board {board} is wired to slot "
                                f"{wired[board, channel]} and to slot {number}")
        numbers.add(number)
        wired[board, channel] = number
        slots.append(SlotChannel(number, board, channel))
    return slots


def _feedback_pins(path: Path, data: dict[str, Any]) -> dict[str, Pin | None]:
    """The LEDs, the buzzer and the fire-alarm input: header GPIOs, each used once."""
    feedback: dict[str, Pin | None] = {}
    for key in ("led_ok", "led_refused", "buzzer", "fire_alarm"):
        text = (data.get("fire_alarm") or {}).get("pin") if key == "fire_alarm" else \
            (data.get("feedback") or {}).get(key)
        try:
            pin = parse_pin(text, key) if text else None
        except PinMapError as exc:
            raise BoardMapError(f"{path}: {exc}") from None
        if pin is not None and pin.on_expander:
            raise BoardMapError(f"{path}: {key} must be a header GPIO (expanders are for "
                                "pin maps)")
        if pin is not None and pin.text in {p.text for p in feedback.values() if p}:
            raise BoardMapError(f"{path}: {pin.text} is used twice")
        feedback[key] = pin
    return feedback


def _validate(path: Path, data: dict[str, Any]) -> BoardMap:
    bus = _bus(path, data.get("bus") or {})
    boards = _boards(path, data.get("boards") or {})
    slots = _slot_channels(path, data, boards)
    feedback = _feedback_pins(path, data)
    fire_when = (data.get("fire_alarm") or {}).get("active_when", "closed")
    if fire_when not in ("closed", "open"):
        raise BoardMapError(f"{path}: fire_alarm.active_when must be \"closed\" or \"open\"")
    return BoardMap(
        name=str(data.get("name", path.stem)), path=path, bus=bus, boards=boards,
        slots=tuple(sorted(slots, key=lambda s: s.number)), led_ok=feedback["led_ok"],
        led_refused=feedback["led_refused"], buzzer=feedback["buzzer"],
        fire_alarm=feedback["fire_alarm"], fire_alarm_active_when=fire_when,
        description=str(data.get("description", "")),
    )
