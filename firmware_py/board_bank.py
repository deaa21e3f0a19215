"""A bank of slots on lock-control boards (Modbus RTU over RS-485), behind :class:`LockBank`.

Locks are released through the same :class:`~firmware_py.relays.RelayBank` as GPIO relays, so
the coil limit, the pulse length and the stuck-relay watchdog are one piece of code for both,
and the limit holds across every board on the bus. Doors are read by polling each board's
discrete inputs. A board that stops answering is reported as a :class:`BoardFault` for its
own slots only; it is asked again every ``retry_s`` and, when it answers, all its relays are
turned off before its slots are used again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from firmware_py.boardmap import Board, BoardMap
from firmware_py.interfaces import BoardFault, DoorChanged, EventQueue, HardwareEvent, LockBank
from firmware_py.lines import OutputLine
from firmware_py.modbus_bus import BoardSilent, ModbusBus
from firmware_py.relays import RelayBank

log = logging.getLogger(__name__)
FAILS_BEFORE_FAULT = 2  # one garbled frame on a long bus is noise, two in a row is a fault


class CoilOutput(OutputLine):
    """One board channel as a relay output. Remembers what the board last confirmed."""

    def __init__(self, bank: BoardBank, board: Board, coil: int) -> None:
        self._bank, self.board, self.coil = bank, board, coil
        # None: unknown. A write whose reply was lost may have energised the coil, so the
        # next "off" must go on the wire whatever we believe.
        self._on: bool | None = False

    def set(self, on: bool) -> None:
        """Energise or release the channel. Never raises for a silent board: the fault is
        reported once as a :class:`BoardFault` and the lock simply does not release."""
        if not on and self._on is False:
            return  # already off as far as the board confirmed: spare the bus a frame
        if not self._bank.answering(self.board.name):
            return  # reported already; the board's outputs go off when it answers again
        for attempt in (1, 2):  # one garbled frame is noise: try once more at once
            try:
                self._bank.bus.write_coil(self.board, self.coil, on)
                self._on = on
                return
            except BoardSilent as exc:
                self._on = None
                if attempt == 2:
                    self._bank.board_failed(self.board, str(exc), at_once=True)

    @property
    def is_on(self) -> bool:
        """Whether the board confirmed the channel is energised."""
        return self._on is True

    def forget(self) -> None:
        """The board's coils were all turned off in one frame."""
        self._on = False

    def close(self) -> None:
        """Off (the bank turns whole boards off at close)."""
        self._on = False


