"""The kiosk controller: one dispatcher thread decides everything, in order.

Hardware threads, the MQTT link, the screen and a ticker all put items on one queue; the
dispatcher takes them one at a time. A decision's events and slot states are committed to the
store before any relay moves, then the events are offered to the server, which acknowledges
each once committed on its side.
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
    CardTapped,
    DoorChanged,
    FireAlarmChanged,
    Hardware,
    ReaderFault,
    RelayWatchdogTripped,
)
from locker_controller import commands as command_handlers
from locker_controller.api import KioskView, SlotSummary, StaffResult, TapResult
from locker_controller.decisions import decide_tap
from locker_controller.link import Incoming, LinkDown, LinkUp, ServerLink
from locker_controller.replica import PolicyReplica
from locker_controller.slots import Slot, next_state
from locker_controller.staff import StaffSession
from locker_controller.store import KioskStore
from lockers import __version__
from lockers.cardhash import card_hash
from lockers.clock import Clock, SystemClock
from lockers.kiosk_config import KioskConfig
from lockers.wire import WireError, decode_topic
from lockers.wire import messages as m
from lockers.wire import topics as t

log = logging.getLogger("lockers.kiosk")

TICK_S = 0.1
RESEND_AFTER_S = 15.0
SNAPSHOT_EVERY_S = 0.25


@dataclass
class _Call:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Controller:
    """One kiosk. ``start()`` it, feed it taps through its hardware, ``stop()`` it."""

    def __init__(self, config: KioskConfig, hardware: Hardware, clock: Clock | None = None,
                 connect: bool = True, ticker: bool = True) -> None:
        self.config, self.hardware = config, hardware
        self.clock = clock or SystemClock()
        self.site, self.kiosk = config.site, config.kiosk
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.store = KioskStore(config.state_dir / f"{config.kiosk}.sqlite3", config.synchronous)
        self.replica = PolicyReplica(self.store, config.site, config.kiosk)
        self.slots: dict[int, Slot] = {n: Slot(n) for n in hardware.bank.slots}
        self.link = ServerLink(config.broker, config.site, config.kiosk, self.inbox,
                               __version__) if connect else None
        self.mode = "normal"
        self.staff = StaffSession()
        self.alarms: dict[tuple[m.AlarmKind, int | None, str | None], str] = {}
        self.fire_alarm = False
        self.expect_open: dict[int, float] = {}  # slots pulsed outside a pupil's tap
        self.pending_commands: dict[str, command_handlers.PendingCommand] = {}
        self.malformed = 0
        self._subscribers: list[Callable[[object], None]] = []
        self._ticker_on = ticker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent_upto = 0
        self._last_sent = 0.0
        self._snapshot_dirty = True
        self._last_snapshot = 0.0
        self._new_events = False  # stored events not yet offered to the server
        self._view_dirty = False
        self.readers_ok: dict[str, bool] = {}

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Recover from the last run, start hardware, link, dispatcher and ticker."""
        self.hardware.bank.all_off()  # whatever happened before, no relay is on now
        clean = self.store.get_meta("clean_shutdown", "1") == "1"
        self.store.set_meta("clean_shutdown", "0")
        recovered = self._recover()
        with self.store.transaction():
            self._emit(m.KioskRestartedEvent, clean_shutdown=clean, slots_recovered=recovered,
                       outbox_pending=self.store.pending_count())
        self.hardware.bank.start(self.inbox)
        self.hardware.readers.start(self.inbox)
        if self.hardware.fire_alarm is not None:
            self.hardware.fire_alarm.start(self.inbox)
        self._thread = threading.Thread(target=self._dispatch, daemon=True, name="dispatcher")
        self._thread.start()
        if self._ticker_on:
            threading.Thread(target=self._tick_loop, daemon=True, name="ticker").start()
        if self.link is not None:
            self.link.start()
        log.info("event=kiosk_started site=%s kiosk=%s clean=%s slots=%s", self.site,
                 self.kiosk, clean, len(self.slots))

    def stop(self) -> None:
        """Stop cleanly: relays off, a goodbye status, the clean-shutdown mark."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.inbox.put(None)
        if self._thread is not None:
            self._thread.join(5)
        self.hardware.close()
        if self.link is not None:
            self.link.stop(self._status("offline", "shutdown"))
        self.store.set_meta("clean_shutdown", "1")
        self.store.close()

    # --- public API (any thread) ----------------------------------------------------------

    def subscribe(self, callback: Callable[[object], None]) -> None:
        """Receive every :class:`TapResult`, :class:`StaffResult` and :class:`KioskView`."""
        self._subscribers.append(callback)

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
        self.inbox.put(_Call(lambda: self._staff_login(pin)))

    def staff_enrol(self, pupil_ref: str) -> None:
        """Enrol the next unknown card tapped to ``pupil_ref``."""
        self.inbox.put(_Call(lambda: self._staff_enrol(pupil_ref)))

    def staff_open_slot(self, slot: int, reason: str) -> None:
        """Open a slot for a stated reason."""
        self.inbox.put(_Call(lambda: self._staff_open(slot, reason)))

    def staff_clear_fault(self, slot: int) -> None:
        """Clear a slot's fault and alarms after fixing it."""
        self.inbox.put(_Call(lambda: self._staff_clear(slot)))

    def staff_logout(self) -> None:
        """Leave staff mode."""
        self.inbox.put(_Call(self._staff_logout))

    # --- the dispatcher ---------------------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None or self._stop.is_set():
                return
            try:
                self._handle(item)
            except Exception:  # noqa: BLE001 - one bad item must never stop the kiosk
                log.exception("event=dispatch_error item=%s", type(item).__name__)
            self._flush()

    def _handle(self, item: Any) -> None:
        if isinstance(item, CardTapped):
            self._on_tap(item)
        elif isinstance(item, DoorChanged):
            self._on_door(item)
        elif isinstance(item, Incoming):
            self._on_message(item)
        elif isinstance(item, _Call):
            try:
                item.result = item.fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                item.error = exc
            item.done.set()
        elif item == "tick":
            self._tick()
        elif isinstance(item, LinkUp):
            self._on_link_up()
        elif isinstance(item, LinkDown):
            log.warning("event=link_down reason=%s", item.reason)
            self._notify(self._view())
        elif isinstance(item, ReaderFault):
            self.readers_ok[item.reader] = item.cleared
            self._alarm(m.AlarmKind.READER_FAULT, None, not item.cleared, item.detail,
                        reader=item.reader)
            self._notify(self._view())
        elif isinstance(item, RelayWatchdogTripped):
            with self.store.transaction():
                self._alarm(m.AlarmKind.RELAY_WATCHDOG, item.slot, True,
                            f"relay on for {item.on_seconds:.1f} s")
                self._move(self.slots[item.slot], "fault")
        elif isinstance(item, FireAlarmChanged):
            command_handlers.fire_alarm(self, item.active)

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_S):
            self.inbox.put("tick")

    # --- taps -------------------------------------------------------------------------

    def _on_tap(self, tap: CardTapped) -> None:
        card = card_hash(self.config.card_key, tap.uid)
        now, mono = self.clock.now(), self.clock.monotonic()
        staff = self.staff.active(mono)
        if staff and self.staff.enrol_pupil and card not in self.replica.cards:
            command_handlers.enrol(self, card, staff)
            return
        decision = decide_tap(self.replica, self.slots, card, now, self.mode,
                              self.store.early_release_used)
        with self.store.transaction():
            self._emit(m.TapEvent, reader=tap.reader, card=card, pupil_ref=decision.pupil_ref,
                       outcome=decision.outcome, slot=decision.slot, flags=list(decision.flags))
            if decision.opens_door:
                slot = self.slots[decision.slot]  # type: ignore[index]
                slot.via = decision.via
                slot.command_id = None
                self._move(slot, decision.trigger, pupil_ref=decision.pupil_ref)  # type: ignore[arg-type]
                slot.opening_since = mono
                if decision.early_release_id:
                    self.store.use_early_release(decision.early_release_id)
        if decision.opens_door:
            self.hardware.bank.pulse(decision.slot)  # type: ignore[arg-type]
        if decision.outcome is m.TapOutcome.STAFF_CARD:
            self.staff.pending_card, self.staff.pending_until = card, mono + 30
        self.hardware.feedback.signal("ok" if decision.opens_door else "refused")
        self._notify(TapResult(decision.outcome, now, tap.reader, decision.first_name,
                               decision.slot, decision.opens_at, decision.flags,
                               time.monotonic()))
        self._notify(self._view())

    # --- doors ------------------------------------------------------------------------

    def _on_door(self, change: DoorChanged) -> None:
        slot = self.slots.get(change.slot)
        if slot is None or slot.door_open == change.open:
            return  # a bounce, or the world reporting a door already known shut
        mono = self.clock.monotonic()
        slot.door_open = change.open
        with self.store.transaction():
            if change.open:
                self._door_opened(slot, mono)
            else:
                self._door_closed(slot)
        command_handlers.door_changed(self, slot)
        self._notify(self._view())

    def _door_opened(self, slot: Slot, mono: float) -> None:
        S = m.SlotState
        expected = slot.state in (S.OPENING_FOR_DEPOSIT, S.OPENING_FOR_RELEASE) or \
            self.expect_open.pop(slot.number, None) is not None
        slot.opened_since, slot.opening_since = mono, None
        self._emit(m.DoorEvent, slot=slot.number, door="opened", expected=expected)
        if slot.state in (S.OPENING_FOR_DEPOSIT, S.OPENING_FOR_RELEASE):
            self._move(slot, "door_opened")
        if not expected:
            slot.forced_open_alarm = True
            self._alarm(m.AlarmKind.FORCED_OPEN, slot.number, True, "door opened without a tap")

    def _door_closed(self, slot: Slot) -> None:
        S = m.SlotState
        self._emit(m.DoorEvent, slot=slot.number, door="closed", expected=True)
        slot.opened_since = None
        if slot.state is S.OPEN_FOR_DEPOSIT:
            inside = self.hardware.bank.occupied(slot.number)
            if inside is False:  # a presence sensor saw nothing: not a hand-in
                self._alarm(m.AlarmKind.EMPTY_DEPOSIT, slot.number, True,
                            "door closed with nothing inside")
                self._move(slot, "empty_deposit", pupil_ref=None)
            else:
                self._emit(m.DepositEvent, slot=slot.number, pupil_ref=slot.pupil_ref,
                           empty=None if inside is None else not inside)
                self._move(slot, "door_closed", pupil_ref=slot.pupil_ref)
                if self._pupil_held(slot.pupil_ref):
                    self._move(slot, "hold", pupil_ref=slot.pupil_ref)
        elif slot.state is S.OPEN_FOR_RELEASE:
            self._emit(m.CollectionEvent, slot=slot.number, pupil_ref=slot.pupil_ref,
                       via=slot.via or "pupil", command_id=slot.command_id)
            slot.via = slot.command_id = None
            self._move(slot, "door_closed", pupil_ref=None)
        if slot.left_open_alarm:
            slot.left_open_alarm = False
            self._alarm(m.AlarmKind.DOOR_LEFT_OPEN, slot.number, False, "door closed")
        if slot.forced_open_alarm:
            slot.forced_open_alarm = False
            self._alarm(m.AlarmKind.FORCED_OPEN, slot.number, False, "door closed")

    # --- timers -----------------------------------------------------------------------

    def _tick(self) -> None:
        S = m.SlotState
        mono = self.clock.monotonic()
        limit = self.replica.settings.door_open_alarm_s
        for slot in self.slots.values():
            if slot.opening_since is not None and \
                    mono - slot.opening_since > self.config.door_open_timeout_s:
                slot.opening_since = None
                with self.store.transaction():
                    self._alarm(m.AlarmKind.DOOR_DID_NOT_OPEN, slot.number, True,
                                "relay pulsed but the door switch never opened")
                    if slot.state is S.OPENING_FOR_DEPOSIT:
                        self._move(slot, "door_not_opened", pupil_ref=None)
                    elif slot.state is S.OPENING_FOR_RELEASE:
                        held = self._pupil_held(slot.pupil_ref)
                        self._move(slot, "door_not_opened_held" if held
                                   else "door_not_opened_occupied", pupil_ref=slot.pupil_ref)
            if slot.door_open and slot.opened_since is not None and not slot.left_open_alarm \
                    and mono - slot.opened_since > limit:
                slot.left_open_alarm = True
                with self.store.transaction():
                    self._alarm(m.AlarmKind.DOOR_LEFT_OPEN, slot.number, True,
                                f"open for more than {limit} s")
        for number, until in list(self.expect_open.items()):
            if mono > until:
                self.expect_open.pop(number, None)
        command_handlers.tick(self, mono)
        self._send_pending(resend_stale=True)
        if self._snapshot_dirty and time.monotonic() - self._last_snapshot > SNAPSHOT_EVERY_S:
            self._publish_snapshot()

    # --- the wire ---------------------------------------------------------------------

    def _on_link_up(self) -> None:
        log.info("event=link_up outbox_pending=%s", self.store.pending_count())
        assert self.link is not None
        self.link.publish(t.STATUS, self._status("online", "birth"))
        self._publish_snapshot()
        self._sent_upto = 0  # offer everything not yet acknowledged again, in order
        self._send_pending()
        self._notify(self._view())

    def _on_message(self, msg: Incoming) -> None:
        try:
            parsed, message = decode_topic(msg.topic, msg.payload)
            if (parsed.site, parsed.kiosk) != (self.site, self.kiosk):
                raise WireError(f"message for {parsed.site}/{parsed.kiosk} reached {self.kiosk}")
        except WireError as exc:
            self.malformed += 1
            log.warning("event=bad_message topic=%s error=%s count=%s", msg.topic, exc,
                        self.malformed)
            return
        if isinstance(message, m.EventAck):
            self.store.acknowledge(message.seqs)
            self._last_sent = time.monotonic()
        elif isinstance(message, m.PolicySnapshot):
            if self.replica.apply_snapshot(message):
                self._after_policy()
        elif isinstance(message, m.PolicyUpdate):
            if self.replica.apply_update(message):
                self._after_policy()
        elif isinstance(message, m.Command):
            command_handlers.handle(self, message)

    def _after_policy(self) -> None:
        log.info("event=policy_applied version=%s cards=%s", self.replica.version,
                 len(self.replica.cards))
        with self.store.transaction():
            for slot in self.slots.values():
                held = self._pupil_held(slot.pupil_ref)
                if slot.state is m.SlotState.OCCUPIED and held:
                    self._move(slot, "hold", pupil_ref=slot.pupil_ref)
                elif slot.state is m.SlotState.HELD and not held:
                    self._move(slot, "unhold", pupil_ref=slot.pupil_ref)
        if self.link is not None and self.link.connected:
            self.link.publish(t.STATUS, self._status("online", "birth"))
        self._notify(self._view())

    def _send_pending(self, resend_stale: bool = False) -> None:
        if self.link is None or not self.link.connected:
            return
        if resend_stale and self._sent_upto and time.monotonic() - self._last_sent > \
                RESEND_AFTER_S and self.store.pending_count():
            self._sent_upto = 0  # the server may have missed them: offer again
        batch = self.store.pending(after=self._sent_upto)
        for seq, payload in batch:
            self.link.publish(t.EVENTS, payload)
            self._sent_upto = seq
        if batch:
            self._last_sent = time.monotonic()

    def _flush(self) -> None:
        if self._view_dirty:  # an alarm came or went: the screen must know
            self._view_dirty = False
            self._notify(self._view())
        if self._new_events:
            self._new_events = False
            self._send_pending()

    def _publish_snapshot(self) -> None:
        self._snapshot_dirty = False
        self._last_snapshot = time.monotonic()
        if self.link is None or not self.link.connected:
            self._snapshot_dirty = True
            return
        self.link.publish(t.SLOTS, m.SlotSnapshot(
            kiosk=self.kiosk, site=self.site, at=self.clock.now(),
            slots=[m.SlotView(slot=s.number, state=s.state, pupil_ref=s.pupil_ref,
                              door_open=s.door_open) for s in self.slots.values()]))

    def _status(self, state: str, reason: str) -> m.KioskStatus:
        return m.KioskStatus(kiosk=self.kiosk, site=self.site, state=state, reason=reason,
                             at=self.clock.now(), software=__version__,
                             policy_version=self.replica.version or None,
                             outbox_pending=self.store.pending_count(),
                             readers_ok=all(self.readers_ok.values()) if self.readers_ok else None,
                             mode="emergency" if self.fire_alarm else self.mode)

    # --- helpers used by the handlers -----------------------------------------------------

    def _emit(self, kind: type[m.EventBase], **fields: Any) -> m.EventBase:
        """Store an event with the next sequence number (inside the caller's transaction)."""
        at = self.clock.now()
        event = self.store.append_event(
            lambda seq: kind(kiosk=self.kiosk, site=self.site, seq=seq, at=at, **fields))
        self._new_events = True
        return event

    def _move(self, slot: Slot, trigger: str, pupil_ref: Any = ...) -> None:
        """Move ``slot`` along the lifecycle table, recording and persisting it.

        ``pupil_ref`` left out keeps the slot's pupil; a free slot never has one.
        """
        previous = slot.state
        slot.state = next_state(trigger, previous)
        if pupil_ref is not ...:
            slot.pupil_ref = pupil_ref
        if slot.state is m.SlotState.FREE:
            slot.pupil_ref = None
        self._emit(m.SlotStateEvent, slot=slot.number, state=slot.state, previous=previous,
                   pupil_ref=slot.pupil_ref)
        self.store.save_slot(slot.number, slot.state, slot.pupil_ref, slot.via, slot.command_id)
        self._snapshot_dirty = True

    def _alarm(self, kind: m.AlarmKind, slot: int | None, raised: bool, detail: str,
               reader: str | None = None) -> None:
        key = (kind, slot, reader)
        if raised == (key in self.alarms):
            return  # already in that state: no second event
        if raised:
            self.alarms[key] = detail
        else:
            self.alarms.pop(key, None)
        self._view_dirty = True
        self._emit(m.AlarmEvent, alarm=kind, state="raised" if raised else "cleared",
                   slot=slot, reader=reader, detail=detail[:500])

    def _pupil_held(self, pupil_ref: str | None) -> bool:
        if pupil_ref is None:
            return False
        return any(c.pupil_ref == pupil_ref and c.status is m.PupilStatus.HELD
                   for c in self.replica.cards.values())

    def _notify(self, what: object) -> None:
        for callback in list(self._subscribers):
            try:
                callback(what)
            except Exception:  # noqa: BLE001 - a broken screen must not stop the kiosk
                log.exception("event=subscriber_error")

    def _view(self) -> KioskView:
        S = m.SlotState
        mono = self.clock.monotonic()
        return KioskView(
            site=self.site, kiosk=self.kiosk,
            online=bool(self.link is not None and self.link.connected), mode=self.mode,
            slots=tuple(SlotSummary(s.number, s.state, s.door_open) for s in self.slots.values()),
            open_for_deposit=tuple(s.number for s in self.slots.values()
                                   if s.state in (S.OPENING_FOR_DEPOSIT, S.OPEN_FOR_DEPOSIT)),
            open_for_release=tuple(s.number for s in self.slots.values()
                                   if s.state in (S.OPENING_FOR_RELEASE, S.OPEN_FOR_RELEASE)),
            alarms=tuple((k[0], k[1]) for k in self.alarms),
            readers_ok=all(self.readers_ok.values()) if self.readers_ok else True,
            staff_mode=self.staff.active(mono), staff_pending=self.staff.pending(mono) is not None,
            enrol_waiting=self.staff.enrol_pupil, fire_alarm=self.fire_alarm,
            outbox_pending=self.store.pending_count(), policy_version=self.replica.version)

    def _recover(self) -> int:
        """Put slots back as they were; settle the ones caught mid-way by a crash."""
        from locker_controller.recovery import recover

        return recover(self)

    # staff handlers live in locker_controller/commands.py with the other requests
    def _staff_login(self, pin: str) -> StaffResult:
        return command_handlers.staff_login(self, pin)

    def _staff_enrol(self, pupil_ref: str) -> StaffResult:
        return command_handlers.staff_enrol(self, pupil_ref)

    def _staff_open(self, slot: int, reason: str) -> StaffResult:
        return command_handlers.staff_open(self, slot, reason)

    def _staff_clear(self, slot: int) -> StaffResult:
        return command_handlers.staff_clear(self, slot)

    def _staff_logout(self) -> StaffResult:
        self.staff.staff_ref = self.staff.enrol_pupil = None
        result = StaffResult("logout", True, "staff mode ended")
        self._notify(result)
        self._notify(self._view())
        return result
