"""Benchmark: the rush model (launcher/rush.py) for 1,500 pupils over 20 minutes at 5 kiosks
of 300 slots: the p95 queue wait, and the part of it the kiosk software causes (the same run
with the controller's latency set to zero, compared).

The controller's latency per tap is measured first with a real controller driving simulated
lock boards over the Modbus stack (bench/modbus_tap_to_open.py's path, 45 taps): the mean
tap -> lock energised time becomes the model's software time a tap. ``--software-ms MS``
skips the measurement and takes MS instead (3.0 is bench/tap_to_open.py's reader_to_relay
p99 of 1.98 ms plus about a millisecond for a Modbus coil write).

Run: .venv/bin/python bench/rush.py [--software-ms MS] [--readers N]
Last line: rush morning_p95_s=... morning_software_s=... home_p95_s=... home_software_s=...
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from launcher.rush import RushParams, describe, software_share  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--software-ms", type=float, default=None)
    parser.add_argument("--readers", type=int, default=1)
    parser.add_argument("--home-window-min", type=float, default=10.0)
    args = parser.parse_args()
    if args.software_ms is None:
        from bench.modbus_tap_to_open import modbus_path

        measured = modbus_path(45, Path(tempfile.mkdtemp(prefix="lockers-bench-rush-")))
        args.software_ms = statistics.fmean(measured)
        print(f"measured tap->lock energised (real controller, Modbus stack, 45 taps): mean "
              f"{args.software_ms:.2f} ms, max {max(measured):.2f} ms")
    base = RushParams(pupils=1500, kiosks=5, readers_per_kiosk=args.readers, window_s=20 * 60,
                      software_s=args.software_ms / 1000)
    t0 = time.monotonic()
    morning = software_share(base)
    home = software_share(replace(base, session="home", window_s=args.home_window_min * 60))
    wall = time.monotonic() - t0
    print(f"machine: {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} cores, "
          f"python {sys.version.split()[0]}; model wall time {wall:.2f} s for 4 runs")
    print(describe(morning))
    print(describe(home))
    print(f"rush morning_p95_s={morning.actual.p95:.1f} "
          f"morning_software_s={morning.p95_s:.3f} morning_max_s={morning.actual.max_wait:.1f} "
          f"home_p95_s={home.actual.p95:.1f} home_software_s={home.p95_s:.3f} "
          f"doors_open_max={max(morning.actual.most_doors_open, home.actual.most_doors_open)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