class BoardBank(LockBank):
    """The slots of one board map, driven over one RS-485 bus."""

    def __init__(self, boardmap: BoardMap, bus: ModbusBus, *, pulse_s: float = 0.5,
                 max_coils: int = 4, max_on_s: float = 3.0,
                 on_close: list[Callable[[], None]] | None = None) -> None:
        self.map, self.bus = boardmap, bus
        self._lock = threading.Lock()
        self._events: EventQueue | None = None
        self._pending: list[HardwareEvent] = []
        self._fails: dict[str, int] = {name: 0 for name in boardmap.boards}
        self._silent: dict[str, str] = {}  # board -> detail, while it does not answer
        self._next_retry: dict[str, float] = {}
        self._inputs: dict[str, list[bool]] = {
            b.name: [b.door_closed_when == "on"] * b.channels for b in boardmap.boards.values()}
        self._by_slot = {s.number: s for s in boardmap.slots}
        self._wired = {name: [s for s in boardmap.slots if s.board == name]
                       for name in boardmap.boards}
        self._lines = {s.number: CoilOutput(self, boardmap.boards[s.board], s.coil)
                       for s in boardmap.slots}
        self._on_close = list(on_close or [])
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        for board in boardmap.boards.values():
            self._recover(board)  # relays off at start-up, first door picture
        self.relays = RelayBank(dict(self._lines), pulse_s=pulse_s, max_coils=max_coils,
                                max_on_s=max_on_s)

    @property
    def slots(self) -> list[int]:
        """Slot numbers in order."""
        return sorted(self._by_slot)

    def start(self, events: EventQueue) -> None:
        """Report door changes, board faults and watchdog trips onto ``events``."""
        with self._lock:
            self._events = events
            pending, self._pending = self._pending, []
        for event in pending:
            events.put(event)
        self.relays.attach(events)
        self._poller = threading.Thread(target=self._poll, daemon=True, name="board-poller")
        self._poller.start()

    def pulse(self, slot: int) -> None:
        """Release ``slot``'s lock for one pulse (queued within the coil limit)."""
        self.relays.pulse(slot)

    def door_open(self, slot: int) -> bool:
        """Whether the door of ``slot`` read open at the last poll of its board."""
        s = self._by_slot[slot]
        board = self.map.boards[s.board]
        with self._lock:
            reading = self._inputs[s.board][s.coil]
        return reading != (board.door_closed_when == "on")

    def has_presence_sensor(self, slot: int) -> bool:
        """Board inputs read doors only."""
        return False

    def occupied(self, slot: int) -> bool | None:
        """No presence sensors on lock boards."""
        return None

    def answering(self, board: str) -> bool:
        """Whether ``board`` answered its last request."""
        with self._lock:
            return board not in self._silent

    @property
    def faults(self) -> dict[str, str]:
        """Board name -> what is wrong, for every board that is not answering now."""
        with self._lock:
            return dict(self._silent)

    def all_off(self) -> None:
        """Every relay off now; queued pulses dropped."""
        self.relays.all_off()

    def close(self) -> None:
        """Stop polling, every board's relays off in one frame each, the port closed
        (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._poller is not None and self._poller is not threading.current_thread():
            self._poller.join(2)
        self.relays.close()
        for board in self.map.boards.values():
            if self.answering(board.name):
                try:
                    self.bus.write_all(board, False)
                except BoardSilent as exc:
                    log.error("event=board_off_failed board=%s detail=%r", board.name, exc)
        self.bus.close()
        for closer in self._on_close:
            closer()
        self._on_close.clear()

    def board_failed(self, board: Board, detail: str, *, at_once: bool = False) -> None:
        """Count a failed request; report the board's slots as faulted when it is real."""
        with self._lock:
            self._fails[board.name] += 1
            if board.name in self._silent or (
                    not at_once and self._fails[board.name] < FAILS_BEFORE_FAULT):
                return
            self._silent[board.name] = detail
            self._next_retry[board.name] = time.monotonic() + self.map.bus.retry_s
        log.error("event=board_fault board=%s address=%s detail=%r", board.name, board.address,
                  detail)
        self._emit(BoardFault(board.name, self.map.slots_of(board.name), detail))

    def _emit(self, event: HardwareEvent) -> None:
        with self._lock:
            if self._events is None:
                self._pending.append(event)
                return
            events = self._events
        events.put(event)

    def _recover(self, board: Board) -> None:
        """Ask a board that was silent (or never heard) again; on an answer, relays off."""
        try:
            self.bus.write_all(board, False)
            inputs = self.bus.read_inputs(board)
        except BoardSilent as exc:
            self.board_failed(board, str(exc), at_once=True)
            return
        for s in self._wired[board.name]:
            self._lines[s.number].forget()
        with self._lock:
            was = self._silent.pop(board.name, None)
            self._fails[board.name] = 0
        if was is not None:
            log.info("event=board_fault_cleared board=%s address=%s", board.name, board.address)
            self._emit(BoardFault(board.name, self.map.slots_of(board.name),
                                  "answering again", cleared=True))
        self._apply(board, inputs)  # after the clearance: doors that moved while it was silent

    def _poll(self) -> None:
        period = self.map.bus.poll_ms / 1000
        while not self._stop.is_set():
            for board in self.map.boards.values():
                if self._stop.is_set():
                    return
                with self._lock:
                    silent = board.name in self._silent
                    due = self._next_retry.get(board.name, 0.0) <= time.monotonic()
                if silent:
                    if due:
                        with self._lock:
                            self._next_retry[board.name] = (time.monotonic()
                                                            + self.map.bus.retry_s)
                        self._recover(board)
                    continue
                try:
                    inputs = self.bus.read_inputs(board)
                except BoardSilent as exc:
                    self.board_failed(board, str(exc))
                    continue
                except Exception:  # the poller is the kiosk's only ear on its doors
                    log.exception("event=board_poll_failed board=%s", board.name)
                    continue
                with self._lock:
                    self._fails[board.name] = 0
                self._apply(board, inputs)
            self._stop.wait(period)

    def _apply(self, board: Board, inputs: list[bool]) -> None:
        now = time.monotonic()
        closed_level = board.door_closed_when == "on"
        with self._lock:
            before, self._inputs[board.name] = self._inputs[board.name], inputs
        for s in self._wired[board.name]:
            if before[s.coil] != inputs[s.coil]:
                self._emit(DoorChanged(s.number, open=inputs[s.coil] != closed_level,
                                       monotonic=now))
