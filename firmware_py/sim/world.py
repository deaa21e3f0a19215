"""The physical world around a sim kiosk: pupils opening and closing doors, phones put in,
the fire alarm. Drives gpiozero's mock pins and the sim I2C expanders."""

from __future__ import annotations

import time

from firmware_py.bank import SlotBank
from firmware_py.errors import FirmwareError
from firmware_py.feedback import ContactFireAlarm
from firmware_py.interfaces import Hardware
from firmware_py.lines import ExpanderInput, GpioInput, InputLine, SimI2cBus


class SimWorld:
    """Plays the world for one sim kiosk. Every door starts shut and every slot empty."""

    def __init__(self, hardware: Hardware) -> None:
        if not isinstance(hardware.bank, SlotBank):
            raise FirmwareError("SimWorld needs a bank built by firmware_py.board")
        self.hardware = hardware
        self.bank: SlotBank = hardware.bank
        chips = {}
        for slot in self.bank.slots:
            lines = [(self.bank.door_line(slot), True), (self.bank.presence_line(slot), False)]
            for line, closed in lines:
                if line is not None:
                    self._drive(line, closed=closed)
                    if isinstance(line, ExpanderInput):
                        chips[id(line.chip)] = line.chip
        # The expanders read their inputs when built (a sim bus starts with every contact
        # open); read them again so the kiosk's boot sees the doors shut, not a read from
        # before the world was set up.
        for chip in chips.values():
            chip.poll_now()

    def open_door(self, slot: int) -> None:
        """A pupil pulls the door open (reed switch opens)."""
        self._drive(self.bank.door_line(slot), closed=False)

    def close_door(self, slot: int) -> None:
        """A pupil pushes the door shut."""
        self._drive(self.bank.door_line(slot), closed=True)

    def put_item(self, slot: int) -> None:
        """Something is put in the slot (presence sensor sees it)."""
        line = self.bank.presence_line(slot)
        if line is not None:
            self._drive(line, closed=True)

    def take_item(self, slot: int) -> None:
        """The slot is emptied."""
        line = self.bank.presence_line(slot)
        if line is not None:
            self._drive(line, closed=False)

    def relay_energised(self, slot: int) -> bool:
        """Whether the slot's lock is being released now."""
        return self.bank.relays.is_on(slot)

    def wait_relay_energised(self, slot: int, timeout: float = 2.0) -> float:
        """Wait until the slot's relay is on; return ``time.monotonic()`` when seen."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if self.bank.relays.is_on(slot):
                return now
            if now > deadline:
                raise TimeoutError(f"relay of slot {slot} was not energised within {timeout} s")
            time.sleep(0.0002)

    def fire_alarm(self, active: bool) -> None:
        """The building's fire alarm starts or stops."""
        alarm = self.hardware.fire_alarm
        if not isinstance(alarm, ContactFireAlarm):
            raise FirmwareError("this pin map has no fire-alarm input")
        self._drive(alarm.line, closed=active == (alarm.active_when == "closed"))

    def _drive(self, line: InputLine, closed: bool) -> None:
        if isinstance(line, GpioInput):
            pin = line.device.pin
            if closed:
                pin.drive_low()
            else:
                pin.drive_high()
        elif isinstance(line, ExpanderInput):
            bus = self.hardware.extras.get("i2c")
            if not isinstance(bus, SimI2cBus):
                raise FirmwareError("expander pins can only be played on a sim I2C bus")
            bus.drive(line.chip.spec.address, line.port, line.bit, 0 if closed else 1)
        else:
            raise FirmwareError(f"cannot play a {type(line).__name__}")
