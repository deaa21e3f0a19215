"""Sim twin of the lock-control boards: pymodbus's own Modbus RTU server on one end of a
virtual serial pair made by ``socat``, playing every board of a board map on one bus.

The kiosk's driver talks real RTU frames (CRC and all) to it through the other end, exactly as
to boards on a USB RS-485 adapter. The world around the boards is played here too: doors
opened and shut, a board that loses power (stops answering) and comes back. With
``spring_doors`` a door pops open when its lock is released, as sprung locker doors do.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path

from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from firmware_py.boardmap import Board, BoardMap
from firmware_py.errors import BoardBusError

log = logging.getLogger(__name__)
READ_DISCRETE_INPUTS, WRITE_COIL, WRITE_COILS = 2, 5, 15
# Every pair still open: a program that ends on an exception before closing its hardware
# must not leave socat running behind it (benchmarks did, after a failed start).
_OPEN_PAIRS: weakref.WeakSet[SerialPair] = weakref.WeakSet()


@atexit.register
def _close_open_pairs() -> None:
    for pair in list(_OPEN_PAIRS):
        pair.close()


class SerialPair:
    """Two connected pseudo-terminals from ``socat``: ``kiosk_end`` and ``boards_end``."""

    def __init__(self, folder: Path | None = None) -> None:
        if shutil.which("socat") is None:
            raise BoardBusError("socat is not installed: run scripts/bootstrap.sh (Debian "
                                "package socat)")
        self._tmp = None if folder else tempfile.TemporaryDirectory(prefix="rs485-")
        base = Path(folder or self._tmp.name)  # type: ignore[union-attr]
        self.kiosk_end, self.boards_end = str(base / "kiosk"), str(base / "boards")
        self._proc = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.kiosk_end}",
             f"pty,raw,echo=0,link={self.boards_end}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _OPEN_PAIRS.add(self)
        deadline = time.monotonic() + 5
        while not (Path(self.kiosk_end).exists() and Path(self.boards_end).exists()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise BoardBusError("socat did not make the virtual serial pair")
            time.sleep(0.005)  # socat creates the links within milliseconds

    def close(self) -> None:
        """Stop socat (idempotent)."""
        _OPEN_PAIRS.discard(self)
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class SimBoards:
    """Every board of ``boardmap`` answering on ``port`` (a pty), with simulated doors."""

    def __init__(self, boardmap: BoardMap, port: str, *, spring_doors: bool = False) -> None:
        self.map, self.spring_doors = boardmap, spring_doors
        self._lock = threading.Lock()
        self._coils = {name: [False] * b.channels for name, b in boardmap.boards.items()}
        self._door_shut = {name: [True] * b.channels for name, b in boardmap.boards.items()}
        self._silent: set[str] = set()
        self._lose_writes: dict[str, int] = {}  # board -> write frames still to lose to noise
        self._late: dict[str, tuple[int, float]] = {}  # board -> (answers still late, by s)
        self._by_address = {b.address: b for b in boardmap.boards.values()}
        self._slot = {s.number: s for s in boardmap.slots}
        self._slot_at = {(s.board, s.coil): s.number for s in boardmap.slots}
        self.most_coils_on = 0  # the most coils energised at once, across every board
        self.released: list[int] = []  # slots in the order their locks were released
        self.released_at: dict[int, float] = {}  # slot -> time.monotonic() of its last release
        self._loop = asyncio.new_event_loop()
        self._server: ModbusSerialServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port,), daemon=True,
                                        name="sim-boards")
        self._thread.start()
        if not self._ready.wait(10) or self._server is None:
            raise BoardBusError("the simulated boards' Modbus server did not start")

    # --- the world ---------------------------------------------------------------------

    def open_door(self, slot: int) -> None:
        """A pupil pulls the door of ``slot`` open."""
        self._set_door(slot, shut=False)

    def close_door(self, slot: int) -> None:
        """A pupil pushes the door of ``slot`` shut."""
        self._set_door(slot, shut=True)

    def coil_on(self, slot: int) -> bool:
        """Whether the lock of ``slot`` is being released now."""
        s = self._slot[slot]
        with self._lock:
            return self._coils[s.board][s.coil]

    def coils_on(self) -> int:
        """How many coils are energised now, across every board."""
        with self._lock:
            return sum(sum(c) for c in self._coils.values())

    def wait_coil_on(self, slot: int, timeout: float = 2.0) -> float:
        """Wait until the lock of ``slot`` is released; return ``time.monotonic()`` then."""
        deadline = time.monotonic() + timeout
        while not self.coil_on(slot):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the lock of slot {slot} was not released in {timeout} s")
            time.sleep(0.0002)
        return time.monotonic()

    def silence(self, board: str) -> None:
        """``board`` loses power or its wires: it stops answering."""
        with self._lock:
            self._silent.add(board)

    def lose_writes(self, board: str, frames: int = 1) -> None:
        """The next ``frames`` write frames to ``board`` are lost to noise on the line: the
        board never hears them (and so never answers them)."""
        with self._lock:
            self._lose_writes[board] = frames

    def answer_late(self, board: str, seconds: float, frames: int = 1) -> None:
        """``board``'s next ``frames`` answers come ``seconds`` late (a busy board, or a
        line slowed by noise): after the kiosk has given up on them."""
        with self._lock:
            self._late[board] = (frames, seconds)

    def restore(self, board: str) -> None:
        """``board`` answers again; like a board powering up, its relays are off."""
        with self._lock:
            self._silent.discard(board)
            self._coils[board] = [False] * self.map.boards[board].channels

    def close(self) -> None:
        """Stop the server (idempotent)."""
        if self._server is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(5)
        self._thread.join(5)

    # --- the boards --------------------------------------------------------------------

    def _set_door(self, slot: int, shut: bool) -> None:
        s = self._slot[slot]
        with self._lock:
            self._door_shut[s.board][s.coil] = shut

    def _device(self, board: Board) -> SimDevice:
        bits = [SimData(0, count=board.channels, values=False, datatype=DataType.BITS)]
        regs = [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(board.address, simdata=(bits, list(bits), regs, list(regs)),
                         action=functools.partial(self._action, board))

    async def _action(self, board: Board, function_code: int, start_address: int,
                      address: int, count: int, registers: list[int],
                      values: list[int] | list[bool] | None) -> None:
        # Called by pymodbus for every request to this board, before it answers.
        await asyncio.sleep(self._lateness(board))
        with self._lock:
            if board.name in self._silent:
                # With ignore_missing_devices the server sends nothing: the kiosk times out,
                # exactly as with an unpowered board.
                raise NoSuchIdException(f"board {board.name} is silent")
            if function_code in (WRITE_COIL, WRITE_COILS) and \
                    self._lose_writes.get(board.name, 0) > 0:
                self._lose_writes[board.name] -= 1
                raise NoSuchIdException(f"a frame to board {board.name} was lost")
            if function_code in (WRITE_COIL, WRITE_COILS) and values is not None:
                coils = self._coils[board.name]
                for i, value in enumerate(values):
                    coil = address + i
                    if coil >= board.channels:
                        continue
                    if value and not coils[coil] and (board.name, coil) in self._slot_at:
                        slot = self._slot_at[board.name, coil]
                        self.released.append(slot)
                        self.released_at[slot] = time.monotonic()
                    coils[coil] = bool(value)
                    if value and self.spring_doors:
                        self._door_shut[board.name][coil] = False
                self.most_coils_on = max(self.most_coils_on,
                                         sum(sum(c) for c in self._coils.values()))
            elif function_code == READ_DISCRETE_INPUTS:
                level = board.door_closed_when == "on"
                bits = [shut == level for shut in self._door_shut[board.name]]
                bits += [False] * (-len(bits) % 16)
                for r in range(min(len(registers), len(bits) // 16)):
                    registers[r] = sum(1 << i for i, on in enumerate(bits[r * 16:r * 16 + 16])
                                       if on)
        return None

    def _lateness(self, board: Board) -> float:
        """How late this answer of ``board`` comes (see :meth:`answer_late`)."""
        with self._lock:
            frames, late_s = self._late.get(board.name, (0, 0.0))
            if not frames:
                return 0.0
            self._late[board.name] = (frames - 1, late_s)
            return late_s

    def _run(self, port: str) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            # pymodbus builds its transport on the running loop: make the server inside it.
            self._server = ModbusSerialServer(
                [self._device(b) for b in self.map.boards.values()], port=port,
                baudrate=self.map.bus.baudrate, parity=self.map.bus.parity,
                stopbits=self.map.bus.stopbits, ignore_missing_devices=True)
            self._loop.call_soon(self._ready.set)
            await self._server.serve_forever()

        try:
            self._loop.run_until_complete(serve())
        except Exception:
            log.exception("event=sim_boards_stopped")
        finally:
            self._ready.set()
            self._loop.close()
