"""Digital lines: one output or input, on a header GPIO (gpiozero) or an MCP23017 expander.

gpiozero has no driver for I2C expanders, so expander pins are driven here through a small
register-level driver over an :class:`I2cBus` (``smbus2.SMBus`` on a Pi, :class:`SimI2cBus` in
sim mode). Inputs are contacts to ground with pull-ups: ``closed`` means the pin reads low.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from gpiozero import DigitalInputDevice, OutputDevice

from firmware_py.errors import FirmwareError
from firmware_py.pinmap import Expander, Pin

log = logging.getLogger(__name__)

# MCP23017 registers (IOCON.BANK = 0).
IODIRA, IODIRB, GPPUA, GPPUB, GPIOA, GPIOB, OLATA, OLATB = 0x00, 0x01, 0x0C, 0x0D, 0x12, 0x13, \
    0x14, 0x15


class OutputLine(ABC):
    """A digital output that drives one relay (or LED)."""

    @abstractmethod
    def set(self, on: bool) -> None:
        """Energise (True) or release (False)."""

    @property
    @abstractmethod
    def is_on(self) -> bool:
        """Whether the output is energised now."""

    @abstractmethod
    def close(self) -> None:
        """Release (off) and free the pin."""


class InputLine(ABC):
    """A contact to ground with a pull-up (a reed switch, a presence sensor, an alarm)."""

    pin: Pin

    @property
    @abstractmethod
    def closed(self) -> bool:
        """Whether the contact is closed (pin pulled low) now."""

    @abstractmethod
    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(closed)`` from a driver thread whenever the contact changes."""

    @abstractmethod
    def close(self) -> None:
        """Free the pin."""


class GpioOutput(OutputLine):
    """An output on a header GPIO. Starts off, whatever the board's polarity."""

    def __init__(self, pin: Pin, active_low: bool, pin_factory: Any = None) -> None:
        self.pin = pin
        # initial_value=False: the relay is off from the first instant the pin is driven.
        self._dev = OutputDevice(pin.gpio, active_high=not active_low, initial_value=False,
                                 pin_factory=pin_factory)

    def set(self, on: bool) -> None:
        """Energise or release."""
        if on:
            self._dev.on()
        else:
            self._dev.off()

    @property
    def is_on(self) -> bool:
        """Whether energised."""
        return bool(self._dev.value)

    def close(self) -> None:
        """Off, then free the pin."""
        if not self._dev.closed:
            self._dev.off()
            self._dev.close()


class GpioInput(InputLine):
    """A pulled-up input on a header GPIO."""

    def __init__(self, pin: Pin, pin_factory: Any = None, bounce_s: float | None = None) -> None:
        self.pin = pin
        # DigitalInputDevice, not Button: Button's hold thread costs ~0.2 s at every close.
        self._dev = DigitalInputDevice(pin.gpio, pull_up=True, bounce_time=bounce_s,
                                       pin_factory=pin_factory)

    @property
    def closed(self) -> bool:
        """Contact closed = pin low = active (pulled up, so active-low)."""
        return bool(self._dev.is_active)

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Report every change."""
        self._dev.when_activated = lambda: callback(True)
        self._dev.when_deactivated = lambda: callback(False)

    @property
    def device(self) -> DigitalInputDevice:
        """The gpiozero device (the sim world drives its pin)."""
        return self._dev

    def close(self) -> None:
        """Free the pin."""
        self._dev.close()


class I2cBus(Protocol):
    """The two calls of ``smbus2.SMBus`` the expander driver needs."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        """Read one register of the chip at ``i2c_addr``."""
        ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        """Write one register of the chip at ``i2c_addr``."""
        ...


class Mcp23017:
    """A 16-bit I2C GPIO expander: outputs latched, inputs polled with pull-ups.

    Hazard: at power-on every pin is an input, so the relay boards' own pull-ups hold them off.
    The latch is written to "off" *before* a pin becomes an output, so no relay clicks on.
    """

    def __init__(self, spec: Expander, bus: I2cBus) -> None:
        self.spec, self.bus = spec, bus
        self._lock = threading.Lock()
        self._olat = [0xFF, 0xFF]  # driven levels, A and B
        self._iodir = [0xFF, 0xFF]  # 1 = input
        self._inputs: dict[tuple[int, int], list[Callable[[bool], None]]] = {}
        self._levels = [0xFF, 0xFF]
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        try:
            for reg, value in ((OLATA, 0xFF), (OLATB, 0xFF), (IODIRA, 0xFF), (IODIRB, 0xFF)):
                bus.write_byte_data(spec.address, reg, value)
        except OSError as exc:
            raise FirmwareError(
                f"expander {spec.name} at I2C address {spec.address:#x} on bus {spec.bus} does "
                f"not answer ({exc}): check its wiring and `i2cdetect -y {spec.bus}`"
            ) from None

    def make_output(self, pin: Pin, active_low: bool) -> ExpanderOutput:
        """Turn ``pin`` into an output that starts off."""
        port, bit = _port_bit(pin)
        with self._lock:
            off_level = 1 if active_low else 0
            self._olat[port] = _with_bit(self._olat[port], bit, off_level)
            self.bus.write_byte_data(self.spec.address, OLATA + port, self._olat[port])
            self._iodir[port] = _with_bit(self._iodir[port], bit, 0)
            self.bus.write_byte_data(self.spec.address, IODIRA + port, self._iodir[port])
        return ExpanderOutput(self, pin, port, bit, active_low)

    def make_input(self, pin: Pin) -> ExpanderInput:
        """Turn ``pin`` into a pulled-up input, polled for changes."""
        port, bit = _port_bit(pin)
        with self._lock:
            gppu = self.bus.read_byte_data(self.spec.address, GPPUA + port)
            self.bus.write_byte_data(self.spec.address, GPPUA + port, _with_bit(gppu, bit, 1))
            self._inputs.setdefault((port, bit), [])
            self._levels[port] = self.bus.read_byte_data(self.spec.address, GPIOA + port)
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, daemon=True,
                                            name=f"mcp23017-{self.spec.name}")
            self._poller.start()
        return ExpanderInput(self, pin, port, bit)

    def write(self, port: int, bit: int, level: int) -> None:
        """Drive one output bit (read-modify-write of the latch)."""
        with self._lock:
            self._olat[port] = _with_bit(self._olat[port], bit, level)
            self.bus.write_byte_data(self.spec.address, OLATA + port, self._olat[port])

    def latched(self, port: int, bit: int) -> int:
        """The level an output bit is driven to."""
        return (self._olat[port] >> bit) & 1

    def level(self, port: int, bit: int) -> int:
        """The last polled level of an input bit."""
        return (self._levels[port] >> bit) & 1

    def listen(self, port: int, bit: int, callback: Callable[[bool], None]) -> None:
        """Call ``callback(closed)`` on changes of an input bit."""
        with self._lock:
            self._inputs.setdefault((port, bit), []).append(callback)

    def _poll(self) -> None:
        while not self._stop.wait(self.spec.poll_ms / 1000):
            try:
                self.poll_now()
            except OSError as exc:  # a loose I2C wire: keep polling, say so once a second
                log.warning("event=expander_read_failed expander=%s error=%s", self.spec.name, exc)
                self._stop.wait(1)

    def poll_now(self) -> None:
        """Read the inputs now and report what changed since the last read (the poller's
        step; also for a caller that must not act on a read up to ``poll_ms`` old)."""
        with self._lock:
            new = [self.bus.read_byte_data(self.spec.address, GPIOA + p) for p in (0, 1)]
            old, self._levels = self._levels, new
            changed = [(key, cbs) for key, cbs in self._inputs.items()
                       if ((old[key[0]] ^ new[key[0]]) >> key[1]) & 1]
        for (port, bit), callbacks in changed:
            closed = not (new[port] >> bit) & 1
            for cb in callbacks:
                cb(closed)

    def close(self) -> None:
        """Stop polling; every output back to off, then to input."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(1)
        with self._lock:
            for port in (0, 1):
                self.bus.write_byte_data(self.spec.address, IODIRA + port, 0xFF)


