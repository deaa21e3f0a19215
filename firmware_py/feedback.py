"""LEDs, buzzer and the fire-alarm input."""

from __future__ import annotations

from typing import Any, Literal

from gpiozero import LED, Buzzer

from firmware_py.interfaces import EventQueue, Feedback, FireAlarmChanged, FireAlarmInput
from firmware_py.lines import InputLine
from firmware_py.pinmap import Pin

Signal = Literal["ok", "refused", "attention", "idle"]


class GpioFeedback(Feedback):
    """A green LED, a red LED and an active buzzer on header GPIOs (any may be absent)."""

    def __init__(self, ok: Pin | None, refused: Pin | None, buzzer: Pin | None,
                 pin_factory: Any = None) -> None:
        self._ok = LED(ok.gpio, pin_factory=pin_factory) if ok else None
        self._refused = LED(refused.gpio, pin_factory=pin_factory) if refused else None
        self._buzzer = Buzzer(buzzer.gpio, pin_factory=pin_factory) if buzzer else None
        self.last: Signal = "idle"

    def signal(self, kind: Signal) -> None:
        """Blink and beep in the background (never blocks the dispatcher)."""
        self.last = kind
        for led in (self._ok, self._refused):
            if led is not None:
                led.off()
        if kind == "ok":
            self._blink(self._ok, 1.5, 1)
            self._beep(0.08, 1)
        elif kind == "refused":
            self._blink(self._refused, 0.3, 3)
            self._beep(0.15, 2)
        elif kind == "attention":
            self._blink(self._refused, 0.5, 6)
            self._beep(0.3, 3)

    @staticmethod
    def _blink(led: LED | None, on_s: float, n: int) -> None:
        if led is not None:
            led.blink(on_time=on_s, off_time=0.2, n=n, background=True)

    def _beep(self, on_s: float, n: int) -> None:
        if self._buzzer is not None:
            self._buzzer.beep(on_time=on_s, off_time=0.1, n=n, background=True)

    def close(self) -> None:
        """All off."""
        for dev in (self._ok, self._refused, self._buzzer):
            if dev is not None:
                dev.close()


class ContactFireAlarm(FireAlarmInput):
    """The fire panel's volt-free contact, through an opto-isolator, on a pulled-up input."""

    def __init__(self, line: InputLine, active_when: Literal["closed", "open"] = "closed") -> None:
        self._line, self._active_when = line, active_when

    @property
    def line(self) -> InputLine:
        """The input the contact is wired to (the simulator drives it as the panel would)."""
        return self._line

    @property
    def active_when(self) -> Literal["closed", "open"]:
        """Whether the contact closes or opens when the alarm sounds."""
        return self._active_when

    def active(self) -> bool:
        """Whether the alarm sounds now."""
        return self._line.closed == (self._active_when == "closed")

    def start(self, events: EventQueue) -> None:
        """Report changes onto ``events``."""
        self._line.on_change(
            lambda closed: events.put(FireAlarmChanged(closed == (self._active_when == "closed"))))

    def close(self) -> None:
        """Free the pin."""
        self._line.close()
