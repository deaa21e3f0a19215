"""Build a kiosk's hardware from configuration: real pins on a Pi, mock pins in sim mode."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from firmware_py.bank import SlotBank
from firmware_py.board_bank import BoardBank
from firmware_py.boardmap import load_boardmap
from firmware_py.errors import FirmwareError
from firmware_py.feedback import ContactFireAlarm, GpioFeedback
from firmware_py.interfaces import CardReaders, Hardware
from firmware_py.lines import (
    GpioInput,
    GpioOutput,
    I2cBus,
    InputLine,
    Mcp23017,
    OutputLine,
    SimI2cBus,
)
from firmware_py.modbus_bus import ModbusBus
from firmware_py.nfc import PcscCardReaders, ReaderSpec
from firmware_py.pinmap import Pin, PinMap, load_pinmap
from firmware_py.relays import RelayBank


@dataclass
class BoardConfig:
    """What the kiosk's config file says about its hardware."""

    pinmap: Path | None
    readers: list[ReaderSpec] = field(
        default_factory=lambda: [ReaderSpec("arrival", "ACR122U")])
    pulse_s: float = 0.5
    max_coils: int = 4
    relay_max_on_s: float = 3.0
    tap_hold_off_s: float = 3.0
    door_bounce_s: float | None = 0.05
    # Lock-control boards on RS-485: with a board map the slots are on the boards (the pin
    # map is then not used); ``serial_port`` overrides the board map's port.
    boardmap: Path | None = None
    serial_port: str | None = None
    serial_baudrate: int | None = None


def build_hardware(config: BoardConfig, pin_factory: Any = None, i2c: I2cBus | None = None,
                   sim: bool = False) -> Hardware:
    """Build the hardware of one kiosk.

    ``pin_factory`` None takes gpiozero's default (``GPIOZERO_PIN_FACTORY``). With ``sim``
    True, pins are gpiozero's ``MockFactory`` (unless one is given) and expanders live in a
    :class:`SimI2cBus`; card readers are always PC/SC (in sim mode, vpcd's virtual readers).
    """
    if config.boardmap is not None:
        return _build_on_boards(config, pin_factory, sim)
    if config.pinmap is None:
        raise FirmwareError("the kiosk config names neither a pin map nor a board map")
    pinmap = load_pinmap(config.pinmap)
    if sim:
        if pin_factory is None:
            from gpiozero.pins.mock import MockFactory

            pin_factory = MockFactory()
        i2c = i2c or SimI2cBus()
    chips = _expanders(pinmap, i2c)

    def output(pin: Pin, active_low: bool) -> OutputLine:
        if pin.on_expander:
            return chips[pin.expander].make_output(pin, active_low)  # type: ignore[index]
        return GpioOutput(pin, active_low, pin_factory)

    def input_(pin: Pin) -> InputLine:
        if pin.on_expander:
            return chips[pin.expander].make_input(pin)  # type: ignore[index]
        return GpioInput(pin, pin_factory, None if sim else config.door_bounce_s)

    relays = {s.number: output(s.relay, pinmap.relay_boards[s.board]) for s in pinmap.slots}
    bank = SlotBank(
        RelayBank(relays, pulse_s=config.pulse_s, max_coils=config.max_coils,
                  max_on_s=config.relay_max_on_s),
        {s.number: input_(s.door) for s in pinmap.slots},
        {s.number: input_(s.presence) for s in pinmap.slots if s.presence is not None},
    )
    fire = (ContactFireAlarm(input_(pinmap.fire_alarm), pinmap.fire_alarm_active_when)
            if pinmap.fire_alarm else None)
    return Hardware(
        readers=_readers(config, sim),
        bank=bank,
        feedback=GpioFeedback(pinmap.led_ok, pinmap.led_refused, pinmap.buzzer, pin_factory),
        fire_alarm=fire,
        extras={"pinmap": pinmap, "pin_factory": pin_factory, "i2c": i2c, "expanders": chips},
    )


def _readers(config: BoardConfig, sim: bool) -> CardReaders:
    if not config.readers and sim:
        from firmware_py.sim.readers import NoReaders

        return NoReaders()  # the simulator hands taps over itself
    return PcscCardReaders(config.readers, hold_off_s=config.tap_hold_off_s)


def _build_on_boards(config: BoardConfig, pin_factory: Any, sim: bool) -> Hardware:
    """A kiosk whose locks are on lock-control boards. In sim mode the boards are
    :class:`~firmware_py.sim.boards.SimBoards` behind a socat serial pair."""
    boardmap = load_boardmap(config.boardmap)  # type: ignore[arg-type]
    if config.serial_baudrate is not None:
        boardmap = replace(boardmap, bus=replace(boardmap.bus, baudrate=config.serial_baudrate))
    extras: dict[str, object] = {"boardmap": boardmap}
    closers: list = []
    port = config.serial_port or boardmap.bus.port
    if sim:
        from gpiozero.pins.mock import MockFactory

        from firmware_py.sim.boards import SerialPair, SimBoards

        pin_factory = pin_factory or MockFactory()
        pair = SerialPair()
        try:
            boards = SimBoards(boardmap, pair.boards_end, spring_doors=True)
        except BaseException:
            pair.close()
            raise
        closers = [boards.close, pair.close]
        extras.update(sim_boards=boards, serial_pair=pair)
        port = pair.kiosk_end
    try:
        bank = BoardBank(boardmap, ModbusBus(port, boardmap.bus), pulse_s=config.pulse_s,
                         max_coils=config.max_coils, max_on_s=config.relay_max_on_s,
                         on_close=closers)
    except BaseException:
        for close in closers:
            close()
        raise
    extras["pin_factory"] = pin_factory
    fire = None
    if boardmap.fire_alarm is not None:
        fire = ContactFireAlarm(
            GpioInput(boardmap.fire_alarm, pin_factory, None if sim else config.door_bounce_s),
            boardmap.fire_alarm_active_when)
    return Hardware(
        readers=_readers(config, sim), bank=bank,
        feedback=GpioFeedback(boardmap.led_ok, boardmap.led_refused, boardmap.buzzer,
                              pin_factory),
        fire_alarm=fire, extras=extras,
    )


def _expanders(pinmap: PinMap, i2c: I2cBus | None) -> dict[str, Mcp23017]:
    if not pinmap.expanders:
        return {}
    if i2c is None:
        try:
            from smbus2 import SMBus
        except ImportError:
            raise FirmwareError("this pin map uses I2C expanders: install smbus2") from None
        buses = {e.bus for e in pinmap.expanders.values()}
        if len(buses) != 1:
            raise FirmwareError("expanders on more than one I2C bus are not supported")
        try:
            i2c = SMBus(buses.pop())
        except OSError as exc:
            raise FirmwareError(f"cannot open the I2C bus ({exc}): enable I2C with "
                                "`raspi-config nonint do_i2c 0` and reboot") from None
    return {name: Mcp23017(spec, i2c) for name, spec in pinmap.expanders.items()}
