"""Benchmark: how long from a card on the reader to the relay energised, through the real
pcscd, the vpcd virtual reader, the reader service and the controller (sim pins).

Run: .venv/bin/python bench/tap_to_open.py [--taps N]
Last line: tap_to_open reader_to_relay_p99_ms=... card_to_relay_p50_ms=...
card_to_relay_p99_ms=... taps_per_s=...
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from firmware_py.sim.pcscd import IsolatedPcscd  # noqa: E402
from firmware_py.sim.vpcd_card import VirtualCard  # noqa: E402


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taps", type=int, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockers-bench-tap-"))
    pcscd = IsolatedPcscd(work / "pcscd")
    pcscd.start()
    os.environ.update(pcscd.environ())
    try:
        return run(args.taps, work, pcscd)
    finally:
        pcscd.stop()


def run(taps: int, work: Path, pcscd: IsolatedPcscd) -> int:
    from firmware_py.interfaces import CardTapped
    from launcher.kiosk import build_controller
    from locker_controller.api import TapResult
    from locker_controller.replica import PolicyReplica
    from locker_controller.store import KioskStore
    from lockers.cardhash import card_hash
    from lockers.clock import SystemClock
    from lockers.kiosk_config import KioskConfig, ReaderConfig, RelayConfig
    from lockers.wire import messages as m

    uids = [f"04{i:012X}" for i in range(1, taps + 200)]
    config = KioskConfig(site="bench", kiosk="k1", card_key="bench-key-123", state_dir=work,
                         pinmap=REPO / "hardware" / "pinmaps" / "sim60.toml",
                         readers=[ReaderConfig(role="arrival", name=pcscd.reader_names[0])],
                         relays=RelayConfig(pulse_s=0.05, max_coils=4, max_on_s=1.0),
                         tap_hold_off_s=0.0)
    now = SystemClock().now()
    today = now.date()
    # The kiosk alone, as after a restart without network: its stored replica decides.
    store = KioskStore(config.state_dir / "k1.sqlite3")
    PolicyReplica(store, "bench", "k1").apply_snapshot(m.PolicySnapshot(
        kiosk="k1", site="bench", version=1, generated_at=now,
        settings=m.KioskSettings(timezone="UTC"),
        days=[m.ReleaseDay(day=today + timedelta(days=d), school_day=True,
                           release_opens=dtime(23, 59, 58), release_closes=dtime(23, 59, 59))
              for d in range(2)],
        cards=[m.CardEntry(card=card_hash("bench-key-123", u), pupil_ref=f"P{i}",
                           first_name="Bench") for i, u in enumerate(uids)]))
    store.close()
    controller, world = build_controller(config, sim=True, connect=False)
    energised: dict[int, float] = {}
    relays = controller.hardware.bank.relays
    for slot, line in relays._lines.items():  # noqa: SLF001 - measure the pin, nothing else
        original = line.set

        def timed(on: bool, slot: int = slot,
                  original: Callable[[bool], None] = original) -> None:
            if on:
                energised[slot] = time.monotonic()
            original(on)

        line.set = timed  # type: ignore[method-assign]
    results: queue.Queue[TapResult] = queue.Queue()
    controller.subscribe(lambda r: results.put(r) if isinstance(r, TapResult) else None)
    controller.start()
    card = VirtualCard(port=pcscd.ports[0])
    reader_to_relay, card_to_relay = [], []
    try:
        # Through the real PC/SC stack: one pupil after another; doors free up as they go.
        t_start = time.monotonic()
        for i in range(taps):
            t0 = time.monotonic()
            card.present_uid(uids[i])
            result = results.get(timeout=5)
            if result.slot is None:
                raise SystemExit(f"tap {i} did not open a slot: {result.outcome}")
            deadline = time.monotonic() + 2
            while result.slot not in energised and time.monotonic() < deadline:
                time.sleep(0.0002)
            on = energised.pop(result.slot)
            reader_to_relay.append((on - result.read_monotonic) * 1000)
            card_to_relay.append((on - t0) * 1000)
            card.remove()
            world.open_door(result.slot)  # type: ignore[union-attr]
            world.put_item(result.slot)  # type: ignore[union-attr]
            world.close_door(result.slot)  # type: ignore[union-attr]
            _wait_removed(pcscd.reader_names[0])
        taps_per_s = taps / (time.monotonic() - t_start)

        # The controller alone, with 8 doors held open: decisions per second.
        for slot in range(51, 59):
            world.open_door(slot)  # type: ignore[union-attr]
        burst = 120
        t0 = time.monotonic()
        for i in range(burst):
            controller.deliver(CardTapped("arrival", uids[taps + i], time.monotonic()))
        for _ in range(burst):
            results.get(timeout=10)
        controller_rate = burst / (time.monotonic() - t0)
    finally:
        card.remove()
        controller.stop()
    print(f"machine: {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} cores, "
          f"python {sys.version.split()[0]}, taps={taps}, sqlite synchronous=FULL")
    print(f"reader->relay ms: p50={pct(reader_to_relay, 50):.2f} p95={pct(reader_to_relay, 95):.2f}"
          f" p99={pct(reader_to_relay, 99):.2f} max={max(reader_to_relay):.2f}")
    print(f"card->relay ms:   p50={pct(card_to_relay, 50):.1f} p95={pct(card_to_relay, 95):.1f}"
          f" p99={pct(card_to_relay, 99):.1f}")
    print(f"taps/s through pcscd (one reader, card on/off each time): {taps_per_s:.2f}")
    print(f"controller decisions/s with 8 doors open (taps injected): {controller_rate:.0f}")
    print(f"tap_to_open reader_to_relay_p99_ms={pct(reader_to_relay, 99):.2f} "
          f"card_to_relay_p50_ms={pct(card_to_relay, 50):.1f} "
          f"card_to_relay_p99_ms={pct(card_to_relay, 99):.1f} taps_per_s={taps_per_s:.2f} "
          f"controller_taps_per_s={controller_rate:.0f}")
    return 0


def _wait_removed(reader: str) -> None:
    from smartcard import scard

    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        state = scard.SCARD_STATE_UNAWARE
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            rc, states = scard.SCardGetStatusChange(ctx, 100, [(reader, state)])
            if rc == scard.SCARD_S_SUCCESS:
                if states[0][1] & scard.SCARD_STATE_EMPTY:
                    return
                state = states[0][1]
    finally:
        scard.SCardReleaseContext(ctx)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
