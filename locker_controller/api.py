"""The controller's public API for the kiosk screen (kiosk_ui uses nothing else).

The screen subscribes with :meth:`Controller.subscribe`; the controller calls back, from its
dispatcher thread, with immutable :class:`TapResult` and :class:`KioskView` objects. The screen
must hand them to its own thread and return at once: the controller never waits for the UI.
Staff actions are requested with the ``staff_*`` methods, which return at once too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from lockers.wire.messages import AlarmKind, SlotState, TapOutcome


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
    notes: tuple[str, ...] = field(default_factory=tuple)
