"""The kiosk controller: one dispatcher thread decides everything, in order.

Hardware threads, the MQTT link, the screen and a ticker all put items on one queue; the
dispatcher takes them one at a time and hands each to its handler (taps, doors, commands,
staff), which changes the :class:`~locker_controller.kiosk_state.KioskState`. A decision's
events and slot states are committed to the store before any relay moves; then the events are
offered to the server, which acknowledges each once committed on its side.

This module owns the threads, the queue, the link and the timers, and implements the
:class:`~locker_controller.api.KioskPort` the screen, the simulator and the benchmarks use.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_py.interfaces import (
    BoardFault,
    CardTapped,
    DoorChanged,
    FireAlarmChanged,
    Hardware,
    HardwareEvent,
    ReaderFault,
    RelayWatchdogTripped,
)
from locker_controller import doors, recovery, staff_actions, taps
from locker_controller.api import KioskView, StaffResult
from locker_controller.commands import CommandDesk
from locker_controller.kiosk_state import KioskState
from locker_controller.link import Incoming, LinkDown, LinkUp, ServerLink
from locker_controller.slots import Trigger
from locker_controller.staff import StaffSession
from locker_controller.store import KioskStore
from locker_controller.uplink import Uplink
from lockers import __version__
from lockers.clock import Clock, SystemClock
from lockers.kiosk_config import KioskConfig
from lockers.wire import WireError, decode_topic
from lockers.wire import messages as m
from lockers.wire import topics as t

log = logging.getLogger("lockers.kiosk")

TICK_S = 0.1

LinkFactory = Callable[[KioskConfig, "queue.Queue[Any]"], ServerLink]


def server_link(config: KioskConfig, inbox: queue.Queue[Any]) -> ServerLink:
    """The production link: the kiosk's own broker account."""
    return ServerLink(config.broker, config.site, config.kiosk, inbox, __version__)


@dataclass
class _Call:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


@dataclass
class _CheckDoors:
    """Compare every door switch with what the kiosk believes (once, at start)."""


