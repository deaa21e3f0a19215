"""The controller's public API: the :class:`KioskPort` and what flows through it.

The kiosk screen, the simulator and the benchmarks use nothing else of the controller. A
subscriber is called back from the dispatcher thread with immutable :class:`TapResult`,
:class:`StaffResult` and :class:`KioskView` objects; it must hand them to its own thread and
return at once: the controller never waits for the UI. Staff actions are requested with the
``staff_*`` methods, which return at once too. The wire enums a screen needs are re-exported
here, so nothing outside the controller imports the wire contract to show a kiosk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Protocol

from firmware_py.interfaces import HardwareEvent
from lockers.wire.messages import AlarmKind, DeviceWhere, KioskMode, SlotState, TapOutcome

__all__ = ["AlarmKind", "DeviceWhere", "KioskMode", "KioskPort", "KioskView", "SlotState",
           "SlotSummary", "StaffResult", "TapOutcome", "TapResult"]


@dataclass(frozen=True)
class TapResult:
    """What the kiosk decided for a tap, in the words a screen needs."""

    outcome: TapOutcome
    at: datetime
    reader: str
    first_name: str | None = None
    slot: int | None = None
    opens_at: time | None = None
    flags: tuple[str, ...] = ()
    decided_monotonic: float = 0.0  # when the decision was taken (for latency figures)
    read_monotonic: float = 0.0  # when the reader service saw the card
    # Where the pupil's devices are when not here, or held: "at North entrance, locker 12".
    elsewhere: tuple[DeviceWhere, ...] = ()


@dataclass(frozen=True)
class StaffResult:
    """The outcome of a staff request."""

    action: str
    ok: bool
    message: str
    slot: int | None = None


@dataclass(frozen=True)
class SlotSummary:
    """One slot as the screen shows it."""

    number: int
    state: SlotState
    door_open: bool
    pupil_ref: str | None = None
    custody_id: str | None = None


@dataclass(frozen=True)
class KioskView:
    """The whole kiosk at a glance."""

    site: str
    kiosk: str
    online: bool
    mode: str
    slots: tuple[SlotSummary, ...]
    open_for_deposit: tuple[int, ...]
    open_for_release: tuple[int, ...]
    alarms: tuple[tuple[AlarmKind, int | None], ...]
    readers_ok: bool
    staff_mode: str | None = None  # the staff_ref signed in at the kiosk, if any
    staff_pending: bool = False  # a staff card was tapped: ask for the PIN
    enrol_waiting: str | None = None  # pupil_ref waiting for a new card to be tapped
    fire_alarm: bool = False
    outbox_pending: int = 0
    policy_version: int = 0
    awaiting_picture: bool = False  # records lost: waiting for the server's custody picture
    notes: tuple[str, ...] = field(default_factory=tuple)
    messages_refused: int = 0  # payloads from the server that failed validation
    events_stored: int = 0  # events this kiosk's store has recorded (its sequence so far)


class KioskPort(Protocol):
    """What the screen, the simulator and the benchmarks may do with a kiosk controller."""

    def start(self) -> None:
        """Recover, start the hardware, the link and the dispatcher."""

    def stop(self) -> None:
        """Stop cleanly (relays off, goodbye status)."""

    def halt(self) -> None:
        """Stop as a crash or power cut would (no goodbye, no clean-shutdown mark)."""

    def subscribe(self, callback: Callable[[object], None]) -> None:
        """Be told every TapResult, StaffResult and KioskView."""

    def deliver(self, event: HardwareEvent) -> None:
        """Hand over a hardware event (a card read) as a hardware thread would."""

    def view(self) -> KioskView:
        """The kiosk at a glance, read on the dispatcher thread."""

    def tick_now(self) -> None:
        """Run the timers now (after moving a fake clock)."""

    def staff_login(self, pin: str) -> None:
        """The PIN for the staff card just tapped."""

    def staff_enrol(self, pupil_ref: str) -> None:
        """Enrol the next unknown card to this pupil."""

    def staff_open_slot(self, slot: int, reason: str) -> None:
        """Open a slot for a stated reason."""

    def staff_hand_in(self, pupil_ref: str, confiscated: bool = False) -> None:
        """Open a free locker for a device staff hand in for a named pupil."""

    def staff_clear_fault(self, slot: int) -> None:
        """Clear a slot's fault after fixing it."""

    def staff_logout(self) -> None:
        """Leave staff mode."""
