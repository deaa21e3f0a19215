"""Benchmark: the real stack at full size, ``lockers simulate --preset secondary-1500``.

1,500 pupils, 5 kiosks of 300 slots, every kiosk's locks on seven simulated RS-485 lock boards
(the kiosk300 board map; pymodbus's server on a socat pty pair per kiosk), a whole day's taps
(morning and home time) through real controllers, the real broker and the real server.
Everything runs on this one machine, five kiosks in one Python process: the tap figures are
the machine's, not a Pi's (bench/kiosk300.py measures one kiosk alone).

Run: .venv/bin/python bench/secondary_1500.py [--speed 20] [--no-collect]
Last line: secondary_1500 wall_s=... phones_in_slots=... events_lost=... custody_mismatches=...
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from launcher.sim_presets import PRESETS
from launcher.simulate import SimOptions, Simulation, human


def main() -> int:
    """Run the full-size day and print its report and figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speed", type=float, default=None)
    parser.add_argument("--no-collect", action="store_true")
    args = parser.parse_args()
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # the report counts board faults
    options = dict(PRESETS["secondary-1500"])
    if args.speed:
        options["speed"] = args.speed
    started = time.monotonic()
    report = Simulation(SimOptions(collect=not args.no_collect, progress=False,
                                   **options)).run()  # type: ignore[arg-type]
    report["wall_s"] = round(time.monotonic() - started, 1)
    print(human(report))
    am = report["after_morning"]
    print(f"secondary_1500 wall_s={report['wall_s']} "
          f"phones_in_slots={am['phones_in_slots']}/{am['pupils_to_hand_in']} "
          f"events_lost={report['events_lost']} "
          f"custody_mismatches={am['custody_mismatches'] + report['custody_mismatches']} "
          f"tap_to_open_p99_ms={report['tap_to_open_ms']['p99']} "
          f"event_to_commit_p95_ms={report['event_to_commit_ms']['p95']} "
          f"board_faults={report['board_faults_raised']}")
    ok = (report["events_lost"] == 0 and report["custody_mismatches"] == 0
          and am["custody_mismatches"] == 0 and am["phones_in_slots"] == am["pupils_to_hand_in"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
