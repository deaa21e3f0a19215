"""The RS-485 bus of a kiosk's lock-control boards: one Modbus RTU client, shared by the
relays (writes) and the door poller (reads), one request on the wire at a time."""

from __future__ import annotations

import contextlib
import logging
import threading

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu.bit_message import (
    ReadDiscreteInputsResponse,
    WriteMultipleCoilsResponse,
    WriteSingleCoilResponse,
)

from firmware_py.boardmap import Board, BusSettings
from firmware_py.errors import BoardBusError

log = logging.getLogger(__name__)


class BoardSilent(BoardBusError):
    """A board did not answer (or answered with a Modbus exception)."""


class ModbusBus:
    """Serialises every request on one RS-485 line and says which board failed.

    pymodbus's synchronous client is not thread-safe and RS-485 is half duplex anyway, so a
    lock keeps one request on the wire at a time: a relay write waits at most one poll frame.
    """

    def __init__(self, port: str, settings: BusSettings) -> None:
        self.port, self.settings = port, settings
        # retries=0: a silent board must cost one timeout, not three; the poller asks again.
        self._client = ModbusSerialClient(
            port, baudrate=settings.baudrate, parity=settings.parity,
            stopbits=settings.stopbits, bytesize=8, timeout=settings.timeout_s, retries=0)
        self._lock = threading.Lock()
        if not self._client.connect():
            raise BoardBusError(f"cannot open the RS-485 port {port}: check the USB adapter is "
                                "plugged in and the kiosk config's serial port")

    def write_coil(self, board: Board, coil: int, on: bool) -> None:
        """Set one coil of ``board``; raise :class:`BoardSilent` if it does not confirm."""
        with self._lock:
            try:
                reply = self._client.write_coil(coil, on, device_id=board.address)
            except ModbusException as exc:
                raise BoardSilent(_silent(board, exc)) from None
        if reply.isError():
            raise BoardSilent(f"board {board.name} (address {board.address}) refused coil "
                              f"{coil}: {reply}")
        if not (isinstance(reply, WriteSingleCoilResponse) and reply.dev_id == board.address
                and reply.address == coil and list(reply.bits[:1]) == [on]):
            self._stray(board, reply)

    def write_all(self, board: Board, on: bool) -> None:
        """Set every coil of ``board`` in one frame."""
        with self._lock:
            try:
                reply = self._client.write_coils(0, [on] * board.channels,
                                                 device_id=board.address)
            except ModbusException as exc:
                raise BoardSilent(_silent(board, exc)) from None
        if reply.isError():
            raise BoardSilent(f"board {board.name} (address {board.address}) refused to set "
                              f"its coils: {reply}")
        if not (isinstance(reply, WriteMultipleCoilsResponse) and reply.dev_id == board.address
                and reply.count == board.channels):
            self._stray(board, reply)

    def read_inputs(self, board: Board) -> list[bool]:
        """Every discrete input of ``board`` (index 0 = channel 1)."""
        with self._lock:
            try:
                reply = self._client.read_discrete_inputs(0, count=board.channels,
                                                          device_id=board.address)
            except ModbusException as exc:
                raise BoardSilent(_silent(board, exc)) from None
        if reply.isError():
            raise BoardSilent(f"board {board.name} (address {board.address}) refused to read "
                              f"its inputs: {reply}")
        if not (isinstance(reply, ReadDiscreteInputsResponse) and reply.dev_id == board.address
                and len(reply.bits) >= board.channels):
            self._stray(board, reply)
        return list(reply.bits[: board.channels])

    def _stray(self, board: Board, reply: object) -> None:
        """An answer that is not to the question asked: a late reply to an earlier request
        (one that timed out on a busy or noisy line) read as this one's. Counted as no
        answer, and whatever else is waiting on the line is dropped so the next request
        reads its own reply. Taken for an answer it once gave a door picture of the wrong
        length, and the kiosk stopped hearing its doors."""
        with self._lock:
            flush = getattr(self._client.socket, "reset_input_buffer", None)
            if flush is not None:
                with contextlib.suppress(OSError):  # a port gone: the next request says so
                    flush()
        raise BoardSilent(f"board {board.name} (address {board.address}) gave an answer "
                          f"that does not fit the request ({reply}): a late reply on a busy "
                          "or noisy line")

    def close(self) -> None:
        """Close the serial port (idempotent)."""
        with self._lock:
            self._client.close()


def _silent(board: Board, exc: Exception) -> str:
    return (f"no answer from board {board.name} at address {board.address} ({exc}): check its "
            "power, its A/B wires and that its address switches say "
            f"{board.address}")
