"""Lock-control boards on an RS-485 bus: the Modbus RTU driver against pymodbus's own server
playing the boards on the far end of a socat pty pair (real RTU frames both ways)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_py.board import BoardConfig, build_hardware
from firmware_py.board_bank import BoardBank
from firmware_py.board_wiring import dip_switches, sheet
from firmware_py.boardmap import BoardMap, load_boardmap
from firmware_py.errors import BoardBusError, BoardMapError
from firmware_py.interfaces import BoardFault, CardTapped, DoorChanged, FireAlarmChanged
from firmware_py.modbus_bus import ModbusBus
from firmware_py.sim.boards import SerialPair, SimBoards
from tests.server_kit import wait_until

BOARDMAPS = Path(__file__).resolve().parents[1] / "hardware" / "boardmaps"


class Bus:
    """A bank on three 16-channel boards (slots 1-16, 17-32, 33-48) and the boards' world."""

    def __init__(self, bank: BoardBank, boards: SimBoards, events: queue.Queue) -> None:
        self.bank, self.boards, self.events = bank, boards, events

    def next_of(self, kind: type, timeout: float = 10.0, **match: object) -> object:
        """The next event of ``kind`` whose fields match ``match``."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.events.get(timeout=max(deadline - time.monotonic(), 0.001))
            if isinstance(item, kind) and all(getattr(item, k) == v for k, v in match.items()):
                return item


def start_bus(boardmap: BoardMap, *, max_coils: int = 4, pulse_s: float = 0.3,
              silent_at_start: tuple[str, ...] = ()) -> Iterator[Bus]:
    pair = SerialPair()
    boards = SimBoards(boardmap, pair.boards_end)
    for name in silent_at_start:
        boards.silence(name)
    bank = BoardBank(boardmap, ModbusBus(pair.kiosk_end, boardmap.bus), pulse_s=pulse_s,
                     max_coils=max_coils, max_on_s=pulse_s + 2,
                     on_close=[boards.close, pair.close])
    events: queue.Queue = queue.Queue()
    bank.start(events)
    try:
        yield Bus(bank, boards, events)
    finally:
        bank.close()


@pytest.fixture
def bus() -> Iterator[Bus]:
    yield from start_bus(load_boardmap(BOARDMAPS / "bus3x16.toml"))


def test_a_pulse_releases_the_lock_of_that_slot_on_its_board_only(bus: Bus) -> None:
    bus.bank.pulse(20)  # board b2, channel 4
    bus.boards.wait_coil_on(20, timeout=5)
    assert bus.boards.released == [20]  # no other lock on any board
    wait_until(lambda: not bus.boards.coil_on(20), what="the pulse to end")
    assert bus.boards.coils_on() == 0


def test_a_door_pulled_open_and_pushed_shut_is_reported_with_its_slot(bus: Bus) -> None:
    assert bus.bank.door_open(35) is False
    bus.boards.open_door(35)
    assert bus.next_of(DoorChanged, slot=35).open is True  # type: ignore[attr-defined]
    assert bus.bank.door_open(35) is True
    bus.boards.close_door(35)
    assert bus.next_of(DoorChanged, slot=35).open is False  # type: ignore[attr-defined]
    assert bus.bank.door_open(35) is False


def test_several_boards_share_the_bus_each_at_its_own_address(bus: Bus) -> None:
    for slot in (16, 17, 48):  # the last channel of b1, the first of b2, the last of b3
        bus.boards.open_door(slot)
    opened = {bus.next_of(DoorChanged, open=True).slot for _ in range(3)}  # type: ignore[attr-defined]
    assert opened == {16, 17, 48}
    assert [s for s in bus.bank.slots if bus.bank.door_open(s)] == [16, 17, 48]


def test_the_coil_limit_holds_across_every_board_and_pulses_wait_their_turn() -> None:
    boardmap = load_boardmap(BOARDMAPS / "bus3x16.toml")
    for bus in start_bus(boardmap, max_coils=2, pulse_s=0.5):
        order = [1, 17, 33, 2, 18, 34]
        for slot in order:
            bus.bank.pulse(slot)
        wait_until(lambda: len(bus.boards.released) == len(order), timeout=15,  # noqa: B023
                   what="every queued pulse")
        wait_until(lambda: bus.boards.coils_on() == 0, what="the last pulse to end")  # noqa: B023
        assert bus.boards.released == order  # first in, first out across boards
        assert bus.boards.most_coils_on == 2  # never a third solenoid on the supply


def test_a_silent_board_faults_only_its_own_slots_and_comes_back(bus: Bus) -> None:
    bus.boards.silence("b2")
    fault = bus.next_of(BoardFault, board="b2")
    assert fault.slots == tuple(range(17, 33)) and not fault.cleared  # type: ignore[attr-defined]
    assert "address 2" in fault.detail  # type: ignore[attr-defined]
    assert bus.bank.faults.keys() == {"b2"}

    # The other boards go on working while b2 is silent.
    bus.bank.pulse(3)
    bus.boards.wait_coil_on(3, timeout=5)
    bus.boards.open_door(40)
    assert bus.next_of(DoorChanged, slot=40).open is True  # type: ignore[attr-defined]
    bus.bank.pulse(20)  # on the silent board: no release, and no second fault
    bus.boards.open_door(21)  # moved while nobody could see it

    bus.boards.restore("b2")
    cleared = bus.next_of(BoardFault, board="b2")
    assert cleared.cleared and cleared.slots == fault.slots  # type: ignore[attr-defined]
    assert bus.next_of(DoorChanged, slot=21).open is True  # type: ignore[attr-defined]
    assert bus.bank.faults == {}
    bus.bank.pulse(22)
    bus.boards.wait_coil_on(22, timeout=5)
    assert 20 not in bus.boards.released


def test_a_release_whose_frame_is_lost_to_noise_still_opens_the_locker(bus: Bus) -> None:
    bus.boards.lose_writes("b1")  # one frame to board 1 lost on the RS-485 line
    bus.bank.pulse(3)
    bus.boards.wait_coil_on(3, timeout=10)  # the write was tried again
    assert 3 in bus.boards.released
    assert bus.bank.faults == {}  # one lost frame is not a silent board


def test_late_answers_are_not_taken_for_the_next_requests_and_the_doors_stay_heard(
        bus: Bus) -> None:
    """A board answers three requests after the kiosk has given up on them (timeout_s is
    0.5 s here). Each late reply lands while the kiosk waits for its next request's; taken
    for that one it once gave a door picture of the wrong length and the kiosk's door
    poller died: no door was heard again."""
    bus.boards.answer_late("b1", 0.7, frames=3)
    wait_until(lambda: bus.boards._late["b1"][0] == 0,  # noqa: SLF001
               what="the late answers to be sent")
    bus.boards.open_door(5)  # board b1
    assert bus.next_of(DoorChanged, slot=5).open is True  # type: ignore[attr-defined]
    bus.boards.open_door(20)  # board b2 shares the line
    assert bus.next_of(DoorChanged, slot=20).open is True  # type: ignore[attr-defined]
    bus.bank.pulse(3)  # and a release still reaches its lock
    bus.boards.wait_coil_on(3, timeout=10)


def test_a_board_unplugged_at_start_up_is_reported_and_the_others_serve() -> None:
    boardmap = load_boardmap(BOARDMAPS / "bus3x16.toml")
    for bus in start_bus(boardmap, silent_at_start=("b3",)):
        fault = bus.next_of(BoardFault, board="b3")
        assert fault.slots == tuple(range(33, 49)) and not fault.cleared  # type: ignore[attr-defined]
        bus.bank.pulse(1)
        bus.boards.wait_coil_on(1, timeout=5)
        bus.boards.restore("b3")
        assert bus.next_of(BoardFault, board="b3").cleared  # type: ignore[attr-defined]


def test_a_sim_kiosk_built_from_config_runs_its_locks_on_simulated_boards() -> None:
    hw = build_hardware(BoardConfig(None, readers=[], boardmap=BOARDMAPS / "bus3x16.toml",
                                    pulse_s=0.2), sim=True)
    try:
        events: queue.Queue = queue.Queue()
        hw.bank.start(events)
        boards = hw.extras["sim_boards"]
        assert isinstance(boards, SimBoards) and hw.bank.slots == list(range(1, 49))
        hw.bank.pulse(30)
        boards.wait_coil_on(30, timeout=5)
        # Sprung doors: the released door pops open and the kiosk sees it.
        assert Bus(hw.bank, boards, events).next_of(DoorChanged, slot=30).open is True  # type: ignore[arg-type, attr-defined]
        # The fire panel's contact stays on a header GPIO (GPIO27 in the board map).
        assert hw.fire_alarm is not None and not hw.fire_alarm.active()
        hw.fire_alarm.start(events)
        hw.extras["pin_factory"].pin(27).drive_low()  # type: ignore[attr-defined]
        assert Bus(hw.bank, boards, events).next_of(FireAlarmChanged) == FireAlarmChanged(True)  # type: ignore[arg-type]
    finally:
        hw.close()


def test_the_300_slot_kiosk_map_puts_every_slot_on_one_of_seven_boards() -> None:
    boardmap = load_boardmap(BOARDMAPS / "kiosk300.toml")
    assert [s.number for s in boardmap.slots] == list(range(1, 301))
    assert sorted(b.address for b in boardmap.boards.values()) == list(range(1, 8))
    assert {s.board for s in boardmap.slots} == set(boardmap.boards)


GOOD = """
[boards.b1]
address = 1
channels = 16
[boards.b2]
address = 2
channels = 8
[[runs]]
board = "b1"
first_slot = 1
count = 16
"""


@pytest.mark.parametrize(("extra", "good_part", "says"), [
    ("[[slots]]\nnumber = 17\nboard = \"b2\"\nchannel = 9\n", "",
     "uses channel 9 of board b2, which has channels 1 to 8"),
    ("[[slots]]\nnumber = 5\nboard = \"b2\"\nchannel = 1\n", "", "slot 5 is declared twice"),
    ("[[slots]]\nnumber = 17\nboard = \"b1\"\nchannel = 3\n", "",
     "channel 3 of board b1 is wired to slot 17 and to slot 3"),
    ("[[slots]]\nnumber = 17\nboard = \"b9\"\nchannel = 1\n", "",
     "names board 'b9', which is not declared"),
    ("", "address = 2\nchannels = 8", "both use address 2"),
    ("", "address = 0\nchannels = 8", "address must be 1 to 247"),
    ("", "address = 248\nchannels = 8", "address must be 1 to 247"),
    ("", "address = 3\nchannels = 80", "channels must be 1 to 64"),
    ("[feedback]\nled_ok = \"GPIO27\"\n[fire_alarm]\npin = \"GPIO27\"\n", "",
     "GPIO27 is used twice"),
])
def test_a_board_map_that_cannot_be_wired_is_refused_saying_what_to_fix(
        tmp_path: Path, extra: str, good_part: str, says: str) -> None:
    text = GOOD + extra
    if good_part:  # rewrite board b1's address and channels
        text = text.replace("address = 1\nchannels = 16", good_part, 1).replace(
            "count = 16", "count = 8")
    path = tmp_path / "boards.toml"
    path.write_text(text)
    with pytest.raises(BoardMapError) as refused:
        load_boardmap(path)
    assert says in str(refused.value)
    assert str(path) in str(refused.value)


def test_the_good_board_map_of_the_refusal_tests_loads(tmp_path: Path) -> None:
    path = tmp_path / "boards.toml"
    path.write_text(GOOD)
    assert len(load_boardmap(path).slots) == 16


def test_a_kiosk_whose_rs485_adapter_is_missing_says_which_port_to_check(tmp_path: Path) -> None:
    port = str(tmp_path / "ttyUSB9")
    with pytest.raises(BoardBusError, match=f"cannot open the RS-485 port {port}"):
        build_hardware(BoardConfig(None, readers=[], boardmap=BOARDMAPS / "bus3x16.toml",
                                   serial_port=port))


def test_the_board_wiring_sheets_are_generated_from_the_board_maps() -> None:
    for path in sorted(BOARDMAPS.glob("*.toml")):
        committed = BOARDMAPS.parent / "wiring" / f"{path.stem}.md"
        assert committed.read_text(encoding="utf-8") == sheet(load_boardmap(path)), (
            f"{committed} is stale: run `python -m firmware_py.board_wiring`")


def test_a_board_s_address_dip_switches_spell_its_address_in_binary() -> None:
    assert dip_switches(5) == "1:ON 2:off 3:ON 4:off 5:off 6:off 7:off 8:off"
    assert dip_switches(247).startswith("1:ON 2:ON 3:ON 4:off 5:ON 6:ON 7:ON 8:ON")


def test_a_controller_on_boards_takes_a_deposit_and_a_silent_board_stops_only_its_lockers(
        tmp_path: Path) -> None:
    from locker_controller.api import AlarmKind, SlotState, TapOutcome, TapResult
    from locker_controller.controller import Controller
    from locker_controller.replica import PolicyReplica
    from locker_controller.store import KioskStore
    from lockers.clock import FakeClock
    from lockers.kiosk_config import KioskConfig, RelayConfig
    from tests.controller_kit import KEY, KIOSK, MONDAY_0820, PUPILS, SITE, snapshot

    hw = build_hardware(BoardConfig(None, readers=[], boardmap=BOARDMAPS / "bus3x16.toml",
                                    pulse_s=0.2), sim=True)
    boards = hw.extras["sim_boards"]
    boardmap = hw.extras["boardmap"]

    def board_of(number: int) -> str:
        return next(s.board for s in boardmap.slots if s.number == number)  # type: ignore[attr-defined]

    config = KioskConfig(site=SITE, kiosk=KIOSK, card_key=KEY, state_dir=tmp_path / "kiosk",
                         boardmap=BOARDMAPS / "bus3x16.toml", readers=[],
                         relays=RelayConfig(pulse_s=0.2, max_coils=4, max_on_s=1.0),
                         synchronous="NORMAL", clock_checks=False)
    store = KioskStore(config.state_dir / f"{KIOSK}.sqlite3")  # a replica kept from before
    PolicyReplica(store, SITE, KIOSK).apply_snapshot(snapshot(PUPILS))
    store.close()
    clock = FakeClock(MONDAY_0820)
    controller = Controller(config, hw, clock=clock, connect=False, ticker=False)
    results: queue.Queue = queue.Queue()
    controller.subscribe(lambda r: results.put(r) if isinstance(r, TapResult) else None)
    controller.start()

    def slot_state(number: int) -> SlotState:
        return next(s for s in controller.view().slots if s.number == number).state

    try:
        controller.deliver(CardTapped("arrival", "04000001", time.monotonic()))
        slot = results.get(timeout=10).slot
        assert slot is not None
        boards.wait_coil_on(slot, timeout=5)  # type: ignore[attr-defined]
        # The sprung door pops open on release; the pupil puts the phone in and shuts it.
        wait_until(lambda: slot_state(slot) is SlotState.OPEN_FOR_DEPOSIT,
                   what="the door seen open")
        boards.close_door(slot)  # type: ignore[attr-defined]
        wait_until(lambda: slot_state(slot) is SlotState.OCCUPIED, what="the deposit counted")
        # The board holding that locker loses power: only its lockers are out of use.
        boards.silence(board_of(slot))  # type: ignore[attr-defined]
        wait_until(lambda: (AlarmKind.BOARD_FAULT, None) in controller.view().alarms,
                   timeout=15, what="the silent board's alarm")
        clock.advance(7 * 3600)
        controller.deliver(CardTapped("departure", "04000001", time.monotonic()))
        assert results.get(timeout=10).outcome is TapOutcome.SLOT_UNAVAILABLE
        controller.deliver(CardTapped("arrival", "04000002", time.monotonic()))
        assert results.get(timeout=10).outcome is TapOutcome.NOTHING_TO_COLLECT
        boards.restore(board_of(slot))  # type: ignore[attr-defined]
        wait_until(lambda: (AlarmKind.BOARD_FAULT, None) not in controller.view().alarms,
                   timeout=15, what="the board answering again")
        controller.deliver(CardTapped("departure", "04000001", time.monotonic()))
        assert results.get(timeout=10).outcome is TapOutcome.RELEASE_OPENED
    finally:
        controller.stop()
