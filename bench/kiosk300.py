"""Benchmark: one kiosk with 300 slots on seven simulated RS-485 lock boards (the
kiosk300 board map over a socat pty pair): the controller's decision p99 with 16 doors held
open, a tap to the lock energised through the Modbus stack, and the kiosk process's memory.

Run: .venv/bin/python bench/kiosk300.py [--taps N]
Last line: kiosk300 decision_p99_ms=... tap_to_energised_p99_ms=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.modbus_tap_to_open import _controller, pct  # noqa: E402


def main() -> int:
    from firmware_py.board import BoardConfig, build_hardware
    from firmware_py.interfaces import CardTapped
    from locker_controller.api import TapResult

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taps", type=int, default=150)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockers-bench-300-"))
    hw = build_hardware(BoardConfig(None, readers=[], boardmap=REPO /
                                    "hardware/boardmaps/kiosk300.toml", pulse_s=0.05,
                                    max_coils=4, relay_max_on_s=1.0), sim=True)
    boards = hw.extras["sim_boards"]
    controller, uids = _controller(hw, work)
    results: queue.Queue = queue.Queue()
    controller.subscribe(lambda r: results.put(r) if isinstance(r, TapResult) else None)
    controller.start()
    decision, energised = [], []
    try:
        # 16 pupils stand at open doors (sprung doors pop open on release and stay open).
        for i in range(16):
            controller.inbox.put(CardTapped("arrival", uids[i], time.monotonic()))
            results.get(timeout=10)
        for i in range(16, 16 + args.taps):
            t0 = time.monotonic()
            controller.inbox.put(CardTapped("arrival", uids[i], t0))
            result = results.get(timeout=10)
            if result.slot is None:
                raise SystemExit(f"tap {i} did not open a slot: {result.outcome}")
            decision.append((result.decided_monotonic - t0) * 1000)
            deadline = time.monotonic() + 3
            while (on := boards.released_at.get(result.slot)) is None or on < t0:  # type: ignore[attr-defined]
                if time.monotonic() > deadline:
                    raise SystemExit(f"slot {result.slot} was never energised")
                time.sleep(0.0002)
            energised.append((on - t0) * 1000)
            boards.close_door(result.slot)  # type: ignore[attr-defined]  # keep 16 open
    finally:
        controller.stop()
        hw.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}; "
          "300 slots on 7 boards, 16 doors open, "
          f"{args.taps} taps")
    print(f"decision ms: p50={pct(decision, 50):.2f} p99={pct(decision, 99):.2f}")
    print(f"tap->energised ms (Modbus, pty): p50={pct(energised, 50):.2f} "
          f"p99={pct(energised, 99):.2f}")
    print(f"kiosk300 decision_p99_ms={pct(decision, 99):.2f} "
          f"tap_to_energised_p99_ms={pct(energised, 99):.2f} peak_rss_mb={rss_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