class Controller:
    """One kiosk. ``start()`` it, feed it taps through its hardware, ``stop()`` it.

    ``link_factory`` builds the connection to the server (the simulator passes one whose
    network it can cut); ``connect=False`` runs the kiosk with no network at all.
    """

    def __init__(self, config: KioskConfig, hardware: Hardware, clock: Clock | None = None,
                 connect: bool = True, ticker: bool = True,
                 link_factory: LinkFactory = server_link) -> None:
        self.config, self.hardware = config, hardware
        self.clock = clock or SystemClock()
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.store = KioskStore(config.state_dir / f"{config.kiosk}.sqlite3", config.synchronous)
        self.state = KioskState(config.site, config.kiosk, hardware.bank.slots, self.store,
                                self.clock, presence=hardware.bank.occupied,
                                synced_flag=config.clock_synced_flag,
                                clock_checks=config.clock_checks)
        self.desk = CommandDesk(self.state, self, config.command_ack_timeout_s,
                                config.door_open_timeout_s)
        self.staff = StaffSession()
        self.link = link_factory(config, self.inbox) if connect else None
        self.malformed = 0
        self._subscribers: list[Callable[[object], None]] = []
        self._ticker_on = ticker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.uplink = Uplink(self.state, self.link)
        self._handlers: dict[type, Callable[[Any], None]] = {
            CardTapped: self._on_tap, DoorChanged: self._on_door, Incoming: self._on_message,
            _Call: self._on_call, _CheckDoors: self._check_doors,
            LinkUp: lambda _: self._on_link_up(), LinkDown: self._on_link_down,
            ReaderFault: self._on_reader_fault,
            RelayWatchdogTripped: self._on_watchdog, BoardFault: self._on_board_fault,
            FireAlarmChanged: lambda item: self.desk.fire_alarm(item.active)}

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Recover from the last run, start hardware, link, dispatcher and ticker."""
        self.hardware.bank.all_off()  # whatever happened before, no relay is on now
        clean = self.store.get_meta("clean_shutdown", "1") == "1"
        self.store.set_meta("clean_shutdown", "0")
        recovered = recovery.recover(self.state, self.hardware.bank)
        with self.state.change() as change:
            change.emit(m.KioskRestartedEvent, clean_shutdown=clean, slots_recovered=recovered,
                        outbox_pending=self.store.pending_count())
        self.hardware.bank.start(self.inbox)
        # A door that moved between recovery's read and the bank's listeners starting was
        # heard by nobody: the dispatcher's first item compares every door once more.
        self.inbox.put(_CheckDoors())
        self.hardware.readers.start(self.inbox)
        if self.hardware.fire_alarm is not None:
            self.hardware.fire_alarm.start(self.inbox)
        self._thread = threading.Thread(target=self._dispatch, daemon=True, name="dispatcher")
        self._thread.start()
        if self._ticker_on:
            threading.Thread(target=self._tick_loop, daemon=True, name="ticker").start()
        if self.link is not None:
            self.link.start()
        log.info("event=kiosk_started site=%s kiosk=%s clean=%s slots=%s epoch=%s",
                 self.config.site, self.config.kiosk, clean, len(self.state.slots),
                 self.store.epoch)

    def stop(self) -> None:
        """Stop cleanly: relays off, a goodbye status, the clean-shutdown mark."""
        if not self._halt():
            return
        self.hardware.close()
        if self.link is not None:
            self.link.stop(self.uplink.status("offline", "shutdown"))
        self.store.set_meta("clean_shutdown", "1")
        self.store.close()

    def halt(self) -> None:
        """Stop deciding at once, as a process killed or a power cut would: no goodbye, no
        clean-shutdown mark, the connection dropped; relays off and the store closed."""
        if not self._halt():
            return
        if self.link is not None:
            self.link.drop()
        self.hardware.close()
        self.store.close()

    def _halt(self) -> bool:
        if self._stop.is_set():
            return False
        self._stop.set()
        self.inbox.put(None)
        if self._thread is not None:
            self._thread.join(5)
        return True

    # --- the port (any thread) -----------------------------------------------------------

    def subscribe(self, callback: Callable[[object], None]) -> None:
        """Receive every :class:`TapResult`, :class:`StaffResult` and :class:`KioskView`."""
        self._subscribers.append(callback)

    def deliver(self, event: HardwareEvent) -> None:
        """Hand over a hardware event as a hardware thread would (the simulator's taps)."""
        self.inbox.put(event)

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``fn`` on the dispatcher thread and return its result."""
        item = _Call(fn)
        self.inbox.put(item)
        if not item.done.wait(timeout):
            raise TimeoutError("the kiosk dispatcher did not answer")
        if item.error is not None:
            raise item.error
        return item.result

    def tick_now(self) -> None:
        """Run the timers now (tests with a fake clock call this after moving it)."""
        self.call(self._tick)

    def view(self) -> KioskView:
        """The kiosk at a glance."""
        return self.call(self._view)

    def staff_login(self, pin: str) -> None:
        """The PIN for the staff card just tapped."""
        self._staff(lambda: staff_actions.login(self.state, self.staff, pin))

    def staff_enrol(self, pupil_ref: str) -> None:
        """Enrol the next unknown card tapped to ``pupil_ref``."""
        self._staff(lambda: staff_actions.start_enrol(self.state, self.staff, pupil_ref))

    def staff_open_slot(self, slot: int, reason: str) -> None:
        """Open a slot for a stated reason."""
        self._staff(lambda: staff_actions.open_slot(self.state, self.desk, self.staff, slot,
                                                    reason))

    def staff_hand_in(self, pupil_ref: str, confiscated: bool = False) -> None:
        """Open a free locker for a device staff hand in for this pupil (a forgotten card, or
        a confiscated device, which is held at once)."""
        self._staff(lambda: staff_actions.hand_in(self.state, self, self.staff, pupil_ref,
                                                  confiscated))

    def staff_clear_fault(self, slot: int) -> None:
        """Clear a slot's fault and alarms after fixing it."""
        self._staff(lambda: staff_actions.clear_fault(self.state, self.staff, slot))

    def staff_logout(self) -> None:
        """Leave staff mode."""
        def logout() -> StaffResult:
            self.staff.staff_ref = self.staff.enrol_pupil = None
            return StaffResult("logout", True, "staff mode ended")

        self._staff(logout)

    def _staff(self, action: Callable[[], StaffResult]) -> None:
        def run() -> StaffResult:
            result = action()
            self.notify(result)
            self.notify(self._view())
            return result

        self.inbox.put(_Call(run))

    # --- KioskActions: what the handlers may ask of the machine ------------------------

    def pulse(self, slot: int) -> None:
        """Release one slot's lock."""
        self.hardware.bank.pulse(slot)

    def signal(self, kind: str) -> None:
        """LEDs and buzzer."""
        self.hardware.feedback.signal(kind)  # type: ignore[arg-type]

    def publish_ack(self, ack: m.CommandAck) -> None:
        """Send a command acknowledgement."""
        if self.link is not None:
            self.link.publish(t.COMMAND_ACKS, ack)

    def notify(self, update: object) -> None:
        """Tell every subscriber; a broken screen must not stop the kiosk."""
        for callback in list(self._subscribers):
            try:
                callback(update)
            except Exception:
                log.exception("event=subscriber_error")

    def resync(self) -> None:
        """Status, slots and outbox again; the retained policy asked for again."""
        if self.link is not None:
            self.link.request_policy()
            self._on_link_up()

    # --- the dispatcher ---------------------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None or self._stop.is_set():
                return
            try:
                self._handle(item)
            except Exception:  # one bad item must never stop the kiosk
                log.exception("event=dispatch_error item=%s", type(item).__name__)
            self._flush()

    def _handle(self, item: Any) -> None:
        if item == "tick":
            self._tick()
            return
        handler = self._handlers.get(type(item))
        if handler is None:
            log.error("event=unknown_item item=%s", type(item).__name__)
            return
        handler(item)

    def _on_tap(self, tap: CardTapped) -> None:
        result = taps.on_tap(self.state, self, self.staff, self.config.card_key, tap)
        if result is not None:
            self.notify(result)
        self.notify(self._view())

    def _on_door(self, change: DoorChanged) -> None:
        if doors.on_door(self.state, change, self.hardware.bank.occupied(change.slot)):
            if change.open:
                self.desk.door_changed(change.slot)
            self.notify(self._view())

    def _check_doors(self, _: _CheckDoors) -> None:
        bank = self.hardware.bank
        for number in sorted(self.state.slots):
            now_open = bank.door_open(number)
            if now_open != self.state.slots[number].door_open:
                log.warning("event=door_moved_during_boot slot=%s open=%s", number, now_open)
                self._on_door(DoorChanged(number, open=now_open, monotonic=time.monotonic()))

    @staticmethod
    def _on_call(call: _Call) -> None:
        try:
            call.result = call.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            call.error = exc
        call.done.set()

    def _on_link_down(self, down: LinkDown) -> None:
        log.warning("event=link_down reason=%s", down.reason)
        self.notify(self._view())

    def _on_reader_fault(self, fault: ReaderFault) -> None:
        self.state.readers_ok[fault.reader] = fault.cleared
        with self.state.change() as change:
            change.alarm(m.AlarmKind.READER_FAULT, None, not fault.cleared, fault.detail,
                         reader=fault.reader)

    def _on_board_fault(self, fault: BoardFault) -> None:
        """A lock board stopped answering (or answers again): its slots alone are out of
        use meanwhile; nothing about what is inside them changes."""
        if fault.cleared:
            self.state.unreachable.difference_update(fault.slots)
        else:
            self.state.unreachable.update(fault.slots)
        slots = ", ".join(map(str, fault.slots))
        with self.state.change() as change:
            change.alarm(m.AlarmKind.BOARD_FAULT, None, not fault.cleared,
                         f"{fault.detail}; lockers {slots}", board=fault.board)

    def _on_watchdog(self, trip: RelayWatchdogTripped) -> None:
        with self.state.change() as change:
            change.alarm(m.AlarmKind.RELAY_WATCHDOG, trip.slot, True,
                         f"relay on for {trip.on_seconds:.1f} s")
            change.move(change.slot(trip.slot), Trigger.FAULT)

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            self.inbox.put("tick")

    def _tick(self) -> None:
        self.state.trust.tick()
        doors.tick(self.state, self.config.door_open_timeout_s)
        self.desk.tick()
        self.uplink.tick()

    def _flush(self) -> None:
        if self.state.view_dirty:  # an alarm came or went, or the mode changed
            self.state.view_dirty = False
            self.notify(self._view())
        if self.state.new_events:
            self.state.new_events = False
            self.uplink.send_pending()

    # --- the wire ---------------------------------------------------------------------

    def _on_link_up(self) -> None:
        log.info("event=link_up outbox_pending=%s", self.store.pending_count())
        self.uplink.link_up()
        self.notify(self._view())

    def _on_message(self, msg: Incoming) -> None:
        state = self.state
        try:
            parsed, message = decode_topic(msg.topic, msg.payload)
            if (parsed.site, parsed.kiosk) != (state.site, state.kiosk):
                raise WireError(f"message for {parsed.site}/{parsed.kiosk} reached "
                                f"{state.kiosk}")
        except WireError as exc:
            self.malformed += 1
            log.warning("event=bad_message topic=%s error=%s count=%s", msg.topic, exc,
                        self.malformed)
            return
        if isinstance(message, m.EventAck):
            self._on_ack(message)
        elif isinstance(message, m.PolicySnapshot):
            if state.replica.apply_snapshot(message):
                self._after_policy()
        elif isinstance(message, m.PolicyUpdate):
            if state.replica.apply_update(message):
                self._after_policy()
        elif isinstance(message, m.Command):
            self.desk.handle(message)

    def _on_ack(self, ack: m.EventAck) -> None:
        """The server committed events (forget them, offer what now fits the window), or asks
        for the unacknowledged ones again (a server process started listening, or one was
        lost)."""
        if ack.epoch in (None, self.store.epoch) and ack.seqs:
            self.uplink.acknowledged(ack.seqs)
            self.store.acknowledge(ack.seqs)
            self.uplink.send_pending()
        if ack.resend:
            self.uplink.resend_now()
        self.state.trust.server_time(ack.at)  # sent the moment the server committed

    def _after_policy(self) -> None:
        state = self.state
        log.info("event=policy_applied version=%s cards=%s", state.replica.version,
                 len(state.replica.cards))
        restoring = state.awaiting_picture
        with state.change() as change:
            if restoring:  # our records were lost: the server's picture puts them back
                restored = state.restore_from_picture(change)
                log.warning("event=custody_picture_restored slots=%s", restored)
            for current in state.slots.values():
                held = state.slot_held(current)
                if current.state is m.SlotState.OCCUPIED and held:
                    change.move(change.slot(current.number), Trigger.HOLD)
                elif current.state is m.SlotState.HELD and not held:
                    change.move(change.slot(current.number), Trigger.UNHOLD)
        if restoring:
            state.awaiting_picture = False
        self.uplink.publish_status()
        self.notify(self._view())

    def _view(self) -> KioskView:
        mono = self.clock.monotonic()
        return self.state.view(
            online=bool(self.link is not None and self.link.connected),
            staff_mode=self.staff.active(mono), staff_pending=self.staff.pending(mono) is not None,
            enrol_waiting=self.staff.enrol_pupil, messages_refused=self.malformed)
