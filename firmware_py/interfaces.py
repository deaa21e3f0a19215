"""The small interfaces the kiosk's brain sees of the hardware.

Hardware threads (card readers, door switches, the fire-alarm input) never touch shared state:
they put :data:`HardwareEvent` objects on one ``queue.Queue`` that the controller's single
dispatcher loop drains (the makerspace-auth pattern). Outputs (relays, LEDs, buzzer) are
called from that loop only.

Every implementation has a sim twin chosen by configuration: gpiozero's ``MockFactory`` for
pins and vsmartcard's virtual reader for cards, so tests and the demo run the same code as a
Pi.
"""

from __future__ import annotations

import queue
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

from firmware_py.errors import FirmwareError  # noqa: F401  (re-exported for callers)


@dataclass(frozen=True)
class CardTapped:
    """A card was presented to a reader (reported once per presentation)."""

    reader: str  # the reader's role from config, e.g. "arrival" or "departure"
    uid: str  # upper-case hex, e.g. "04A1B2C3D4E5F6"
    monotonic: float  # when the reader service saw it (time.monotonic())


@dataclass(frozen=True)
class ReaderFault:
    """A reader went missing or failed (``cleared`` when it is back)."""

    reader: str
    detail: str
    cleared: bool = False


@dataclass(frozen=True)
class DoorChanged:
    """A slot's door switch changed."""

    slot: int
    open: bool
    monotonic: float = 0.0


@dataclass(frozen=True)
class FireAlarmChanged:
    """The building's fire-alarm input changed."""

    active: bool


@dataclass(frozen=True)
class RelayWatchdogTripped:
    """A relay stayed energised past its hard limit and was forced off."""

    slot: int
    on_seconds: float


@dataclass(frozen=True)
class BoardFault:
    """A lock-control board on the RS-485 bus stopped answering (``cleared`` when it answers
    again).

    Only ``slots`` (the board's slots) are affected: their locks cannot be released and their
    doors are not seen until it is cleared; every other board's slots work as before. When a
    board answers again the driver first turns all its relays off, then reports ``cleared``
    and a :class:`DoorChanged` for every door that moved while it was silent.
    """

    board: str  # the board's name in the board map, e.g. "b3"
    slots: tuple[int, ...]
    detail: str  # what the bus said, e.g. "no response from address 3"
    cleared: bool = False


HardwareEvent = (CardTapped | ReaderFault | DoorChanged | FireAlarmChanged | RelayWatchdogTripped
                 | BoardFault)
EventQueue = queue.Queue  # of HardwareEvent


class CardReaders(ABC):
    """All card readers of a kiosk, each known by its role name."""

    @abstractmethod
    def start(self, events: EventQueue) -> None:
        """Start watching every reader; taps and faults go onto ``events``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop watching (idempotent)."""

    @abstractmethod
    def healthy(self) -> dict[str, bool]:
        """Reader role -> whether it is present and working now."""


class LockBank(ABC):
    """The relays, door switches and presence sensors of one bank of slots.

    Hazard: a relay energises a solenoid. Implementations turn every relay off at start-up and
    at exit whatever happens, never energise more than the power supply's coil limit at once,
    and force a relay off after a hard maximum on-time.
    """

    @property
    @abstractmethod
    def slots(self) -> list[int]:
        """The slot numbers of this bank, in order."""

    @abstractmethod
    def start(self, events: EventQueue) -> None:
        """Begin reporting door changes (and relay watchdog trips) onto ``events``."""

    @abstractmethod
    def pulse(self, slot: int) -> None:
        """Release the lock of ``slot`` for one pulse. Never blocks: when the coil limit is
        reached the pulse waits in a first-in, first-out queue."""

    @abstractmethod
    def door_open(self, slot: int) -> bool:
        """Whether the door switch of ``slot`` reads open now."""

    @abstractmethod
    def has_presence_sensor(self, slot: int) -> bool:
        """Whether ``slot`` has a sensor that tells if something is inside."""

    @abstractmethod
    def occupied(self, slot: int) -> bool | None:
        """Whether something is inside ``slot``; None when it has no presence sensor."""

    @abstractmethod
    def all_off(self) -> None:
        """De-energise every relay now and drop queued pulses."""

    @abstractmethod
    def close(self) -> None:
        """All relays off, release the pins (idempotent)."""


class Feedback(ABC):
    """LEDs and buzzer at the kiosk. Sim twins record what they were asked to show."""

    @abstractmethod
    def signal(self, kind: Literal["ok", "refused", "attention", "idle"]) -> None:
        """Show a short signal (e.g. green LED and a beep for ok)."""

    @abstractmethod
    def close(self) -> None:
        """Everything off, pins released."""


class FireAlarmInput(ABC):
    """The building's fire-alarm relay contact, isolated (see hardware/wiring.md)."""

    @abstractmethod
    def start(self, events: EventQueue) -> None:
        """Report changes onto ``events``."""

    @abstractmethod
    def active(self) -> bool:
        """Whether the alarm is sounding now."""

    @abstractmethod
    def close(self) -> None:
        """Release the pin."""


@dataclass
class Hardware:
    """Everything a kiosk's controller drives, built from a pin map and a reader config."""

    readers: CardReaders
    bank: LockBank
    feedback: Feedback
    fire_alarm: FireAlarmInput | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def close(self) -> None:
        """Stop readers and release every output, relays first."""
        self.bank.close()
        self.readers.stop()
        self.feedback.close()
        if self.fire_alarm is not None:
            self.fire_alarm.close()
