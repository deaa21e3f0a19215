"""Card readers through the real pcscd, its vpcd virtual readers and a virtual card."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import TypeVar

import pytest
from smartcard.scard import SCARD_STATE_EMPTY

from firmware_py.interfaces import CardTapped, ReaderFault
from firmware_py.nfc import PcscCardReaders, ReaderSpec
from tests.fixtures.pcsc import Pcsc, wait_reader_state


class Clock:
    """A monotonic clock the test moves, for the hold-off."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        """The time the test has set."""
        return self.t


E = TypeVar("E")
# What the readers fixture hands a test: the readers, the queue their taps arrive on and the
# clock of their hold-off.
Readers = tuple[PcscCardReaders, queue.Queue, Clock]


def expect(events: queue.Queue, kind: type[E], timeout: float = 5.0) -> E:
    """The next event of ``kind`` on the queue (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        item = events.get(timeout=max(deadline - time.monotonic(), 0.001))
        if isinstance(item, kind):
            return item


def nothing_more(events: queue.Queue, kind: type, within: float = 0.8) -> None:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = events.get(timeout=left)
        except queue.Empty:
            return
        assert not isinstance(item, kind), f"unexpected {item}"


@pytest.fixture
def readers(pcscd: Pcsc) -> Iterator[Readers]:
    """Both virtual readers watched, with a hold-off of 3 s on the test's clock."""
    clock = Clock()
    r = PcscCardReaders([ReaderSpec("arrival", pcscd.reader_names[0]),
                         ReaderSpec("departure", pcscd.reader_names[1])],
                        hold_off_s=3.0, monotonic=clock)
    events: queue.Queue = queue.Queue()
    r.start(events)
    yield r, events, clock
    r.stop()


def test_a_tap_is_reported_once_with_the_uid_and_the_readers_role(pcscd: Pcsc,
                                                                  readers: Readers) -> None:
    r, events, _ = readers
    card = pcscd.card(0)
    card.present_uid("04A1B2C3D4E5F6")
    tap = expect(events, CardTapped)
    assert (tap.reader, tap.uid) == ("arrival", "04A1B2C3D4E5F6")
    nothing_more(events, CardTapped)  # the card stays on the reader: still one tap
    assert r.healthy() == {"arrival": True, "departure": True}


def test_the_same_card_again_within_the_hold_off_is_ignored_then_counted(pcscd: Pcsc,
                                                                        readers: Readers) -> None:
    _, events, clock = readers
    card = pcscd.card(0)
    card.present_uid("0A0B0C0D")
    expect(events, CardTapped)
    card.remove()
    wait_reader_state(pcscd.reader_names[0], SCARD_STATE_EMPTY)
    clock.t += 1.0
    card.present_uid("0A0B0C0D")
    nothing_more(events, CardTapped)
    card.remove()
    wait_reader_state(pcscd.reader_names[0], SCARD_STATE_EMPTY)
    clock.t += 5.0
    card.present_uid("0A0B0C0D")
    assert expect(events, CardTapped).uid == "0A0B0C0D"


def test_a_different_card_within_the_hold_off_is_a_new_tap(pcscd: Pcsc, readers: Readers) -> None:
    _, events, _ = readers
    card = pcscd.card(0)
    card.present_uid("11111111")
    expect(events, CardTapped)
    card.remove()
    wait_reader_state(pcscd.reader_names[0], SCARD_STATE_EMPTY)
    card.present_uid("22222222")
    assert expect(events, CardTapped).uid == "22222222"


def test_two_readers_are_told_apart_by_role(pcscd: Pcsc, readers: Readers) -> None:
    _, events, _ = readers
    pcscd.card(1).present_uid("DEADBEEF")
    tap = expect(events, CardTapped)
    assert (tap.reader, tap.uid) == ("departure", "DEADBEEF")


def test_a_missing_reader_is_a_fault_that_names_what_is_connected(pcscd: Pcsc) -> None:
    r = PcscCardReaders([ReaderSpec("arrival", "No Such Reader")])
    events: queue.Queue = queue.Queue()
    r.start(events)
    try:
        fault = expect(events, ReaderFault)
        assert not fault.cleared
        assert "No Such Reader" in fault.detail and pcscd.reader_names[0] in fault.detail
        assert r.healthy() == {"arrival": False}
    finally:
        r.stop()


def test_readers_recover_by_themselves_after_pcscd_restarts(pcscd: Pcsc, readers: Readers) -> None:
    r, events, _ = readers
    pcscd.daemon.stop()
    faults = {expect(events, ReaderFault).reader, expect(events, ReaderFault).reader}
    assert faults == {"arrival", "departure"}
    assert r.healthy() == {"arrival": False, "departure": False}
    pcscd.daemon.start()
    back: set[str] = set()
    while back != {"arrival", "departure"}:
        fault = expect(events, ReaderFault, timeout=10)
        if fault.cleared:
            back.add(fault.reader)
    pcscd.card(0).present_uid("CAFEBABE")
    assert expect(events, CardTapped).uid == "CAFEBABE"