class ExpanderOutput(OutputLine):
    """An output bit of an MCP23017."""

    def __init__(self, chip: Mcp23017, pin: Pin, port: int, bit: int, active_low: bool) -> None:
        self.chip, self.pin, self.port, self.bit, self.active_low = chip, pin, port, bit, active_low

    def set(self, on: bool) -> None:
        """Energise or release."""
        self.chip.write(self.port, self.bit, int(on != self.active_low))

    @property
    def is_on(self) -> bool:
        """Whether energised."""
        return bool(self.chip.latched(self.port, self.bit)) != self.active_low

    def close(self) -> None:
        """Off."""
        self.set(False)


class ExpanderInput(InputLine):
    """An input bit of an MCP23017 (pulled up; closed contact reads low)."""

    def __init__(self, chip: Mcp23017, pin: Pin, port: int, bit: int) -> None:
        self.chip, self.pin, self.port, self.bit = chip, pin, port, bit

    @property
    def closed(self) -> bool:
        """Contact closed = low."""
        return self.chip.level(self.port, self.bit) == 0

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Report every change (polled)."""
        self.chip.listen(self.port, self.bit, callback)

    def close(self) -> None:
        """Nothing to free per bit."""


class SimI2cBus:
    """MCP23017s in memory, for sim mode: tests set the level of input pins."""

    def __init__(self) -> None:
        self._regs: dict[int, dict[int, int]] = {}
        self._external: dict[int, list[int]] = {}  # what the world drives on each port
        self._lock = threading.Lock()

    def _chip(self, addr: int) -> dict[int, int]:
        if addr not in self._regs:
            self._regs[addr] = {IODIRA: 0xFF, IODIRB: 0xFF, GPPUA: 0, GPPUB: 0, OLATA: 0,
                                OLATB: 0}
            self._external[addr] = [0xFF, 0xFF]
        return self._regs[addr]

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        """Read a register; GPIOx reads outputs from the latch, inputs from the world."""
        with self._lock:
            regs = self._chip(i2c_addr)
            if register in (GPIOA, GPIOB):
                port = register - GPIOA
                iodir = regs[IODIRA + port]
                return (regs[OLATA + port] & ~iodir | self._external[i2c_addr][port] & iodir) \
                    & 0xFF
            return regs.get(register, 0)

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        """Write a register."""
        with self._lock:
            self._chip(i2c_addr)[register] = value & 0xFF

    def drive(self, i2c_addr: int, port: int, bit: int, level: int) -> None:
        """The world sets an input pin's level (0 = contact closed)."""
        with self._lock:
            self._chip(i2c_addr)
            self._external[i2c_addr][port] = _with_bit(self._external[i2c_addr][port], bit,
                                                       level)


def _port_bit(pin: Pin) -> tuple[int, int]:
    assert pin.port is not None and pin.bit is not None
    return (0 if pin.port == "A" else 1), pin.bit


def _with_bit(value: int, bit: int, level: int) -> int:
    return (value | (1 << bit)) if level else (value & ~(1 << bit))
