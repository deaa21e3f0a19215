"""Benchmark: a tap to the lock energised, through a real controller and the Modbus RTU stack
(pymodbus client -> socat pty pair -> pymodbus server playing three lock boards), compared
with the GPIO path (mock pins) measured the same way.

Both paths get the same taps straight into the controller's inbox (the card reader stack is
the same for both and measured by bench/tap_to_open.py). "Energised" is when the simulated
board has the coil write (Modbus) or when the relay pin is set (GPIO).

A pty does not enforce a baud rate, so 9600 and 19200 baud are stated by adding the wire
time of a Write Single Coil exchange (8-byte request + 8-byte reply, 10 bits a byte at 8N1,
each followed by the 3.5-character silence; 1.75 ms fixed above 19200 baud as the Modbus
serial line spec says) and, for the worst case, one door poll already on the wire (8-byte
request + 11-byte reply for 48 inputs) that the write must wait behind.

Run: .venv/bin/python bench/modbus_tap_to_open.py [--taps N]
Last line: modbus_tap_to_open gpio_p99_ms=... modbus_p99_ms=... modbus_9600_p99_ms=...
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WRITE_EXCHANGE_BYTES = 8 + 8
POLL_EXCHANGE_BYTES = 8 + 11


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def wire_ms(n_bytes: int, frames: int, baud: int) -> float:
    """Time on the wire of ``frames`` frames of ``n_bytes`` in all, with their gaps."""
    gap = 3.5 * 10 / baud if baud <= 19200 else 0.00175
    return (n_bytes * 10 / baud + frames * gap) * 1000


def _controller(hardware: object, work: Path) -> tuple[object, list[str]]:
    from locker_controller.controller import Controller
    from locker_controller.replica import PolicyReplica
    from locker_controller.store import KioskStore
    from lockers.cardhash import card_hash
    from lockers.clock import SystemClock
    from lockers.kiosk_config import KioskConfig, RelayConfig
    from lockers.wire import messages as m

    config = KioskConfig(site="bench", kiosk="k1", card_key="bench-key-123", state_dir=work,
                         readers=[], relays=RelayConfig(pulse_s=0.05, max_coils=4,
                                                        max_on_s=1.0), tap_hold_off_s=0.0)
    uids = [f"04{i:012X}" for i in range(1, 400)]
    now = SystemClock().now()
    # The kiosk alone, as after a restart without network: its stored replica decides (a new
    # store would wait for the server's custody picture before giving out any slot).
    store = KioskStore(config.state_dir / "k1.sqlite3")
    PolicyReplica(store, "bench", "k1").apply_snapshot(m.PolicySnapshot(
        kiosk="k1", site="bench", version=1, generated_at=now,
        settings=m.KioskSettings(timezone="UTC"),
        days=[m.ReleaseDay(day=now.date() + timedelta(days=d), school_day=True,
                           release_opens=dtime(23, 59, 58), release_closes=dtime(23, 59, 59))
              for d in range(2)],
        cards=[m.CardEntry(card=card_hash("bench-key-123", u), pupil_ref=f"P{i}",
                           first_name="Bench") for i, u in enumerate(uids)]))
    store.close()
    controller = Controller(config, hardware, connect=False)  # type: ignore[arg-type]
    return controller, uids


def measure(hardware: object, work: Path, taps: int, energised_at: Callable[[int], float | None],
            shut: Callable[[int], None]) -> list[float]:
    """Tap -> energised, ms, for ``taps`` pupils one after another."""
    from firmware_py.interfaces import CardTapped
    from locker_controller.api import TapResult

    controller, uids = _controller(hardware, work)
    results: queue.Queue = queue.Queue()
    controller.subscribe(lambda r: results.put(r) if isinstance(r, TapResult) else None)
    controller.start()
    out: list[float] = []
    try:
        for i in range(taps):
            t0 = time.monotonic()
            controller.inbox.put(CardTapped("arrival", uids[i], t0))
            result = results.get(timeout=5)
            if result.slot is None:
                raise SystemExit(f"tap {i} did not open a slot: {result.outcome}")
            deadline = time.monotonic() + 3
            while (on := energised_at(result.slot)) is None or on < t0:
                if time.monotonic() > deadline:
                    raise SystemExit(f"slot {result.slot} was never energised")
                time.sleep(0.0002)
            out.append((on - t0) * 1000)
            shut(result.slot)
    finally:
        controller.stop()
    return out


def gpio_path(taps: int, work: Path) -> list[float]:
    """The GPIO bank on mock pins (sim60 pin map)."""
    from firmware_py.board import BoardConfig, build_hardware
    from firmware_py.sim.world import SimWorld

    hw = build_hardware(BoardConfig(REPO / "hardware/pinmaps/sim60.toml", readers=[],
                                    pulse_s=0.05, max_coils=4, relay_max_on_s=1.0), sim=True)
    world = SimWorld(hw)
    on_at: dict[int, float] = {}
    for slot, line in hw.bank.relays._lines.items():  # noqa: SLF001 - measure the pin only
        original = line.set

        def timed(on: bool, slot: int = slot, original=original) -> None:  # noqa: ANN001
            if on:
                on_at[slot] = time.monotonic()
            original(on)

        line.set = timed  # type: ignore[method-assign]

    def shut(slot: int) -> None:
        world.open_door(slot)
        world.put_item(slot)
        world.close_door(slot)

    return measure(hw, work / "gpio", taps, on_at.get, shut)


def modbus_path(taps: int, work: Path) -> list[float]:
    """Three 16-channel boards on a socat pty pair at 115200 "baud"."""
    from firmware_py.board import BoardConfig, build_hardware

    hw = build_hardware(BoardConfig(None, readers=[], boardmap=REPO /
                                    "hardware/boardmaps/bus3x16.toml", pulse_s=0.05,
                                    max_coils=4, relay_max_on_s=1.0), sim=True)
    boards = hw.extras["sim_boards"]

    def shut(slot: int) -> None:
        # Sprung doors pop open on release; the pupil shuts it and the kiosk sees that.
        deadline = time.monotonic() + 3
        while not hw.bank.door_open(slot) and time.monotonic() < deadline:
            time.sleep(0.001)
        boards.close_door(slot)  # type: ignore[attr-defined]
        while hw.bank.door_open(slot) and time.monotonic() < deadline:
            time.sleep(0.001)

    return measure(hw, work / "modbus", taps, boards.released_at.get, shut)  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taps", type=int, default=45, help="per round (48 slots at most)")
    parser.add_argument("--rounds", type=int, default=3, help="each on a fresh, empty kiosk")
    args = parser.parse_args()
    gpio: list[float] = []
    modbus: list[float] = []
    for _ in range(args.rounds):
        work = Path(tempfile.mkdtemp(prefix="lockers-bench-modbus-"))
        gpio += gpio_path(args.taps, work)
        modbus += modbus_path(args.taps, work)
    print(f"machine: {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}, "
          f"{args.rounds} x {args.taps} taps per path")
    print(f"gpio   tap->energised ms: p50={pct(gpio, 50):.2f} p99={pct(gpio, 99):.2f}")
    print(f"modbus tap->energised ms: p50={pct(modbus, 50):.2f} p99={pct(modbus, 99):.2f} "
          "(pty, 115200)")
    stated = {}
    for baud in (9600, 19200, 115200):
        write = wire_ms(WRITE_EXCHANGE_BYTES, 2, baud)
        behind_poll = wire_ms(POLL_EXCHANGE_BYTES, 2, baud)
        stated[baud] = pct(modbus, 99) + write
        print(f"  at {baud:>6} baud: + {write:.2f} ms write on the wire -> p99 "
              f"{stated[baud]:.2f} ms; behind a door poll + {behind_poll:.2f} ms -> "
              f"{stated[baud] + behind_poll:.2f} ms")
    print(f"modbus_tap_to_open gpio_p99_ms={pct(gpio, 99):.2f} modbus_p99_ms={pct(modbus, 99):.2f} "
          f"modbus_115200_p99_ms={stated[115200]:.2f} modbus_19200_p99_ms={stated[19200]:.2f} "
          f"modbus_9600_p99_ms={stated[9600]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
