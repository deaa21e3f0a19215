"""A bank of slots: the relays, door switches and presence sensors of one pin map."""

from __future__ import annotations

import time

from firmware_py.errors import FirmwareError
from firmware_py.interfaces import DoorChanged, EventQueue, LockBank
from firmware_py.lines import InputLine
from firmware_py.relays import RelayBank


class SlotBank(LockBank):
    """Relays plus reed switches (closed = door shut) plus optional presence sensors
    (closed = something inside)."""

    def __init__(self, relays: RelayBank, doors: dict[int, InputLine],
                 presence: dict[int, InputLine]) -> None:
        missing = set(doors) ^ set(relays.slots)
        if missing:
            raise FirmwareError(f"slots {sorted(missing)} lack a relay or a door switch")
        self.relays, self._doors, self._presence = relays, doors, presence
        self._events: EventQueue | None = None

    @property
    def slots(self) -> list[int]:
        """Slot numbers in order."""
        return sorted(self._doors)

    def start(self, events: EventQueue) -> None:
        """Report door changes and relay watchdog trips onto ``events``."""
        self._events = events
        self.relays.attach(events)
        for slot, line in self._doors.items():
            line.on_change(lambda closed, s=slot: events.put(
                DoorChanged(s, open=not closed, monotonic=time.monotonic())))

    def pulse(self, slot: int) -> None:
        """Release ``slot``'s lock for one pulse (queued within the coil limit)."""
        self.relays.pulse(slot)

    def door_open(self, slot: int) -> bool:
        """Whether the door of ``slot`` is open (reed switch open, or its wire cut)."""
        return not self._doors[slot].closed

    def has_presence_sensor(self, slot: int) -> bool:
        """Whether ``slot`` can tell if something is inside."""
        return slot in self._presence

    def occupied(self, slot: int) -> bool | None:
        """Something inside ``slot``? None without a presence sensor."""
        line = self._presence.get(slot)
        return None if line is None else line.closed

    def door_line(self, slot: int) -> InputLine:
        """The reed switch input of ``slot`` (the sim world drives it)."""
        return self._doors[slot]

    def presence_line(self, slot: int) -> InputLine | None:
        """The presence sensor input of ``slot``, if it has one."""
        return self._presence.get(slot)

    def all_off(self) -> None:
        """Every relay off now."""
        self.relays.all_off()

    def close(self) -> None:
        """Relays off and freed, inputs freed."""
        self.relays.close()
        for line in (*self._doors.values(), *self._presence.values()):
            line.close()
